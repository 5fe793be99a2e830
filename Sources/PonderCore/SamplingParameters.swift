/// How much a reasoning model may think, in tokens of its `<think>` section.
public enum ReasoningEffort: String, Sendable, Hashable, Codable, CaseIterable {
    case low, medium, high

    /// The thinking budget this effort stands for (maximum thinking tokens: 256, 1024, 4096).
    public var budget: ThinkingBudget {
        switch self {
        case .low: ThinkingBudget(maxThinkingTokens: 256)
        case .medium: ThinkingBudget(maxThinkingTokens: 1024)
        case .high: ThinkingBudget(maxThinkingTokens: 4096)
        }
    }
}

/// Budget forcing (s1, Muennighoff et al. 2025): bounds on the length of the thinking section.
///
/// Past `maxThinkingTokens` the engine closes the thinking itself (`</think>`) and lets the model answer; before
/// `minThinkingTokens` an attempt to close it is replaced by `continuation` ("Wait") so the model thinks on.
public struct ThinkingBudget: Sendable, Hashable, Codable {
    /// Fewest thinking tokens before the model may close its thinking; `nil` for no minimum.
    public var minThinkingTokens: Int?
    /// Most thinking tokens before the engine closes the thinking; `nil` for no maximum.
    public var maxThinkingTokens: Int?
    /// Text appended instead of an early end of thinking.
    public var continuation: String

    /// Makes a budget.
    public init(minThinkingTokens: Int? = nil, maxThinkingTokens: Int? = nil, continuation: String = "Wait") {
        self.minThinkingTokens = minThinkingTokens
        self.maxThinkingTokens = maxThinkingTokens
        self.continuation = continuation
    }
}

/// Decoding settings for one request, as the OpenAI API names them where it can.
public struct SamplingParameters: Sendable, Hashable, Codable {
    /// Most new tokens per completion (thinking included).
    public var maxTokens: Int
    /// Fewest new tokens per completion: until a completion has this many, its end-of-sequence tokens are never
    /// sampled (vLLM's `min_tokens`). `nil` or 0 for no minimum. Stop strings cannot be combined with a minimum.
    public var minTokens: Int?
    /// Softmax temperature; 0 means greedy.
    public var temperature: Double
    /// Keep only the `topK` most likely tokens; `nil` or 0 keeps all.
    public var topK: Int?
    /// Keep the smallest set of tokens whose probability reaches `topP` (nucleus sampling); 1 keeps all.
    public var topP: Double
    /// Drop tokens less likely than `minP` × the most likely one; 0 keeps all.
    public var minP: Double
    /// Generation ends when the text contains one of these (the stop string is not part of the result).
    public var stop: [String]
    /// Seed for reproducible sampling; `nil` draws one.
    public var seed: UInt64?
    /// Completions per prompt (they share one prefill of the prompt).
    public var n: Int
    /// Whether to return per-token log-probabilities.
    public var logprobs: Bool
    /// OpenAI-style log-probabilities (``Completion/topLogprobs``): when set, each generated token reports its
    /// log-probability under the model's raw distribution (log-softmax of the logits, before temperature and
    /// truncation) and the `topLogprobs` most likely tokens there (0 for none). `nil` (the default) computes nothing.
    public var topLogprobs: Int?
    /// Bounds on thinking, if any.
    public var thinking: ThinkingBudget?
    /// DeepConf token confidences, and the online stop on low confidence, if any.
    public var confidence: ConfidenceStop?

    /// Makes parameters; the defaults sample at temperature 1 with no truncation.
    public init(
        maxTokens: Int = 256, temperature: Double = 1, topK: Int? = nil, topP: Double = 1, minP: Double = 0, stop: [String] = [],
        seed: UInt64? = nil, n: Int = 1, logprobs: Bool = false, thinking: ThinkingBudget? = nil, confidence: ConfidenceStop? = nil,
        topLogprobs: Int? = nil, minTokens: Int? = nil
    ) {
        self.minTokens = minTokens
        self.topLogprobs = topLogprobs
        self.confidence = confidence
        self.maxTokens = maxTokens
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.stop = stop
        self.seed = seed
        self.n = n
        self.logprobs = logprobs
        self.thinking = thinking
    }

    /// Greedy decoding (temperature 0).
    public static func greedy(maxTokens: Int = 256) -> SamplingParameters { SamplingParameters(maxTokens: maxTokens, temperature: 0) }

    /// Checks the values, naming the first that is out of range.
    public func validate() throws {
        func fail(_ field: String, _ value: Any, _ rule: String) -> PonderError {
            .invalidArgument("\(field) = \(value): \(rule)")
        }
        if maxTokens < 1 { throw fail("maxTokens", maxTokens, "must be at least 1") }
        if let m = minTokens {
            if m < 0 || m > maxTokens { throw fail("minTokens", m, "must be between 0 and maxTokens (\(maxTokens))") }
            if m > 0 && !stop.isEmpty { throw fail("minTokens", m, "cannot be combined with stop strings") }
        }
        if !(temperature >= 0) || !temperature.isFinite { throw fail("temperature", temperature, "must be a finite number >= 0") }
        if let k = topK, k < 0 { throw fail("topK", k, "must be >= 0") }
        if !(topP > 0 && topP <= 1) { throw fail("topP", topP, "must be in (0, 1]") }
        if !(minP >= 0 && minP <= 1) { throw fail("minP", minP, "must be in [0, 1]") }
        if n < 1 { throw fail("n", n, "must be at least 1") }
        if stop.contains("") { throw fail("stop", stop, "stop strings must not be empty") }
        if let k = topLogprobs, k < 0 { throw fail("topLogprobs", k, "must be >= 0") }
        if let c = confidence {
            if c.topLogprobs < 1 { throw fail("confidence.topLogprobs", c.topLogprobs, "must be at least 1") }
            if c.window < 1 { throw fail("confidence.window", c.window, "must be at least 1") }
            if let t = c.threshold, !t.isFinite { throw fail("confidence.threshold", t, "must be finite") }
        }
        if let b = thinking {
            if let lo = b.minThinkingTokens, lo < 0 { throw fail("minThinkingTokens", lo, "must be >= 0") }
            if let hi = b.maxThinkingTokens, hi < 0 { throw fail("maxThinkingTokens", hi, "must be >= 0") }
            if let lo = b.minThinkingTokens, let hi = b.maxThinkingTokens, lo > hi {
                throw fail("minThinkingTokens", lo, "must not exceed maxThinkingTokens (\(hi))")
            }
        }
    }
}

/// A problem with a request or an input value, shared by Ponder's targets.
public enum PonderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An argument is out of range; the message names it and its value.
    case invalidArgument(String)
    /// The prompt and completion do not fit the model's context.
    case contextOverflow(promptTokens: Int, maxTokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case .invalidArgument(let m): "invalid argument: \(m)"
        case .contextOverflow(let p, let m, let c):
            "the prompt has \(p) tokens; with maxTokens \(m) it needs \(p + m), more than the model's context of \(c) tokens"
        }
    }
}
