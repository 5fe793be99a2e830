import PonderCore

/// Verifies math completions: extracts the final answer under a policy, then compares it with the
/// problem's reference answer by ``MathEquivalence``.
public struct MathVerifier: Verifier {
    /// How the final answer is found in a completion.
    public var extractor: AnswerExtractor
    /// How answers are compared.
    public var equivalence: MathEquivalence

    /// Makes a verifier.
    public init(policy: ExtractionPolicy = ExtractionPolicy(), equivalence: MathEquivalence = MathEquivalence()) {
        extractor = AnswerExtractor(policy: policy)
        self.equivalence = equivalence
    }

    /// Verifies `completion` against a math problem; throws when the problem has no reference answer
    /// or is a code problem.
    public func verify(_ completion: String, against problem: Problem) async throws -> Verdict {
        guard case .math = problem.kind else {
            throw VerifierError.wrongProblemKind(problemID: problem.id, expected: "math")
        }
        guard let gold = problem.answer else { throw VerifierError.missingReference(problemID: problem.id) }
        return check(completion: completion, gold: gold)
    }

    /// Synchronous form of ``verify(_:against:)`` for a reference answer string.
    public func check(completion: String, gold: String) -> Verdict {
        let extraction = extractor.extract(completion)
        guard let answer = extraction.answer else { return .notEquivalent(extraction.explanation) }
        return equivalence.compare(gold: Self.goldAnswer(gold), prediction: answer)
            .prefixed("extracted '\(answer)' from \(extraction.explanation)")
    }

    /// The answer part of a reference: a GSM8K solution's `#### 42`, a MATH solution's last
    /// `\boxed{}`, or the string itself.
    public static func goldAnswer(_ reference: String) -> String {
        if let a = AnswerExtractor.gsm8k(reference) { return a }
        let boxes = AnswerExtractor.boxed(reference)
        if let last = boxes.last { return last }
        return reference.trimmedText()
    }
}
