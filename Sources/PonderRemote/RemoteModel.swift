import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PonderCore

/// A problem talking to a remote endpoint; the message names the URL and what it answered.
public enum RemoteError: Error, Sendable, CustomStringConvertible {
    /// The server answered with an error status (after any retries); `param` is the field its error names.
    case http(status: Int, url: String, message: String, param: String?)
    /// The answer was not the JSON the API promises.
    case malformedResponse(url: String, reason: String)
    /// The request did not finish within the timeout (after any retries).
    case timeout(url: String, seconds: Double)
    /// The connection failed (after any retries).
    case transport(url: String, reason: String)
    /// The operation needs a setting the model was not given.
    case unsupported(String)

    public var description: String {
        switch self {
        case .http(let status, let url, let message, _): "\(url) answered \(status): \(message)"
        case .malformedResponse(let url, let reason): "\(url) answered something that is not an OpenAI response: \(reason)"
        case .timeout(let url, let seconds): "\(url) did not answer within \(seconds) s"
        case .transport(let url, let reason): "could not reach \(url): \(reason)"
        case .unsupported(let m): m
        }
    }
}

/// A ``LanguageModel`` and ``RolloutSource`` over any OpenAI-compatible endpoint (vLLM, SGLang, llama.cpp's server,
/// `ponder serve`, hosted APIs), through AsyncHTTPClient.
///
/// - Chat prompts go to `/v1/chat/completions`; the answer's `reasoning_content` (or `reasoning`) comes back
///   inside `<think>…</think>` before the content, so Ponder's parsers and graders read it as from a local model.
/// - Text prompts, and any request with a ``CompletionRequest/continuation`` (a partial solution to extend), go
///   to `/v1/completions`; a chat prompt with a continuation is sent to `/v1/chat/completions` with the partial
///   answer as the last assistant message and `continue_final_message` (as vLLM and `ponder serve` take it).
/// - `n > 1` is sent as `n`; where a server returns fewer choices (many hosted APIs and llama.cpp ignore `n`), the
///   rest are requested in parallel, one completion each, and the model remembers to do so from then on.
/// - Log-probabilities: the sampled tokens' (`logprobs`), when the request asks for them; with
///   ``SamplingParameters/topLogprobs`` also the most likely tokens per position (`top_logprobs: k` on chat,
///   `logprobs: k` on text completions), parsed into ``Completion/topLogprobs`` from either response shape. What a
///   server reports is its own choice of distribution (vLLM's default, and `ponder serve`'s, is the raw one, before
///   temperature).
/// - Token ids: asked for with `return_token_ids` (vLLM, `ponder serve`); empty when a server does not send them.
/// - Transient failures (connection errors, timeouts, 408, 429, 5xx) are retried with exponential backoff and
///   jitter (honouring `Retry-After`); at most ``Options/maxConcurrentRequests`` requests are in flight at once.
public final class RemoteModel: LanguageModel, RolloutSource, @unchecked Sendable {
    /// Client settings.
    public struct Options: Sendable {
        /// Time allowed for one HTTP request.
        public var timeout: Duration
        /// Retries after the first try of a request.
        public var maxRetries: Int
        /// Delay before the first retry; it doubles each time (with up to 50% jitter).
        public var initialBackoff: Duration
        /// Longest delay between retries.
        public var maxBackoff: Duration
        /// Most HTTP requests in flight at once.
        public var maxConcurrentRequests: Int
        /// Send `n` as one request (`nil`: try, and fall back to parallel requests if the server returns fewer
        /// choices; `false`: always one request per completion).
        public var nativeN: Bool?
        /// Path (under the endpoint) that reloads weights from a directory, e.g. SGLang's `/update_weights_from_disk`;
        /// it receives `{"model_path": DIR}`. `nil`: ``weightsUpdated(directory:)`` throws.
        public var reloadPath: String?
        /// Ask for token ids with `return_token_ids` (vLLM, `ponder serve`). Turn off for servers that refuse unknown
        /// fields (OpenAI's own API does).
        public var requestTokenIDs: Bool

