import PonderCore
import PonderVerifiers

/// Scores solutions: an outcome scorer judges finished solutions, a process scorer partial ones.
///
/// A partial solution is the text so far, ending with a step delimiter; its score is the value of its last step
/// (strategies aggregate the scores along a path). Scorers see a ``ScoringContext``: the question and prompt, never
/// the answer. Implementations: ``MonteCarloScorer`` (rollouts voted against their consensus, or an oracle against
/// references), ``JudgeScorer`` (model as judge), ``OracleScorer`` (the verifier with the answer key); a trained
/// outcome or process reward model conforms the same way.
public protocol Scorer: Sendable {
    /// Whether the scorer reads reference answers (given when it was made): results guided by it are upper bounds.
    var isOracle: Bool { get }
    /// Scores finished solutions.
    func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch
    /// Scores partial solutions (the value of each prefix). By default the outcome score of the prefix.
    func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch
}

extension Scorer {
    public var isOracle: Bool { false }

    public func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try await scoreOutcomes(prefixes, in: context)
    }

    /// Scores each step of one solution: the prefix score after every step.
    public func scoreSteps(_ steps: [String], in context: ScoringContext) async throws -> ScoreBatch {
        var prefixes: [String] = []
        var text = ""
        for s in steps {
            text += s
            prefixes.append(text)
        }
        return try await scorePrefixes(prefixes, in: context)
    }
}

extension Scorer {
    /// Scores and checks the count, so strategies can index the result safely.
    func checkedScores(_ texts: [String], outcome: Bool, in context: ScoringContext) async throws -> ScoreBatch {
        if texts.isEmpty { return ScoreBatch(scores: []) }
        let batch = try await outcome ? scoreOutcomes(texts, in: context) : scorePrefixes(texts, in: context)
        guard batch.scores.count == texts.count else {
            throw SearchError.wrongScoreCount(expected: texts.count, received: batch.scores.count)
        }
        return batch
    }
}
