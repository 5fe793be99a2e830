import PonderCore

/// A left-to-right chain of additions and subtractions (`34+27-15+8`): a direct answer needs the whole sum at
/// once, the scratchpad `34+27=61, 61-15=46, 46+8=54` one small step at a time.
public struct ArithmeticChain: SyntheticTask {
    /// The task's name (`arithmetic`; `arithmetic-hard` for ``hard()``); problem ids start with it.
    public var name: String
    /// Operations per problem.
    public var operations: ClosedRange<Int>
    /// Range of the first operand.
    public var first: ClosedRange<Int>
    /// Range of the other operands.
    public var operand: ClosedRange<Int>
    /// Every running total stays in this range.
    public var totals: ClosedRange<Int>

    /// The configuration the R1-Zero feasibility experiment used (3–5 operations, 10–49 then 1–19, totals 0–99).
    public init(
        operations: ClosedRange<Int> = 3...5, first: ClosedRange<Int> = 10...49, operand: ClosedRange<Int> = 1...19,
        totals: ClosedRange<Int> = 0...99, name: String = "arithmetic"
    ) throws {
        self.name = name
        guard operations.lowerBound >= 1 else { throw TaskError.invalidParameter("operations must start at 1 or more, got \(operations)") }
        guard totals.contains(first.lowerBound) || totals.contains(first.upperBound) else {
            throw TaskError.invalidParameter("first operands \(first) lie outside the totals \(totals)")
        }
        self.operations = operations
        self.first = first
        self.operand = operand
        self.totals = totals
    }

    /// The hard split: the same chains with operands up to 24 instead of 19, so some problems need sums the
    /// training problems never showed. The GRPO-trained bundled model, at 99% on the training distribution, gets
    /// about 46% greedy here (docs/LOG.md), with a spread of difficulty across problems that test-time strategies
    /// can work on. (Longer chains are no use: the trained model writes at most five steps and scores 0% on six.)
    public static func hard() throws -> ArithmeticChain {
        try ArithmeticChain(operand: 1...24, name: "arithmetic-hard")
    }

    public func problem(seed: UInt64, index: Int) -> Problem {
        var r = random(seed: seed, index: index)
        var total = r.int(first)
        var expression = "\(total)"
        var terms = ["\(total)"]
        for _ in 0..<r.int(operations) {
            let x = r.int(operand)
            // Choose a sign that keeps the running total in range (addition when both do, half the time).
            let canAdd = totals.contains(total + x)
            let canSubtract = totals.contains(total - x)
            let add = canAdd && (!canSubtract || r.int(0...1) == 0)
            total += add ? x : -x
            expression += (add ? "+" : "-") + "\(x)"
            terms.append((add ? "+" : "-") + "\(x)")
        }
        return Problem(
            id: "\(name)/\(seed)/\(index)", prompt: "Compute \(expression).", answer: "\(total)", kind: .math,
            metadata: ["task": name, "expression": expression, "terms": terms.joined(separator: " ")])
    }

    public func steps(for problem: Problem) -> [String] {
        let terms = (problem.metadata["terms"] ?? "").split(separator: " ").map(String.init)
        guard var total = terms.first.flatMap({ Int($0) }) else { return [] }
        return terms.dropFirst().map { term in
            let x = Int(term.dropFirst())!
            let next = term.hasPrefix("+") ? total + x : total - x
            defer { total = next }
            return "\(total)\(term.prefix(1))\(x)=\(next)"
        }
    }
}
