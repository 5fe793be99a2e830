import PonderCore
import PonderVerifiers

/// The oracle scorer: 1 when the verifier accepts a solution against the problem's reference answer, else 0.
///
/// For problems with a reference only (evaluation, or data generation where the answer is known). A prefix with
/// no extractable answer yet scores ``unfinishedScore``.
public struct VerifierScorer: Scorer {
    /// The verifier (math by default).
    public var verifier: any Verifier
    /// Score of an `unknown` verdict.
    public var unknownScore: Double
    /// Score of a partial solution without a final answer.
    public var unfinishedScore: Double
    /// Finds answers in prefixes.
    public var grouping: AnswerGrouping

    /// Makes an oracle scorer.
    public init(
        verifier: any Verifier = MathVerifier(), unknownScore: Double = 0, unfinishedScore: Double = 0.5,
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.verifier = verifier
        self.unknownScore = unknownScore
        self.unfinishedScore = unfinishedScore
        self.grouping = grouping
    }

    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        var scores: [Double] = []
        for s in solutions {
            let v = try await verifier.verify(s, against: context.problem)
            scores.append(v.outcome == .equivalent ? 1 : v.outcome == .unknown ? unknownScore : 0)
        }
        return ScoreBatch(scores: scores)
    }

    public func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        var scores: [Double] = []
        for p in prefixes {
            if grouping.answer(of: p) == nil {
                scores.append(unfinishedScore)
            } else {
                scores.append(try await scoreOutcomes([p], in: context).scores[0])
            }
        }
        return ScoreBatch(scores: scores)
    }
}
