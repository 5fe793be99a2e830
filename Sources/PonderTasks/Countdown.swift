import PonderCore
import PonderVerifiers

/// The countdown puzzle: reach a target with the given numbers (each used at most once) and + − × ÷.
/// Verified by evaluating the answer expression exactly, not by comparing numbers.
public struct Countdown: SyntheticTask {
    public var name: String { "countdown" }
    /// How many numbers a puzzle gives.
    public var numbers: ClosedRange<Int>
    /// Range of the given numbers.
    public var values: ClosedRange<Int>
    /// Range of targets.
    public var targets: ClosedRange<Int>

    /// Makes a task.
    public init(numbers: ClosedRange<Int> = 3...4, values: ClosedRange<Int> = 1...25, targets: ClosedRange<Int> = 10...200) throws {
        guard numbers.lowerBound >= 2 else { throw TaskError.invalidParameter("a countdown needs at least 2 numbers, got \(numbers)") }
        guard values.lowerBound >= 1 else { throw TaskError.invalidParameter("numbers must be positive, got \(values)") }
        self.numbers = numbers
        self.values = values
        self.targets = targets
    }

    public func problem(seed: UInt64, index: Int) -> Problem {
        var r = random(seed: seed, index: index)
        // Combine random numbers pairwise until one value is left; retry until the target is in range. The
        // recorded steps are a solution, so every puzzle is solvable.
        while true {
            let given = (0..<r.int(numbers)).map { _ in r.int(values) }
            var pool: [(value: Int, expression: String)] = given.map { ($0, "\($0)") }
            var steps: [String] = []
            while pool.count > 1 {
                let a = pool.remove(at: r.int(0...(pool.count - 1)))
                let b = pool.remove(at: r.int(0...(pool.count - 1)))
                let (hi, lo) = a.value >= b.value ? (a, b) : (b, a)
                var options: [(Int, String)] = [(hi.value + lo.value, "+"), (hi.value * lo.value, "*")]
                if hi.value > lo.value { options.append((hi.value - lo.value, "-")) }
                if lo.value > 1 && hi.value % lo.value == 0 { options.append((hi.value / lo.value, "/")) }
                let (value, op) = options[r.int(0...(options.count - 1))]
                steps.append("\(hi.value)\(op)\(lo.value)=\(value)")
                pool.append((value, "(\(hi.expression)\(op)\(lo.expression))"))
            }
            let target = pool[0].value
            guard targets.contains(target), !given.contains(target) else { continue }
            var solution = pool[0].expression
            if solution.hasPrefix("(") && solution.hasSuffix(")") { solution = String(solution.dropFirst().dropLast()) }
            let list = given.map(String.init).joined(separator: ", ")
            return Problem(
                id: "\(name)/\(seed)/\(index)", prompt: "Using the numbers \(list) (each at most once) and + - * /, make \(target).",
                answer: solution, kind: .math,
                metadata: [
                    "task": name, "numbers": given.map(String.init).joined(separator: " "), "target": "\(target)",
                    "steps": steps.joined(separator: "|"),
                ])
        }
    }

    /// The tagged style, graded by evaluating the tagged expression exactly (``CountdownVerifier``).
    public var format: TaskFormat {
        TaskFormat(name: name, style: .tagged, verifier: CountdownVerifier(policy: TaskFormat.extractionPolicy(for: .tagged)))
    }

    public func steps(for problem: Problem) -> [String] {
        (problem.metadata["steps"] ?? "").split(separator: "|").map(String.init)
    }
}

/// Checks a countdown answer: the expression must evaluate exactly to the target and use only the given numbers,
/// each at most as often as given.
public struct CountdownVerifier: Verifier {
    let extractor: AnswerExtractor

    /// A verifier reading the answer expression where `policy` finds it.
    public init(policy: ExtractionPolicy = ExtractionPolicy()) { extractor = AnswerExtractor(policy: policy) }

    public func verify(_ completion: String, against problem: Problem) async throws -> Verdict {
        guard let target = problem.metadata["target"].flatMap({ Int($0) }) else {
            throw TaskError.invalidParameter("problem \(problem.id) is not a countdown problem (no target)")
        }
        let given = (problem.metadata["numbers"] ?? "").split(separator: " ").compactMap { Int($0) }
        guard let answer = extractor.extract(completion).answer else { return .notEquivalent("no answer found") }
        return Self.check(answer, target: target, numbers: given)
    }

