import Foundation
import PonderCore
import PonderTokenizers

/// A chat or text completion request, parsed and checked field by field.
///
/// Parsing is strict: a field of the wrong type, out of range, or unknown to the API is a 400 that names it, so a
/// typo (`max_token`) is never silently ignored. Values the request leaves unset come from the model's generation
/// defaults.
public struct APIRequest: Sendable {
    /// Which route the request came to.
    public enum Endpoint: String, Sendable { case chat, completion }

    public var endpoint: Endpoint
    /// The `model` field as sent (a strategy prefix included).
    public var model: String
    /// The served model the request names (after any strategy prefix).
    public var baseModel: String
    /// What to continue.
    public var prompt: Prompt
    /// Assistant text to continue (`continue_final_message`).
    public var continuation: String
    /// Extra chat-template variables (`chat_template_kwargs`).
    public var templateArguments: [String: JinjaValue]
    /// Decoding settings (with `n`).
    public var parameters: SamplingParameters
    /// Server-sent events instead of one JSON body.
    public var stream: Bool
    /// `stream_options.include_usage`: a last chunk with usage and no choices.
    public var includeUsage: Bool
    /// Per-token log-probabilities asked for (with ``SamplingParameters/topLogprobs`` alternatives per token, in
    /// ``parameters``).
    public var logprobs: Bool
    /// `return_token_ids`: token ids of prompt and completions in the response (as vLLM returns them).
    public var returnTokenIDs: Bool
    /// Test-time compute asked for (body field `ponder` or a model-name prefix).
    public var strategy: StrategySpec?

    /// Limits on what one request may ask.
    public struct Limits: Sendable {
        /// Most completions per request (`n`).
        public var maxN: Int
        /// Most new tokens per completion.
        public var maxTokens: Int
        public init(maxN: Int, maxTokens: Int) {
            self.maxN = maxN
            self.maxTokens = maxTokens
        }
    }

    /// Most alternatives per token a request may ask for (`top_logprobs`, or `logprobs` on `/v1/completions`).
    public static let maxTopLogprobs = 20

    static let commonFields: Set<String> = [
        "model", "stream", "stream_options", "n", "max_tokens", "min_tokens", "temperature", "top_p", "top_k", "min_p", "seed", "stop", "logprobs",
        "user", "frequency_penalty", "presence_penalty", "logit_bias", "ponder", "return_token_ids", "best_of", "metadata", "store",
        "service_tier",
    ]
    static let chatFields: Set<String> = [
        "messages", "max_completion_tokens", "top_logprobs", "reasoning_effort", "chat_template_kwargs", "continue_final_message",
        "add_generation_prompt", "parallel_tool_calls", "response_format", "tools", "tool_choice",
    ]
    static let completionFields: Set<String> = ["prompt", "echo", "suffix"]

