import PonderCore
import PonderVerifiers

/// Honest token accounting for one search: every number is a sum of what the model reported.
///
/// `generatedTokens` counts the completion tokens of the strategy's own generation calls (samples, steps,
/// lookahead, revisions); `scoringTokens` the completion tokens spent by scorers and critics (rollouts, judge
/// answers, critiques). `prunedTokens` is the part of `generatedTokens` in text that reached no final candidate
/// (beams dropped, traces filtered out, lookahead). `model` is the field-by-field sum of every `Usage` reported.
public struct SearchUsage: Sendable, Hashable, Codable {
    /// Completion tokens of the strategy's own generation calls.
    public var generatedTokens: Int
    /// Completion tokens spent by scorers and critics.
    public var scoringTokens: Int
    /// Of `generatedTokens`, tokens in text that no final candidate contains.
    public var prunedTokens: Int
    /// Calls to `LanguageModel.complete`, generation and scoring together.
    public var modelCalls: Int
    /// Sum of every `Usage` the model reported (prompt, completion, reasoning, cached prompt tokens).
    public var model: Usage

    /// Makes a usage record.
    public init(generatedTokens: Int = 0, scoringTokens: Int = 0, prunedTokens: Int = 0, modelCalls: Int = 0, model: Usage = Usage()) {
        self.generatedTokens = generatedTokens
        self.scoringTokens = scoringTokens
        self.prunedTokens = prunedTokens
        self.modelCalls = modelCalls
        self.model = model
    }

    /// Generated plus scoring tokens: everything the model produced for this search.
    public var totalTokens: Int { generatedTokens + scoringTokens }

    /// Records a generation call of the strategy.
    public mutating func addGeneration(_ usage: Usage) {
        generatedTokens += usage.completionTokens
        modelCalls += 1
        model = model + usage
    }

    /// Records the cost of scoring (a scorer's or critic's calls).
    public mutating func addScoring(_ cost: ScoringCost) {
        scoringTokens += cost.usage.completionTokens
        modelCalls += cost.modelCalls
        model = model + cost.usage
    }

    /// Field-by-field sum.
    public static func + (a: SearchUsage, b: SearchUsage) -> SearchUsage {
        SearchUsage(
            generatedTokens: a.generatedTokens + b.generatedTokens, scoringTokens: a.scoringTokens + b.scoringTokens,
            prunedTokens: a.prunedTokens + b.prunedTokens, modelCalls: a.modelCalls + b.modelCalls, model: a.model + b.model)
    }
}
