/// Why a completion ended.
public enum FinishReason: String, Sendable, Hashable, Codable {
    /// The model produced its end-of-sequence token or a stop string.
    case stop
    /// `maxTokens` was reached.
    case length
}

/// Token accounting for a request, split as the OpenAI API reports it.
public struct Usage: Sendable, Hashable, Codable {
    /// Prompt tokens (counted once per prompt, however many samples share it).
    public var promptTokens: Int
    /// Tokens generated over all completions.
    public var completionTokens: Int
    /// Of those, tokens inside thinking sections.
    public var reasoningTokens: Int
    /// Prompt tokens served from a KV cache instead of being computed.
    public var cachedPromptTokens: Int

    /// Makes a usage record.
    public init(promptTokens: Int = 0, completionTokens: Int = 0, reasoningTokens: Int = 0, cachedPromptTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.reasoningTokens = reasoningTokens
        self.cachedPromptTokens = cachedPromptTokens
    }

    /// Field-by-field sum.
    public static func + (a: Usage, b: Usage) -> Usage {
        Usage(
            promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens,
            reasoningTokens: a.reasoningTokens + b.reasoningTokens, cachedPromptTokens: a.cachedPromptTokens + b.cachedPromptTokens)
    }
}

/// One generated continuation.
public struct Completion: Sendable, Hashable, Codable {
    /// The generated text (without the prompt or a matched stop string).
    public var text: String
    /// The generated token ids.
    public var tokens: [Int]
    /// Log-probability of each generated token under the sampling distribution (temperature-scaled), when requested.
    public var logprobs: [Double]?
    /// Why generation ended.
    public var finishReason: FinishReason
    /// Tokens of this completion spent inside thinking.
    public var reasoningTokens: Int

    /// Makes a completion.
    public init(text: String, tokens: [Int] = [], logprobs: [Double]? = nil, finishReason: FinishReason = .stop, reasoningTokens: Int = 0) {
        self.text = text
        self.tokens = tokens
        self.logprobs = logprobs
        self.finishReason = finishReason
        self.reasoningTokens = reasoningTokens
    }
}

/// What to continue: raw text, or a conversation rendered by the model's chat template.
public enum Prompt: Sendable, Hashable, Codable {
    case text(String)
    case chat([Message])
}

/// A request to a language model.
public struct CompletionRequest: Sendable, Hashable, Codable {
    /// The prompt.
    public var prompt: Prompt
    /// Text the assistant has already written; the model continues after it (step-level search extends partial
    /// solutions this way). The returned completions do not repeat it.
    public var continuation: String
    /// Decoding settings.
    public var parameters: SamplingParameters

    /// Makes a request.
    public init(prompt: Prompt, continuation: String = "", parameters: SamplingParameters = SamplingParameters()) {
        self.prompt = prompt
        self.continuation = continuation
        self.parameters = parameters
    }
}

/// The results of a request.
public struct CompletionResponse: Sendable, Hashable, Codable {
    /// `parameters.n` completions, in sample order.
    public var completions: [Completion]
    /// Token accounting.
    public var usage: Usage

    /// Makes a response.
    public init(completions: [Completion], usage: Usage) {
        self.completions = completions
        self.usage = usage
    }
}

/// Anything that completes prompts: the local engine, a remote OpenAI-compatible server, or a scripted fake.
/// Search strategies and evaluation depend on this protocol only.
public protocol LanguageModel: Sendable {
    /// A name for reports.
    var name: String { get }
    /// Completes one request.
    func complete(_ request: CompletionRequest) async throws -> CompletionResponse
}
