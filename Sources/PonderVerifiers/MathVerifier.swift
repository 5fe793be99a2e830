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
        let goldAnswer = equivalence.cache?.goldAnswer(gold, make: Self.goldAnswer) ?? Self.goldAnswer(gold)
        guard let answer = extraction.answer else {
            // Several different boxes: a hedge, unless the gold answer has exactly that many parts
            // (`\boxed{(1, 2)}, \boxed{(2, 1)}` for a list of two pairs).
            if extraction.parts.count > 1, equivalence.partCount(goldAnswer) == extraction.parts.count {
                let joined = extraction.parts.joined(separator: ", ")
                return equivalence.compare(gold: goldAnswer, prediction: joined)
                    .prefixed("took the \(extraction.parts.count) boxes '\(joined)' as the parts of the \(extraction.parts.count)-part gold answer")
            }
            return .notEquivalent(extraction.explanation)
        }
        return equivalence.compare(gold: goldAnswer, prediction: answer)
            .prefixed("extracted '\(answer)' from \(extraction.explanation)")
    }

    /// The answer part of a reference: a GSM8K solution's `#### 42`, a MATH solution's `\boxed{}`
    /// (several different boxes, `\boxed{1} and \boxed{-2}`, are the parts of one answer: `1, -2`),
    /// or the string itself without math delimiters.
    public static func goldAnswer(_ reference: String) -> String {
        if let a = AnswerExtractor.gsm8k(reference) { return a }
        let boxes = AnswerExtractor.boxed(reference).map(AnswerExtractor.clean).filter { !$0.isEmpty }
        var distinct: [String] = []
        for b in boxes where !distinct.contains(where: { MathEquivalence.loose($0) == MathEquivalence.loose(b) }) {
            distinct.append(b)
        }
        if distinct.count > 1 { return distinct.joined(separator: ", ") }
        if let last = boxes.last { return last }
        let t = reference.trimmedText()
        return t.hasPrefix("$") || t.hasPrefix("\\(") || t.hasPrefix("\\[") ? AnswerExtractor.clean(t) : t
    }
}