    /// Parses a request body sent to `endpoint`.
    /// - Throws: ``APIError`` (400) naming the first bad field.
    public static func parse(
        _ body: [UInt8], endpoint: Endpoint, servedModel: String, defaults: GenerationDefaults, limits: Limits
    ) throws -> APIRequest {
        if body.isEmpty { throw APIError.invalid(nil, "the request body is empty; send a JSON object") }
        guard let depth = JSONDepth.check(body, limit: 64) else {
            throw APIError.invalid(nil, "the request body nests JSON deeper than 64 levels")
        }
        _ = depth
        guard let text = String(validating: body, as: UTF8.self) else { throw APIError.invalid(nil, "the request body is not UTF-8") }
        let json: JinjaValue
        do { json = try JinjaValue.parse(json: text) } catch { throw APIError.invalid(nil, "the request body is not valid JSON: \(error)") }
        guard case .object(let members) = json else { throw APIError.invalid(nil, "the request body must be a JSON object") }
        var fields: [String: JinjaValue] = [:]
        for (k, v) in members { fields[k] = v }
        let known = commonFields.union(endpoint == .chat ? chatFields : completionFields)
        if let unknown = members.map(\.0).first(where: { !known.contains($0) }) {
            throw APIError.invalid(unknown, "unrecognized request argument supplied: \(unknown)")
        }
        let f = Fields(fields)

        // Model and strategy prefix.
        let model = try f.string("model", required: true)!
        let (prefixStrategy, base) = try StrategySpec.split(modelName: model)
        var strategy = try f.object("ponder").map { try StrategySpec.parse($0) }
        if let prefixStrategy {
            if strategy != nil { throw APIError.invalid("ponder", "give the strategy either in `model` (\(model)) or in `ponder`, not both") }
            strategy = prefixStrategy
        }

        // Prompt.
        var prompt: Prompt
        var continuation = ""
        var templateArguments: [String: JinjaValue] = [:]
        switch endpoint {
        case .chat:
            guard let raw = fields["messages"] else { throw APIError.invalid("messages", "messages is required") }
            var messages = try parseMessages(raw)
            if try f.bool("continue_final_message") ?? false {
                guard let last = messages.last, last.role == .assistant else {
                    throw APIError.invalid("continue_final_message", "continue_final_message needs an assistant message last")
                }
                if try f.bool("add_generation_prompt") == true {
                    throw APIError.invalid("add_generation_prompt", "add_generation_prompt and continue_final_message exclude each other")
                }
                continuation = last.content
                messages.removeLast()
            } else if try f.bool("add_generation_prompt") == false {
                throw APIError.invalid("add_generation_prompt", "add_generation_prompt = false is supported only with continue_final_message")
            }
            if messages.isEmpty { throw APIError.invalid("messages", "messages must not be empty") }
            prompt = .chat(messages)
            if let kwargs = try f.object("chat_template_kwargs") {
                for (k, v) in kwargs { templateArguments[k] = v }
            }
            if let tools = fields["tools"], tools != .null, tools != .array([]) {
                throw APIError.invalid("tools", "tool calling is not supported by this server")
            }
            if let choice = fields["tool_choice"], choice != .null, choice != .string("none"), choice != .string("auto") {
                throw APIError.invalid("tool_choice", "tool calling is not supported by this server")
            }
            if let format = fields["response_format"], format != .null, format["type"] != .string("text") {
                throw APIError.invalid("response_format", "only response_format {\"type\": \"text\"} is supported")
            }
            _ = try f.bool("parallel_tool_calls")
        case .completion:
            guard let raw = fields["prompt"] else { throw APIError.invalid("prompt", "prompt is required") }
            switch raw {
            case .string(let s): prompt = .text(s)
            case .array(let items) where items.count == 1:
                guard case .string(let s) = items[0] else {
                    throw APIError.invalid("prompt", "prompt must be a string (token-id prompts are not supported)")
                }
                prompt = .text(s)
            case .array: throw APIError.invalid("prompt", "send exactly one prompt per request")
            default: throw APIError.invalid("prompt", "prompt must be a string")
            }
            if try f.bool("echo") == true { throw APIError.invalid("echo", "echo is not supported") }
            if let s = try f.string("suffix"), !s.isEmpty { throw APIError.invalid("suffix", "suffix is not supported") }
        }

        // Sampling.
        var p = SamplingParameters(
            maxTokens: defaults.maxTokens, temperature: defaults.temperature, topK: defaults.topK, topP: defaults.topP, minP: defaults.minP)
        let maxTokensField = (fields["max_completion_tokens"] ?? .null) == .null ? "max_tokens" : "max_completion_tokens"
        if let m = try f.int(maxTokensField) {
            guard m >= 1, m <= limits.maxTokens else {
                throw APIError.invalid(maxTokensField, "\(maxTokensField) = \(m): must be between 1 and \(limits.maxTokens)")
            }
            p.maxTokens = m
        }
        if let m = try f.int("min_tokens") {
            guard m >= 0, m <= p.maxTokens else {
                throw APIError.invalid("min_tokens", "min_tokens = \(m): must be between 0 and \(maxTokensField) (\(p.maxTokens))")
            }
            p.minTokens = m
        }
        if let n = try f.int("n") {
            guard n >= 1, n <= limits.maxN else { throw APIError.invalid("n", "n = \(n): must be between 1 and \(limits.maxN)") }
            p.n = n
        }
        if let b = try f.int("best_of"), b != p.n { throw APIError.invalid("best_of", "best_of must equal n (\(p.n))") }
        if let t = try f.number("temperature") {
            guard t >= 0, t <= 2 else { throw APIError.invalid("temperature", "temperature = \(t): must be between 0 and 2") }
            p.temperature = t
        }
        if let t = try f.number("top_p") {
            guard t > 0, t <= 1 else { throw APIError.invalid("top_p", "top_p = \(t): must be in (0, 1]") }
            p.topP = t
        }
        if let k = try f.int("top_k") {
            guard k >= -1 else { throw APIError.invalid("top_k", "top_k = \(k): must be -1 or 0 (all tokens) or positive") }
            p.topK = k <= 0 ? nil : k
        }
        if let m = try f.number("min_p") {
            guard m >= 0, m <= 1 else { throw APIError.invalid("min_p", "min_p = \(m): must be in [0, 1]") }
            p.minP = m
        }
        if let s = try f.int("seed") { p.seed = UInt64(bitPattern: Int64(s)) }
        if let stop = fields["stop"] {
            switch stop {
            case .null: break
            case .string(let s): p.stop = [s]
            case .array(let items):
                p.stop = try items.map {
                    guard case .string(let s) = $0 else { throw APIError.invalid("stop", "stop must be a string or an array of strings") }
                    return s
                }
            default: throw APIError.invalid("stop", "stop must be a string or an array of strings")
            }
            if p.stop.count > 4 { throw APIError.invalid("stop", "stop takes at most 4 strings") }
            if p.stop.contains("") { throw APIError.invalid("stop", "stop strings must not be empty") }
            if !p.stop.isEmpty, (p.minTokens ?? 0) > 0 { throw APIError.invalid("min_tokens", "min_tokens cannot be combined with stop") }
        }
        for penalty in ["frequency_penalty", "presence_penalty"] {
            if let v = try f.number(penalty), v != 0 { throw APIError.invalid(penalty, "\(penalty) is not supported (only 0)") }
        }
        if let bias = try f.object("logit_bias"), !bias.isEmpty { throw APIError.invalid("logit_bias", "logit_bias is not supported") }
        _ = try f.string("user")
        _ = try f.bool("store")
        _ = try f.object("metadata")
        _ = try f.string("service_tier")

        // Log-probabilities: chat takes `logprobs: true` and `top_logprobs: k`, text completions `logprobs: k`;
        // k is at most 20 (OpenAI's chat limit, and vLLM's default `max_logprobs` for both routes).
        var logprobs = false
        var top = 0
        switch endpoint {
        case .chat:
            logprobs = try f.bool("logprobs") ?? false
            if let k = try f.int("top_logprobs") {
                guard k >= 0, k <= maxTopLogprobs else {
                    throw APIError.invalid("top_logprobs", "top_logprobs = \(k): must be between 0 and \(maxTopLogprobs)")
                }
                if !logprobs { throw APIError.invalid("top_logprobs", "top_logprobs needs logprobs = true") }
                top = k
            }
        case .completion:
            if let k = try f.int("logprobs") {
                guard k >= 0, k <= maxTopLogprobs else {
                    throw APIError.invalid("logprobs", "logprobs = \(k): must be between 0 and \(maxTopLogprobs)")
                }
                logprobs = true
                top = k
            }
        }
        p.logprobs = logprobs
        p.topLogprobs = logprobs ? top : nil

        // Thinking budget.
        if let effort = try f.string("reasoning_effort") {
            guard let e = ReasoningEffort(rawValue: effort) else {
                throw APIError.invalid("reasoning_effort", "reasoning_effort = \(effort): use low, medium or high")
            }
            p.thinking = e.budget
        }

        // Streaming.
        let stream = try f.bool("stream") ?? false
        var includeUsage = false
        if let options = try f.object("stream_options") {
            guard stream else { throw APIError.invalid("stream_options", "stream_options is only allowed when stream is true") }
            for (k, v) in options {
                guard k == "include_usage" else { throw APIError.invalid("stream_options.\(k)", "unrecognized stream option: \(k)") }
                guard case .bool(let b) = v else { throw APIError.invalid("stream_options.include_usage", "include_usage must be a boolean") }
                includeUsage = b
            }
        }
        if strategy != nil && logprobs {
            throw APIError.invalid("logprobs", "logprobs cannot be combined with a test-time strategy (its answer comes from many samples)")
        }
        return APIRequest(
            endpoint: endpoint, model: model, baseModel: base, prompt: prompt, continuation: continuation,
            templateArguments: templateArguments, parameters: p, stream: stream, includeUsage: includeUsage, logprobs: logprobs,
            returnTokenIDs: try f.bool("return_token_ids") ?? false, strategy: strategy)
    }

