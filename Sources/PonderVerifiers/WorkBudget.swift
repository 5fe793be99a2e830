/// Deterministic limits on how much work one equivalence check may do.
///
/// There are no wall-clock alarms: every loop that can grow with its input spends units from
/// ``steps``; when they run out the check stops and answers `unknown`. The same input therefore
/// always gets the same verdict, on any machine and under any load.
public struct WorkBudget: Sendable, Hashable {
    /// Work units left (one unit ≈ one token, node visit or arithmetic operation).
    public var steps: Int
    /// Longest answer accepted, in UTF-8 bytes.
    public var maxInputLength: Int
    /// Largest absolute integer exponent evaluated exactly.
    public var maxExponent: Int
    /// Largest `n` for which `n!` and `binom(n, k)` are evaluated exactly.
    public var maxFactorial: Int
    /// Largest exact rational allowed, in bits of numerator plus denominator.
    public var maxBits: Int
    /// Random points used when comparing expressions with variables numerically.
    public var probePoints: Int
    /// Largest number of terms in a polynomial normal form.
    public var maxTerms: Int

    /// Makes a budget; the defaults finish any single check in well under a millisecond to a few ms.
    public init(
        steps: Int = 200_000, maxInputLength: Int = 4_000, maxExponent: Int = 10_000, maxFactorial: Int = 1_000,
        maxBits: Int = 100_000, probePoints: Int = 12, maxTerms: Int = 2_000
    ) {
        self.steps = steps
        self.maxInputLength = maxInputLength
        self.maxExponent = maxExponent
        self.maxFactorial = maxFactorial
        self.maxBits = maxBits
        self.probePoints = probePoints
        self.maxTerms = maxTerms
    }

    /// Spends `n` units; throws ``MathParseError/budgetExhausted`` when none are left.
    mutating func spend(_ n: Int) throws {
        steps -= n
        if steps < 0 { throw MathParseError.budgetExhausted }
    }
}

/// Tallies the work of budgeted passes, for tests that check every call stays within its ``WorkBudget``.
/// Not synchronised: one thread at a time.
final class WorkMeter: @unchecked Sendable {
    /// Budgeted passes run (each starts with a fresh budget).
    private(set) var passes = 0
    /// Work units spent over all passes (a charge refused for lack of budget included).
    private(set) var units = 0
    /// The most units any pass spent beyond its budget (the charge that was refused; that work was not done).
    private(set) var largestOverdraft = 0

    func record(_ spent: Int, of budget: Int) {
        passes += 1
        units += spent
        largestOverdraft = max(largestOverdraft, spent - budget)
    }

    func reset() {
        passes = 0
        units = 0
        largestOverdraft = 0
    }
}

/// Why an answer could not be parsed or evaluated. Internal: surfaces as an `unknown` verdict's text.
enum MathParseError: Error, Equatable, CustomStringConvertible {
    case tooLong(Int, limit: Int)
    case unexpectedEnd(String)
    case unexpected(String, expected: String)
    case unbalanced(String)
    case unsupported(String)
    case empty
    case budgetExhausted
    case notNumeric(String)

    var description: String {
        switch self {
        case .tooLong(let n, let limit): return "answer is \(n) bytes, over the \(limit)-byte limit"
        case .unexpectedEnd(let what): return "input ended where \(what) was expected"
        case .unexpected(let tok, let expected): return "unexpected '\(tok)' where \(expected) was expected"
        case .unbalanced(let s): return "unbalanced '\(s)'"
        case .unsupported(let s): return "unsupported notation '\(s)'"
        case .empty: return "empty answer"
        case .budgetExhausted: return "work budget exhausted"
        case .notNumeric(let s): return "'\(s)' has no numeric value"
        }
    }
}
