/// Why a completion ended.
public enum FinishReason: String, Sendable, Hashable, Codable {
    /// The model produced its end-of-sequence token or a stop string.
    case stop
    /// `maxTokens` was reached.
    case length
}

/// Which stop ended a completion: the finish reason, made precise.
public enum StopReason: Sendable, Hashable, Codable {
    /// The model emitted this end-of-sequence token.
    case endOfSequence(token: Int)
    /// The text reached this stop string (cut from the completion's text).
    case stopString(String)
    /// The token limit (`maxTokens`) was reached; `inThinking` when the model was still inside its thinking
    /// section, so it never wrote an answer.
    case length(inThinking: Bool)
    /// DeepConf's online stop (``SamplingParameters/confidence``): the mean token confidence of the last group of
    /// tokens fell below the request's threshold; `group` is that mean.
    case lowConfidence(group: Double)

    /// The OpenAI-style finish reason.
    public var finishReason: FinishReason {
        if case .length = self { return .length }
        return .stop
    }
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
    /// Per generated token: `true` when the model sampled it, `false` when the engine forced it in (budget forcing's
    /// "Wait", a forced `</think>`). Forced tokens are not the policy's choices: trainers give them no loss. Empty
    /// when the backend cannot tell (then every token counts as sampled).
    public var sampled: [Bool]
    /// Why generation ended, and which stop it was.
    public var stop: StopReason
    /// Tokens of this completion spent inside thinking.
    public var reasoningTokens: Int
    /// Per generated token, its log-probability and the most likely tokens at its position under the model's raw
    /// distribution, as the OpenAI API reports them, when the request asked
    /// (``SamplingParameters/topLogprobs``); else `nil`.
    public var topLogprobs: [PositionLogprobs]?
    /// Per generated token, DeepConf's token confidence (the negative mean of the top-k log-probabilities of the
    /// model's distribution), when the request asked for it (``SamplingParameters/confidence``); else `nil`.
    public var confidences: [Double]?

    /// Why generation ended, as the OpenAI API reports it.
    public var finishReason: FinishReason { stop.finishReason }

    /// Makes a completion.
    public init(
        text: String, tokens: [Int] = [], logprobs: [Double]? = nil, sampled: [Bool] = [], stop: StopReason = .length(inThinking: false),
        reasoningTokens: Int = 0, confidences: [Double]? = nil, topLogprobs: [PositionLogprobs]? = nil
    ) {
        self.confidences = confidences
        self.topLogprobs = topLogprobs
        self.text = text
        self.tokens = tokens
        self.logprobs = logprobs
        self.sampled = sampled
        self.stop = stop
        self.reasoningTokens = reasoningTokens
    }

    /// Whether token `i` was sampled by the model (true when the backend did not say).
    public func isSampled(_ i: Int) -> Bool { i < sampled.count ? sampled[i] : true }
}

/// A token and its log-probability, one of the alternatives at a generated position.
public struct TokenLogprob: Sendable, Hashable, Codable {
    /// The token's text (the token decoded alone).
    public var token: String
    /// The token id, when the backend reports it (the local engine does; OpenAI-compatible servers send text).
    public var id: Int?
    /// Its log-probability.
    public var logprob: Double

    /// Makes an entry.
    public init(token: String, id: Int? = nil, logprob: Double) {
        self.token = token
        self.id = id
        self.logprob = logprob
    }
}

/// Log-probabilities at one generated position, as the OpenAI API reports them (`logprobs.content[i]`).
///
/// Both come from the model's raw distribution: the log-softmax of its logits before temperature, top-k, top-p
/// and min-p (vLLM's default `logprobs_mode = raw_logprobs`, and what OpenAI reports), so they do not change with the
/// sampling settings. ``Completion/logprobs`` differs: it is under the temperature-scaled distribution, what
/// policy-gradient training needs; the two agree at temperature 1 and for greedy decoding.
public struct PositionLogprobs: Sendable, Hashable, Codable {
    /// The generated token's text (decoded alone).
    public var token: String
    /// Its id, when the backend reports it.
    public var id: Int?
    /// Its log-probability.
    public var logprob: Double
    /// The most likely tokens at this position, most likely first (``SamplingParameters/topLogprobs`` of them;
    /// empty when it is 0). The generated token is among them only when it ranks that high.
    public var top: [TokenLogprob]

