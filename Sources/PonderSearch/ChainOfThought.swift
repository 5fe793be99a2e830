import PonderCore
import PonderVerifiers

/// Chain of thought: one sample, its answer taken as is. The baseline every other strategy is compared with.
public struct ChainOfThought: SearchStrategy {
    /// Decoding settings (`n` is ignored: one sample).
    public var parameters: SamplingParameters
    /// How the answer is extracted.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()) {
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { "chain-of-thought" }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try parameters.validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        let c = try await caller.sample(parameters, n: 1)[0]
        var trace = TraceBuilder()
        let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, isTerminal: true)
        let answer = grouping.answer(of: c.text)
        let candidate = Candidate(
            text: c.text, answer: answer, score: nil, tokens: c.tokens.count, node: node, isComplete: c.finishReason == .stop)
        return SearchResult(
            strategy: name, answer: answer, text: c.text, chosen: 0, candidates: [candidate], trace: trace.nodes, usage: caller.usage,
            notes: ["reasoningTokens": "\(c.reasoningTokens)"])
    }
}
