import PonderCore

/// Multi-digit addition or multiplication, solved column by column (addition) or by partial products
/// (multiplication).
public struct MultiDigit: SyntheticTask {
    /// The operation.
    public enum Operation: String, Sendable, Codable { case addition, multiplication }

    public var name: String { "multidigit-\(operation.rawValue)" }
    public var operation: Operation
    /// Digits of the first operand.
    public var digits: ClosedRange<Int>
    /// Digits of the second operand.
    public var otherDigits: ClosedRange<Int>

    /// Makes a task; digit counts must be between 1 and 9.
    public init(operation: Operation, digits: ClosedRange<Int> = 2...4, otherDigits: ClosedRange<Int>? = nil) throws {
        let other = otherDigits ?? digits
        guard digits.lowerBound >= 1, digits.upperBound <= 9, other.lowerBound >= 1, other.upperBound <= 9 else {
            throw TaskError.invalidParameter("digit counts must lie in 1...9, got \(digits) and \(other)")
        }
        self.operation = operation
        self.digits = digits
        self.otherDigits = other
    }

    func number(_ digits: Int, _ r: inout SeededRandom) -> Int {
        digits == 1 ? r.int(1...9) : r.int(Int(pow10(digits - 1))...Int(pow10(digits) - 1))
    }

    func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }

    public func problem(seed: UInt64, index: Int) -> Problem {
        var r = random(seed: seed, index: index)
        let a = number(r.int(digits), &r)
        let b = number(r.int(otherDigits), &r)
        let (symbol, value) = operation == .addition ? ("+", a + b) : ("*", a * b)
        return Problem(
            id: "\(name)/\(seed)/\(index)", prompt: "Compute \(a)\(symbol)\(b).", answer: "\(value)", kind: .math,
            metadata: ["task": name, "a": "\(a)", "b": "\(b)"])
    }

    public func steps(for problem: Problem) -> [String] {
        guard let a = Int(problem.metadata["a"] ?? ""), let b = Int(problem.metadata["b"] ?? "") else { return [] }
        switch operation {
        case .addition:
            // Column by column from the units, with the carry.
            var steps: [String] = []
            var carry = 0
            var x = a
            var y = b
            var place = 0
            while x > 0 || y > 0 || carry > 0 {
                let s = x % 10 + y % 10 + carry
                steps.append("\(x % 10)+\(y % 10)\(carry > 0 ? "+\(carry)" : "")=\(s), digit \(s % 10)" + (s >= 10 ? " carry 1" : ""))
                carry = s / 10
                x /= 10
                y /= 10
                place += 1
            }
            steps.append("\(a)+\(b)=\(a + b)")
            return steps
        case .multiplication:
            // One partial product per digit of b, then their sum.
            var partials: [Int] = []
            var steps: [String] = []
            var y = b
            var scale = 1
            while y > 0 {
                let p = a * (y % 10) * scale
                steps.append("\(a)*\(y % 10 * scale)=\(p)")
                partials.append(p)
                y /= 10
                scale *= 10
            }
            if partials.count > 1 { steps.append(partials.map(String.init).joined(separator: "+") + "=\(a * b)") }
            return steps
        }
    }
}