    static func parseMessages(_ raw: JinjaValue) throws -> [Message] {
        guard case .array(let items) = raw else { throw APIError.invalid("messages", "messages must be an array") }
        return try items.enumerated().map { i, item in
            let at = "messages[\(i)]"
            guard case .object = item else { throw APIError.invalid(at, "\(at) must be an object") }
            guard case .string(let roleName) = item["role"] ?? .null else { throw APIError.invalid("\(at).role", "\(at).role must be a string") }
            let role: Message.Role
            switch roleName {
            case "developer": role = .system
            default:
                guard let r = Message.Role(rawValue: roleName) else {
                    throw APIError.invalid("\(at).role", "\(at).role = \(roleName): use system, developer, user, assistant or tool")
                }
                role = r
            }
            var content = ""
            switch item["content"] ?? .null {
            case .string(let s): content = s
            case .null: guard role == .assistant else { throw APIError.invalid("\(at).content", "\(at).content is required") }
            case .array(let parts):
                for (j, part) in parts.enumerated() {
                    guard part["type"] == .string("text"), case .string(let t) = part["text"] ?? .null else {
                        throw APIError.invalid("\(at).content[\(j)]", "\(at).content[\(j)]: only text parts ({\"type\": \"text\", \"text\": ...}) are supported")
                    }
                    content += t
                }
            default: throw APIError.invalid("\(at).content", "\(at).content must be a string or an array of text parts")
            }
            var reasoning: String?
            for key in ["reasoning_content", "reasoning"] {
                switch item[key] ?? .null {
                case .null: break
                case .string(let s): reasoning = s
                default: throw APIError.invalid("\(at).\(key)", "\(at).\(key) must be a string")
                }
            }
            return Message(role: role, content: content, reasoning: reasoning)
        }
    }
}

