/// The result of checking an answer against a reference: equivalent, not equivalent, or undecided.
///
/// A verdict always carries a human-readable explanation of how it was reached, so a reward or an
/// evaluation report can say *why* an answer was marked right or wrong.
public struct Verdict: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The three possible outcomes of a check.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        /// The answer matches the reference.
        case equivalent
        /// The answer was understood and does not match the reference.
        case notEquivalent
        /// The verifier could not decide (unparseable input, work budget exhausted, undecidable form).
        case unknown
    }

    /// What the verifier decided.
    public var outcome: Outcome
    /// How the decision was reached, in one or more sentences.
    public var explanation: String

    /// Makes a verdict.
    public init(_ outcome: Outcome, _ explanation: String) {
        self.outcome = outcome
        self.explanation = explanation
    }

    /// An `equivalent` verdict with its explanation.
    public static func equivalent(_ explanation: String) -> Verdict { Verdict(.equivalent, explanation) }
    /// A `notEquivalent` verdict with its explanation.
    public static func notEquivalent(_ explanation: String) -> Verdict { Verdict(.notEquivalent, explanation) }
    /// An `unknown` verdict with its explanation.
    public static func unknown(_ explanation: String) -> Verdict { Verdict(.unknown, explanation) }

    /// `true` only when the outcome is `equivalent`.
    public var isEquivalent: Bool { outcome == .equivalent }

    /// The outcome followed by the explanation, e.g. `equivalent: 1/2 = 0.5 exactly`.
    public var description: String { "\(outcome.rawValue): \(explanation)" }

    /// Returns this verdict with `prefix` put before its explanation.
    public func prefixed(_ prefix: String) -> Verdict {
        Verdict(outcome, prefix.isEmpty ? explanation : prefix + "; " + explanation)
    }
}