    /// The verdict for expression `answer`.
    public static func check(_ answer: String, target: Int, numbers: [Int]) -> Verdict {
        var parser = ExpressionParser(answer.replacingOccurrences(of: "×", with: "*").replacingOccurrences(of: "÷", with: "/"))
        guard let (value, used) = parser.parse() else { return .notEquivalent("\"\(answer)\" is not an arithmetic expression of numbers") }
        var available = numbers
        for n in used {
            guard let i = available.firstIndex(of: n) else {
                return .notEquivalent("\(n) is not among the numbers \(numbers) (or is used too often)")
            }
            available.remove(at: i)
        }
        guard value.denominator == 1, value.numerator == target else { return .notEquivalent("\"\(answer)\" = \(value), not \(target)") }
        return .equivalent("\"\(answer)\" = \(target) using \(used)")
    }
}

/// A fraction with small integers, for exact countdown arithmetic.
struct SmallFraction: CustomStringConvertible {
    var numerator: Int
    var denominator: Int

    init(_ n: Int, _ d: Int = 1) {
        let g = Self.gcd(Swift.abs(n), Swift.abs(d))
        let s = d < 0 ? -1 : 1
        numerator = s * n / Swift.max(g, 1)
        denominator = s * d / Swift.max(g, 1)
    }

    static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// A recursive-descent parser for `+ - * /` and parentheses over non-negative integers, with overflow checks.
struct ExpressionParser {
    let chars: [Character]
    var i = 0
    var used: [Int] = []

    init(_ text: String) { chars = Array(text.filter { !$0.isWhitespace }) }

    mutating func parse() -> (SmallFraction, [Int])? {
        guard !chars.isEmpty, chars.count <= 200, let v = expression(depth: 0), i == chars.count else { return nil }
        return (v, used)
    }

    mutating func expression(depth: Int) -> SmallFraction? {
        guard var left = term(depth: depth) else { return nil }
        while i < chars.count, chars[i] == "+" || chars[i] == "-" {
            let op = chars[i]
            i += 1
            guard let right = term(depth: depth) else { return nil }
            guard let v = combine(left, right, op) else { return nil }
            left = v
        }
        return left
    }

    mutating func term(depth: Int) -> SmallFraction? {
        guard var left = factor(depth: depth) else { return nil }
        while i < chars.count, chars[i] == "*" || chars[i] == "/" {
            let op = chars[i]
            i += 1
            guard let right = factor(depth: depth) else { return nil }
            guard let v = combine(left, right, op) else { return nil }
            left = v
        }
        return left
    }

    mutating func factor(depth: Int) -> SmallFraction? {
        guard i < chars.count, depth < 50 else { return nil }
        if chars[i] == "(" {
            i += 1
            guard let v = expression(depth: depth + 1), i < chars.count, chars[i] == ")" else { return nil }
            i += 1
            return v
        }
        var digits = ""
        while i < chars.count, chars[i].isASCII, chars[i].isNumber, digits.count < 9 {
            digits.append(chars[i])
            i += 1
        }
        guard let n = Int(digits) else { return nil }
        used.append(n)
        return SmallFraction(n)
    }

    func combine(_ a: SmallFraction, _ b: SmallFraction, _ op: Character) -> SmallFraction? {
        func mul(_ x: Int, _ y: Int) -> Int? {
            let (r, o) = x.multipliedReportingOverflow(by: y)
            return o || Swift.abs(r) > 1 << 40 ? nil : r
        }
        switch op {
        case "+", "-":
            guard let l = mul(a.numerator, b.denominator), let r = mul(b.numerator, a.denominator),
                let d = mul(a.denominator, b.denominator)
            else { return nil }
            return SmallFraction(op == "+" ? l + r : l - r, d)
        case "*":
            guard let n = mul(a.numerator, b.numerator), let d = mul(a.denominator, b.denominator) else { return nil }
            return SmallFraction(n, d)
        default:
            guard b.numerator != 0, let n = mul(a.numerator, b.denominator), let d = mul(a.denominator, b.numerator) else { return nil }
            return SmallFraction(n, d)
        }
    }
}