/// Typed access to a request's fields; a wrong type is a 400 naming the field.
struct Fields {
    let values: [String: JinjaValue]
    init(_ values: [String: JinjaValue]) { self.values = values }

    func string(_ key: String, required: Bool = false) throws -> String? {
        switch values[key] ?? .null {
        case .null:
            if required { throw APIError.invalid(key, "\(key) is required") }
            return nil
        case .string(let s): return s
        default: throw APIError.invalid(key, "\(key) must be a string")
        }
    }

    func bool(_ key: String) throws -> Bool? {
        switch values[key] ?? .null {
        case .null: return nil
        case .bool(let b): return b
        default: throw APIError.invalid(key, "\(key) must be a boolean")
        }
    }

    func int(_ key: String) throws -> Int? {
        switch values[key] ?? .null {
        case .null: return nil
        case .int(let n): return n
        case .double(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        case .double(let d): throw APIError.invalid(key, "\(key) = \(d): must be an integer")
        default: throw APIError.invalid(key, "\(key) must be an integer")
        }
    }

    func number(_ key: String) throws -> Double? {
        switch values[key] ?? .null {
        case .null: return nil
        case .int(let n): return Double(n)
        case .double(let d) where d.isFinite: return d
        default: throw APIError.invalid(key, "\(key) must be a number")
        }
    }

    func object(_ key: String) throws -> [(String, JinjaValue)]? {
        switch values[key] ?? .null {
        case .null: return nil
        case .object(let m): return m
        default: throw APIError.invalid(key, "\(key) must be an object")
        }
    }
}

/// A cheap scan that refuses deeply nested JSON before the recursive parser sees it.
enum JSONDepth {
    /// The deepest nesting of `body`, or `nil` when it exceeds `limit`.
    static func check(_ body: [UInt8], limit: Int) -> Int? {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for b in body {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
                if depth > limit { return nil }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }
}