        /// Makes options.
        public init(
            timeout: Duration = .seconds(600), maxRetries: Int = 3, initialBackoff: Duration = .milliseconds(250),
            maxBackoff: Duration = .seconds(8), maxConcurrentRequests: Int = 16, nativeN: Bool? = nil, reloadPath: String? = nil,
            requestTokenIDs: Bool = true
        ) {
            self.requestTokenIDs = requestTokenIDs
            self.timeout = timeout
            self.maxRetries = maxRetries
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
            self.maxConcurrentRequests = maxConcurrentRequests
            self.nativeN = nativeN
            self.reloadPath = reloadPath
        }
    }

    /// The endpoint's base URL, ending in `/v1` (e.g. `http://127.0.0.1:8000/v1`).
    public let endpoint: String
    /// The model name sent with each request.
    public let apiModel: String
    public var name: String { apiModel }
    public let generationDefaults: GenerationDefaults
    /// Settings.
    public let options: Options
    private let apiKey: String?
    private let client: HTTPClient
    private let limiter: ConcurrencyLimiter
    private let nState = NSLock()
    private var nativeN: Bool?

    /// A model behind `endpoint` (a base URL such as `http://host:8000/v1`; a URL without `/v1` gets it added).
    public init(
        endpoint: String, apiModel: String, apiKey: String? = nil, generationDefaults: GenerationDefaults = GenerationDefaults(),
        options: Options = Options(), client: HTTPClient = RemoteModel.pooledClient
    ) throws {
        guard let url = URL(string: endpoint), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw RemoteError.unsupported("endpoint \(endpoint): not an http(s) URL")
        }
        guard options.maxConcurrentRequests >= 1 else { throw RemoteError.unsupported("maxConcurrentRequests must be at least 1") }
        guard options.maxRetries >= 0 else { throw RemoteError.unsupported("maxRetries must be >= 0") }
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/v1") { base += "/v1" }
        self.endpoint = base
        self.apiModel = apiModel
        self.apiKey = apiKey
        self.generationDefaults = generationDefaults
        self.options = options
        self.client = client
        self.limiter = ConcurrencyLimiter(limit: options.maxConcurrentRequests)
        self.nativeN = options.nativeN
    }

    /// The process-wide client remote models share by default: AsyncHTTPClient's `shared` client opens at most 8
    /// connections per host, which would cap ``Options/maxConcurrentRequests``; this one allows 512.
    public static let pooledClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 512)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    // MARK: LanguageModel

    public func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        try request.parameters.validate()
        let n = request.parameters.n
        let useNative = nState.withLock { nativeN } ?? true
        var first: CompletionResponse
        do {
            first = try await send(request, n: useNative ? n : 1)
        } catch RemoteError.http(400, _, _, "n"?) where useNative && n > 1 && options.nativeN == nil {
            // The server refuses n > 1: emulate it from now on.
            nState.withLock { nativeN = false }
            first = try await send(request, n: 1)
        }
        if first.completions.count >= n {
            first.completions = Array(first.completions.prefix(n))
            return first
        }
        if useNative && n > 1 && options.nativeN == nil { nState.withLock { nativeN = false } }
        // The server gave fewer choices than asked: request the rest one by one, in parallel.
        let missing = n - first.completions.count
        let rest = try await withThrowingTaskGroup(of: (Int, CompletionResponse).self) { group in
            for i in 0..<missing {
                var single = request
                if let seed = request.parameters.seed { single.parameters.seed = seed &+ UInt64(first.completions.count + i) }
                group.addTask { (i, try await self.send(single, n: 1)) }
            }
            var out = [CompletionResponse?](repeating: nil, count: missing)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
        for r in rest {
            first.completions += r.completions
            first.usage.completionTokens += r.usage.completionTokens
            first.usage.reasoningTokens += r.usage.reasoningTokens
            first.usage.cachedPromptTokens += r.usage.cachedPromptTokens
        }
        return first
    }

    // MARK: RolloutSource

    public var weightSync: WeightSync { .reloadFromDirectory }

    /// Sends the requests concurrently (within the concurrency limit); the server batches them.
    public func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        try await withThrowingTaskGroup(of: (Int, CompletionResponse).self) { group in
            for (i, r) in requests.enumerated() { group.addTask { (i, try await self.complete(r)) } }
            var out = [CompletionResponse?](repeating: nil, count: requests.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
    }

    /// Asks the server to load the weights in `directory` (``Options/reloadPath``).
    public func weightsUpdated(directory: String?) async throws {
        guard let path = options.reloadPath else {
            throw RemoteError.unsupported(
                "\(endpoint) has no weight reload path configured (Options.reloadPath, e.g. /update_weights_from_disk for SGLang)")
        }
        guard let directory else { throw RemoteError.unsupported("a remote model needs the directory of the new weights") }
        var base = endpoint
        base.removeLast(3)  // the reload path sits beside /v1
        _ = try await post(base + path, body: ["model_path": directory])
    }

    // MARK: Requests

    /// One HTTP request for `n` completions of `request`.
    func send(_ request: CompletionRequest, n: Int) async throws -> CompletionResponse {
        let p = request.parameters
        var body: [String: Any] = [
            "model": apiModel, "n": n, "max_tokens": p.maxTokens, "temperature": p.temperature, "top_p": p.topP,
        ]
        if let k = p.topK, k > 0 { body["top_k"] = k }
        if p.minP > 0 { body["min_p"] = p.minP }
        if !p.stop.isEmpty { body["stop"] = p.stop }
        if let seed = p.seed { body["seed"] = Int64(bitPattern: seed) }
        if let effort = Self.effort(p.thinking) { body["reasoning_effort"] = effort }
        if options.requestTokenIDs { body["return_token_ids"] = true }
        let chat: Bool
        switch request.prompt {
        case .chat(var messages):
            chat = true
            if !request.continuation.isEmpty {
                messages.append(.assistant(request.continuation))
                body["continue_final_message"] = true
                body["add_generation_prompt"] = false
            }
            body["messages"] = messages.map { m -> [String: Any] in
                var o: [String: Any] = ["role": m.role.rawValue, "content": m.content]
                if let r = m.reasoning { o["reasoning_content"] = r }
                return o
            }
            if p.logprobs || p.topLogprobs != nil { body["logprobs"] = true }
            if let k = p.topLogprobs { body["top_logprobs"] = k }
        case .text(let text):
            chat = false
            body["prompt"] = text + request.continuation
            if p.logprobs || p.topLogprobs != nil { body["logprobs"] = p.topLogprobs ?? 0 }
        }
        let url = endpoint + (chat ? "/chat/completions" : "/completions")
        let json = try await post(url, body: body)
        var response = try Self.parseResponse(
            json, chat: chat, url: url, continuesThinking: ThinkParser().opensReasoning(request.continuation))
        for i in response.completions.indices {
            if !p.logprobs { response.completions[i].logprobs = nil }
            if let k = p.topLogprobs, let positions = response.completions[i].topLogprobs {
                response.completions[i].topLogprobs = positions.map { var q = $0; q.top = Array(q.top.prefix(k)); return q }
            } else {
                response.completions[i].topLogprobs = nil
            }
        }
        return response
    }

    /// The `reasoning_effort` that stands for `budget`, when it is exactly one of the presets.
    static func effort(_ budget: ThinkingBudget?) -> String? {
        guard let budget, budget.minThinkingTokens == nil else { return nil }
        return ReasoningEffort.allCases.first { $0.budget == budget }?.rawValue
    }

    /// Parses a chat or text completion response.
    /// `continuesThinking`: the request's continuation leaves a `<think>` section open, so the completion starts
    /// inside it.
    static func parseResponse(_ json: [String: Any], chat: Bool, url: String, continuesThinking: Bool = false) throws -> CompletionResponse {
        guard let choices = json["choices"] as? [[String: Any]] else {
            throw RemoteError.malformedResponse(url: url, reason: "no `choices` array")
        }
        var completions: [(Int, Completion)] = []
        for (position, choice) in choices.enumerated() {
            let index = (choice["index"] as? Int) ?? position
            var text: String
            var reasoningText: String?
            var logprobs: [Double]?
            var positions: [PositionLogprobs]?
            if chat {
                guard let message = choice["message"] as? [String: Any] else {
                    throw RemoteError.malformedResponse(url: url, reason: "choice \(index) has no `message`")
                }
                text = (message["content"] as? String) ?? ""
                reasoningText = (message["reasoning_content"] as? String) ?? (message["reasoning"] as? String)
                if let r = reasoningText {
                    // Rebuild the raw text: the opening tag unless the prompt (a continuation) left thinking open,
                    // the closing tag unless the completion was cut off inside its thinking.
                    let truncated = choice["finish_reason"] as? String == "length" && text.isEmpty
                    text = (continuesThinking ? "" : "<think>") + r + (truncated ? "" : "</think>") + text
                }
                if let content = (choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]] {
                    logprobs = content.compactMap { ($0["logprob"] as? NSNumber)?.doubleValue }
                    positions = content.compactMap { entry -> PositionLogprobs? in
                        guard let token = entry["token"] as? String, let lp = (entry["logprob"] as? NSNumber)?.doubleValue else {
                            return nil
                        }
                        let top = (entry["top_logprobs"] as? [[String: Any]] ?? []).compactMap { alt -> TokenLogprob? in
                            guard let t = alt["token"] as? String, let l = (alt["logprob"] as? NSNumber)?.doubleValue else { return nil }
                            return TokenLogprob(token: t, logprob: l)
                        }
                        return PositionLogprobs(token: token, logprob: lp, top: top)
                    }
                }
            } else {
                guard let t = choice["text"] as? String else {
                    throw RemoteError.malformedResponse(url: url, reason: "choice \(index) has no `text`")
                }
                text = t
                let legacy = choice["logprobs"] as? [String: Any]
                if let values = legacy?["token_logprobs"] as? [Any] {
                    logprobs = values.compactMap { ($0 as? NSNumber)?.doubleValue }
                    if let tokens = legacy?["tokens"] as? [String], tokens.count == values.count {
                        // `top_logprobs`: one {token: logprob} object per position (or null), sorted here most likely
                        // first. It may hold the sampled token beside the k most likely (OpenAI's "up to logprobs + 1");
                        // `send` keeps the k asked for.
                        let tops = legacy?["top_logprobs"] as? [Any] ?? []
                        positions = tokens.indices.map { i in
                            let lp = (values[i] as? NSNumber)?.doubleValue ?? -.infinity
                            let entries = (i < tops.count ? tops[i] as? [String: Any] : nil) ?? [:]
                            let top = entries.compactMap { t, l in
                                (l as? NSNumber).map { TokenLogprob(token: t, logprob: $0.doubleValue) }
                            }
                                .sorted { ($0.logprob, $1.token) > ($1.logprob, $0.token) }
                            return PositionLogprobs(token: tokens[i], logprob: lp, top: top)
                        }
                    }
                }
            }
            let tokens = (choice["token_ids"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
            let finish = choice["finish_reason"] as? String
            let stop: StopReason
            if finish == "length" {
                let parsed = ThinkParser(startsInReasoning: continuesThinking).parse(text)
                stop = .length(inThinking: parsed.state == .truncated)
            } else if let s = choice["stop_reason"] as? String {
                stop = .stopString(s)
            } else if let t = (choice["stop_reason"] as? NSNumber)?.intValue {
                stop = .endOfSequence(token: t)
            } else {
                // The API does not say which end token it was.
                stop = .endOfSequence(token: tokens.last ?? -1)
            }
            completions.append((index, Completion(text: text, tokens: tokens, logprobs: logprobs, stop: stop, topLogprobs: positions)))
        }
        completions.sort { $0.0 < $1.0 }
        let u = json["usage"] as? [String: Any] ?? [:]
        func int(_ o: [String: Any]?, _ k: String) -> Int { (o?[k] as? NSNumber)?.intValue ?? 0 }
        let usage = Usage(
            promptTokens: int(u, "prompt_tokens"), completionTokens: int(u, "completion_tokens"),
            reasoningTokens: int(u["completion_tokens_details"] as? [String: Any], "reasoning_tokens"),
            cachedPromptTokens: int(u["prompt_tokens_details"] as? [String: Any], "cached_tokens"))
        // Spread the reported reasoning tokens over the completions in proportion to their length.
        var out = completions.map(\.1)
        if usage.reasoningTokens > 0 {
            let total = Swift.max(1, out.reduce(0) { $0 + ($1.text.hasPrefix("<think>") ? $1.text.count : 0) })
            for i in out.indices where out[i].text.hasPrefix("<think>") {
                out[i].reasoningTokens = usage.reasoningTokens * out[i].text.count / total
            }
        }
        let promptTokens = (json["prompt_token_ids"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? []
        return CompletionResponse(promptTokens: promptTokens, completions: out, usage: usage)
    }

    /// POSTs JSON with retries, backoff and the concurrency limit; returns the decoded JSON object.
    func post(_ url: String, body: [String: Any]) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        var attempt = 0
        while true {
            let outcome: Outcome = await limiter.run { await self.once(url, data) }
            switch outcome {
            case .success(let json): return json
            case .failure(let error, let retryAfter):
                guard attempt < options.maxRetries, Self.isTransient(error) else { throw error }
                let backoff = Swift.min(options.maxBackoff, options.initialBackoff * (1 << Swift.min(attempt, 20)))
                let jittered = backoff * Double.random(in: 0.5...1.0)
                try await Task.sleep(for: Swift.max(jittered, retryAfter ?? .zero))
                attempt += 1
            }
        }
    }

    enum Outcome: @unchecked Sendable {
        case success([String: Any])
        case failure(RemoteError, retryAfter: Duration?)
    }

    static func isTransient(_ error: RemoteError) -> Bool {
        switch error {
        case .timeout, .transport: return true
        case .http(let status, _, _, _): return status == 408 || status == 429 || status >= 500
        case .malformedResponse, .unsupported: return false
        }
    }

    private func once(_ url: String, _ data: Data) async -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: data))
        let seconds = options.timeout.components.seconds
        do {
            let response = try await client.execute(request, timeout: .seconds(seconds))
            let bytes = try await response.body.collect(upTo: 64 << 20)
            let object = try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))
            guard response.status.code < 400 else {
                let error = (object as? [String: Any])?["error"] as? [String: Any]
                let message = error?["message"] as? String ?? String(decoding: bytes.readableBytesView.prefix(500), as: UTF8.self)
                let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init).map { Duration.seconds($0) }
                return .failure(
                    .http(status: Int(response.status.code), url: url, message: message, param: error?["param"] as? String),
                    retryAfter: retryAfter)
            }
            guard let json = object as? [String: Any] else {
                return .failure(.malformedResponse(url: url, reason: "the body is not a JSON object"), retryAfter: nil)
            }
            return .success(json)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            return .failure(.timeout(url: url, seconds: Double(seconds)), retryAfter: nil)
        } catch {
            return .failure(.transport(url: url, reason: "\(error)"), retryAfter: nil)
        }
    }
}

/// Lets at most `limit` operations run at once; the others wait in order.
actor ConcurrencyLimiter {
    let limit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func run<T: Sendable>(_ operation: @Sendable () async -> T) async -> T {
        if running >= limit {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            running += 1
        }
        defer {
            if waiting.isEmpty { running -= 1 } else { waiting.removeFirst().resume() }
        }
        return await operation()
    }
}
