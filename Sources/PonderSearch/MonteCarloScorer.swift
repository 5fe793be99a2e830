import PonderCore
import PonderVerifiers

/// Process scorer by Monte Carlo rollouts (Math-Shepherd, Wang et al. 2024): the value of a partial solution is
/// the fraction of ``rollouts`` completions from it that the verifier accepts (soft estimation).
///
/// A finished solution (one with an extractable answer) is verified directly, without rollouts: 1 or 0. Needs a
/// problem with a reference answer. The rollouts' tokens are reported as scoring cost.
public struct MonteCarloScorer: Scorer {
    /// The policy that rolls out (usually the model being searched).
    public var model: any LanguageModel
    /// Rollouts per prefix (k).
    public var rollouts: Int
    /// Checks rollouts against the problem.
    public var verifier: any Verifier
    /// Decoding settings for rollouts (`n` is set to ``rollouts``).
    public var parameters: SamplingParameters
    /// Decides whether a text already has a final answer.
    public var grouping: AnswerGrouping

    /// Makes the scorer.
    public init(
        model: any LanguageModel, rollouts: Int = 8, verifier: any Verifier = MathVerifier(),
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.model = model
        self.rollouts = rollouts
        self.verifier = verifier
        self.parameters = parameters
        self.grouping = grouping
    }

    /// Scores finished solutions by the verifier: 1 when accepted, else 0.
    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        var scores: [Double] = []
        for s in solutions { scores.append(try await verifier.verify(s, against: context.problem).isEquivalent ? 1 : 0) }
        return ScoreBatch(scores: scores)
    }

    /// Scores each prefix by the success rate of `rollouts` completions from it.
    public func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try SearchError.require(rollouts >= 1, "rollouts", rollouts, "must be at least 1")
        var scores: [Double] = []
        var cost = ScoringCost()
        for prefix in prefixes {
            if grouping.answer(of: prefix) != nil {
                scores.append(try await scoreOutcomes([prefix], in: context).scores[0])
                continue
            }
            var p = parameters
            p.n = rollouts
            let response = try await model.complete(CompletionRequest(prompt: context.prompt, continuation: prefix, parameters: p))
            guard response.completions.count == rollouts else {
                throw SearchError.wrongCompletionCount(requested: rollouts, received: response.completions.count)
            }
            cost = cost + ScoringCost(usage: response.usage, modelCalls: 1)
            var correct = 0
            for c in response.completions where try await verifier.verify(prefix + c.text, against: context.problem).isEquivalent {
                correct += 1
            }
            scores.append(Double(correct) / Double(rollouts))
        }
        return ScoreBatch(scores: scores, cost: cost)
    }
}
