import ArgumentParser
import PonderCore

/// Decoding settings from the command line, named as in the OpenAI API. Unset values follow the one default policy of
/// ``GenerationDefaults``: the model's `generation_config.json`, else temperature 1, top-p 1, 256 new tokens.
public struct SamplingOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Most new tokens per completion (default: the model's, else 256).") public var maxTokens: Int?
    @Option(name: .long, help: "Fewest new tokens per completion: end-of-sequence is not sampled before (default: none).")
    public var minTokens: Int?
    @Option(name: .long, help: "Sampling temperature, 0 = greedy (default: the model's generation config, else 1).")
    public var temperature: Double?
    @Option(name: .long, help: "Keep the k most likely tokens (default: the model's, else all).") public var topK: Int?
    @Option(name: .long, help: "Nucleus sampling threshold (default: the model's, else 1).") public var topP: Double?
    @Option(name: .long, help: "Drop tokens less likely than min-p × the most likely one (default: the model's, else 0).")
    public var minP: Double?
    @Option(name: .long, help: "Stop at this text (repeatable).") public var stop: [String] = []
    @Option(name: .long, help: "Random seed for reproducible samples.") public var seed: UInt64?
    @Option(name: .customLong("n"), help: "Completions per prompt.") public var n = 1
    @Option(name: .long, help: "Budget forcing: fewest thinking tokens (an early </think> becomes \"Wait\").")
    public var minThinkingTokens: Int?
    @Option(name: .long, help: "Budget forcing: most thinking tokens before </think> is forced.") public var maxThinkingTokens: Int?
    @Option(name: .long, help: "low, medium or high: a preset maximum thinking length (256, 1024, 4096 tokens).")
    public var reasoningEffort: ReasoningEffort?

    public init() {}

    /// The request's parameters, unset values taken from `defaults`.
    public func parameters(defaults: GenerationDefaults = GenerationDefaults()) -> SamplingParameters {
        var budget: ThinkingBudget? = reasoningEffort?.budget
        if minThinkingTokens != nil || maxThinkingTokens != nil {
            budget = ThinkingBudget(minThinkingTokens: minThinkingTokens, maxThinkingTokens: maxThinkingTokens ?? budget?.maxThinkingTokens)
        }
        return SamplingParameters(
            maxTokens: maxTokens ?? defaults.maxTokens, temperature: temperature ?? defaults.temperature, topK: topK ?? defaults.topK,
            topP: topP ?? defaults.topP, minP: minP ?? defaults.minP, stop: stop, seed: seed, n: n, thinking: budget,
            minTokens: minTokens)
    }

    public func validate() throws {
        do { try parameters().validate() } catch { throw ValidationError("\(error)") }
    }
}

extension ReasoningEffort: ExpressibleByArgument {}
