import PonderCore

/// Extracts final answers and decides whether two answers are the same, by the math verifier's equivalence
/// rather than string similarity: `1/2`, `0.5` and `\frac{1}{2}` are one answer.
public struct AnswerGrouping: Sendable {
    /// How a final answer is found in a solution.
    public var extractor: AnswerExtractor
    /// How two answers are compared (each is tried as the reference for the other).
    public var equivalence: MathEquivalence

    /// Makes a grouping with the verifier's default extraction policy and equivalence.
    public init(extractor: AnswerExtractor = AnswerExtractor(), equivalence: MathEquivalence = MathEquivalence()) {
        self.extractor = extractor
        self.equivalence = equivalence
    }

    /// The final answer of `solution`, or `nil` when none can be extracted.
    public func answer(of solution: String) -> String? { extractor.extract(solution).answer }

    /// Whether `a` and `b` are the same answer: equal after removing whitespace and `$`, or equivalent with either
    /// taken as the reference.
    public func equivalent(_ a: String, _ b: String) -> Bool {
        if Self.normalized(a) == Self.normalized(b) { return true }
        return equivalence.compare(gold: a, prediction: b).isEquivalent || equivalence.compare(gold: b, prediction: a).isEquivalent
    }

    static func normalized(_ s: String) -> String { String(s.filter { !$0.isWhitespace && $0 != "$" }) }
}
