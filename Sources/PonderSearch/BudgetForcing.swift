import PonderCore
import PonderVerifiers

/// Budget forcing (s1, Muennighoff et al. 2025) and reasoning effort: one sample whose thinking length the engine
/// bounds through `SamplingParameters.thinking`.
///
/// The engine enforces the budget: past the maximum it closes the thinking itself; before the minimum it replaces
/// an early `</think>` with the budget's continuation ("Wait"). This strategy only sets the budget, per request.
public struct BudgetForcing: SearchStrategy {
    /// The thinking bounds sent with the request.
    public var budget: ThinkingBudget
    /// Decoding settings (`thinking` is replaced by ``budget``; `maxTokens` is raised to fit the maximum thinking
    /// plus ``answerTokens`` when it is smaller).
    public var parameters: SamplingParameters
    /// Tokens left for the answer after the most thinking allowed.
    public var answerTokens: Int
    /// How the answer is extracted.
    public var grouping: AnswerGrouping

    /// Makes the strategy for explicit bounds.
    public init(
        budget: ThinkingBudget, parameters: SamplingParameters = SamplingParameters(), answerTokens: Int = 256,
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.budget = budget
        self.parameters = parameters
        self.answerTokens = answerTokens
        self.grouping = grouping
    }

    /// Makes the strategy for a reasoning effort (low 256, medium 1024, high 4096 thinking tokens at most).
    public init(effort: ReasoningEffort, parameters: SamplingParameters = SamplingParameters(), answerTokens: Int = 256) {
        self.init(budget: effort.budget, parameters: parameters, answerTokens: answerTokens)
    }

    public var name: String { "budget-forcing" }

    /// The parameters sent: ``parameters`` with the budget and a `maxTokens` that fits it.
    public var effectiveParameters: SamplingParameters {
        var p = parameters
        p.thinking = budget
        p.n = 1
        if let hi = budget.maxThinkingTokens { p.maxTokens = max(p.maxTokens, hi + answerTokens) }
        return p
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try SearchError.require(answerTokens >= 1, "answerTokens", answerTokens, "must be at least 1")
        // One sample under the budget: chain of thought with the thinking bounds set.
        var result = try await ChainOfThought(parameters: effectiveParameters, grouping: grouping).run(
            question: question, prompt: prompt, model: model)
        result.strategy = name
        result.notes["maxThinkingTokens"] = budget.maxThinkingTokens.map(String.init) ?? "none"
        return result
    }
}
