import PonderCore
import PonderVerifiers

/// The oracle scorer: 1 when the verifier accepts a solution against the problem's reference answer, else 0.
///
/// It reads the answer key (``ReferenceAnswers``, given when it is made), so accuracies obtained with it are upper
/// bounds that no user without the key can reach: reports label them so (``isOracle``). For evaluation and data
/// generation only. A prefix with no extractable answer yet scores ``unfinishedScore``.
public struct OracleScorer: Scorer {
    /// The reference answers, by problem id.
    public var references: ReferenceAnswers
    /// The verifier (math by default).
    public var verifier: any Verifier
    /// Score of an `unknown` verdict.
    public var unknownScore: Double
    /// Score of a partial solution without a final answer.
    public var unfinishedScore: Double
    /// Finds answers in prefixes.
    public var grouping: AnswerGrouping

    /// Makes an oracle scorer over `references`.
    public init(
        references: ReferenceAnswers, verifier: any Verifier = MathVerifier(), unknownScore: Double = 0, unfinishedScore: Double = 0.5,
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.references = references
        self.verifier = verifier
        self.unknownScore = unknownScore
        self.unfinishedScore = unfinishedScore
        self.grouping = grouping
    }

    public var isOracle: Bool { true }

    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        let problem = try references.problem(for: context.question)
        var scores: [Double] = []
        for s in solutions {
            let v = try await verifier.verify(s, against: problem)
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