    /// Makes a position.
    public init(token: String, id: Int? = nil, logprob: Double, top: [TokenLogprob] = []) {
        self.token = token
        self.id = id
        self.logprob = logprob
        self.top = top
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
    /// The prompt's token ids as the model saw them (template rendered, continuation appended, special tokens
    /// added), encoded once by the model; empty when the backend does not report them.
    public var promptTokens: [Int]
    /// `parameters.n` completions, in sample order.
    public var completions: [Completion]
    /// Token accounting.
    public var usage: Usage

    /// Makes a response.
    public init(promptTokens: [Int] = [], completions: [Completion], usage: Usage) {
        self.promptTokens = promptTokens
        self.completions = completions
        self.usage = usage
    }
}

/// Anything that completes prompts: the local engine, a remote OpenAI-compatible server, or a scripted fake.
/// Search strategies and evaluation depend on this protocol only.
public protocol LanguageModel: Sendable {
    /// A name for reports.
    var name: String { get }
    /// The model's own sampling defaults (its `generation_config.json`); see ``GenerationDefaults``.
    var generationDefaults: GenerationDefaults { get }
    /// Completes one request.
    func complete(_ request: CompletionRequest) async throws -> CompletionResponse
}

extension LanguageModel {
    public var generationDefaults: GenerationDefaults { GenerationDefaults() }
}

/// How fresh weights reach a sampler during on-policy training.
public enum WeightSync: String, Sendable, Hashable, Codable {
    /// The sampler computes with the trainer's own parameter tensors (the local engine): an update is visible at
    /// once; the sampler only drops what it cached under the old weights.
    case shared
    /// The sampler loads weights from a model directory the trainer writes after each update (a server's
    /// reload-from-disk endpoint).
    case reloadFromDirectory
}

/// What trainers sample from: a batch of requests in, rollout records out.
///
/// Each returned response is a rollout record: ``CompletionResponse/promptTokens`` (the prompt as encoded once by
/// the sampler), and per completion its token ids, per-token log-probabilities (when requested), the
/// sampled/forced mask and the ``StopReason``. Trainers consume ids from it and never re-tokenize. The local
/// `Engine` implements it; an engine behind HTTP can too, declaring how it takes new weights in ``weightSync``.
public protocol RolloutSource: Sendable {
    /// A name for logs.
    var name: String { get }
    /// How the sampler sees the policy's new weights.
    var weightSync: WeightSync { get }
    /// Runs `requests` together (one batch where the backend can) and returns one record per request, in order.
    func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse]
    /// Told after each optimizer update. `directory` holds the new weights as a model directory when
    /// ``weightSync`` is `.reloadFromDirectory`, and is `nil` for `.shared`.
    func weightsUpdated(directory: String?) async throws
}

/// The one sampling default policy: a value the request leaves unset comes from the model's
/// `generation_config.json` (as transformers and vLLM do), else from these fallbacks: temperature 1, top-p 1,
/// no top-k, no min-p, at most 256 new tokens (the local engine caps this at half its context).
public struct GenerationDefaults: Sendable, Hashable, Codable {
    public var temperature: Double
    public var topP: Double
    public var topK: Int?
    public var minP: Double
    public var maxTokens: Int

    /// The fallbacks, overridden by whatever the model's generation config gives.
    public init(temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil, minP: Double? = nil, maxTokens: Int? = nil) {
        self.temperature = temperature ?? 1
        self.topP = topP ?? 1
        self.topK = topK
        self.minP = minP ?? 0
        self.maxTokens = maxTokens ?? 256
    }
}
