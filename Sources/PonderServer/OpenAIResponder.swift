import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PonderCore
import PonderModels
import PonderSearch
import PonderTokenizers

/// Answers the server's routes; every failure becomes an OpenAI-shaped error (``APIError``).
public struct OpenAIResponder: HTTPResponder {
    public typealias Context = BasicRequestContext
    let server: OpenAIServer

    public func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let route = Self.route(request.uri.path)
        do {
            let response = try await handle(request, route: route, start: start)
            // Streamed responses count when they start (their status is already sent).
            server.metrics.count(route: route, status: response.status.code)
            if !response.isStreaming { server.metrics.latency.record(ContinuousClock.now - start) }
            return response
        } catch let error as APIError {
            server.metrics.count(route: route, status: error.status)
            return Self.errorResponse(error)
        } catch {
            server.metrics.count(route: route, status: 500)
            return Self.errorResponse(APIError(status: 500, message: "\(error)", type: "server_error"))
        }
    }

    static func route(_ path: String) -> String {
        switch path {
        case "/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics": return path
        default: return path.hasPrefix("/v1/models/") ? "/v1/models/{id}" : "other"
        }
    }

    func handle(_ request: Request, route: String, start: ContinuousClock.Instant) async throws -> Response {
        let path = request.uri.path
        switch (request.method, path) {
        case (.get, "/health"):
            if server.isDraining { return Self.json(["status": "draining"], status: .serviceUnavailable) }
            return Self.json(["status": "ok", "model": server.modelName])
        case (.get, "/metrics"):
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: server.metrics.text())))
        default: break
        }
        guard path.hasPrefix("/v1/") else { throw Self.noRoute(request) }
        try authorize(request)
        switch (request.method, path) {
        case (.get, "/v1/models"):
            return Self.json(["object": "list", "data": [modelObject()]])
        case (.get, _) where path.hasPrefix("/v1/models/"):
            let id = String(path.dropFirst("/v1/models/".count)).removingPercentEncoding ?? ""
            guard id == server.modelName else { throw Self.unknownModel(id) }
            return Self.json(modelObject())
        case (.post, "/v1/chat/completions"): return try await generate(request, endpoint: .chat, start: start)
        case (.post, "/v1/completions"): return try await generate(request, endpoint: .completion, start: start)
        case (_, "/v1/chat/completions"), (_, "/v1/completions"), (_, "/v1/models"):
            throw APIError(status: 405, message: "\(request.method) is not allowed on \(path)", type: "invalid_request_error", code: "method_not_allowed")
        default: throw Self.noRoute(request)
        }
    }

    func modelObject() -> [String: Any] {
        [
            "id": server.modelName, "object": "model", "created": server.created, "owned_by": "ponder",
            "max_model_len": server.engine.model.configuration.maxPositionEmbeddings,
        ]
    }

    static func noRoute(_ request: Request) -> APIError {
        APIError(status: 404, message: "no route \(request.method) \(request.uri.path)", type: "invalid_request_error", code: "not_found")
    }

    static func unknownModel(_ name: String) -> APIError {
        APIError(
            status: 404, message: "the model `\(name)` does not exist", type: "invalid_request_error", param: "model", code: "model_not_found")
    }

    func authorize(_ request: Request) throws {
        guard let key = server.configuration.apiKey else { return }
        guard let header = request.headers[.authorization] else {
            throw APIError(
                status: 401, message: "missing API key: send the header `Authorization: Bearer <key>`", type: "authentication_error",
                code: "invalid_api_key")
        }
        let given = Array((header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : header).utf8)
        let expected = Array(key.utf8)
        var difference = given.count == expected.count ? 0 : 1
        for i in 0..<min(given.count, expected.count) { difference |= Int(given[i] ^ expected[i]) }
        if difference != 0 { throw APIError(status: 401, message: "incorrect API key", type: "authentication_error", code: "invalid_api_key") }
    }

    /// Reads the body within the size and time limits.
    func readBody(_ request: Request) async throws -> [UInt8] {
        let limit = server.configuration.maxBodyBytes
        let tooLarge = APIError(
            status: 413, message: "the request body is larger than \(limit) bytes", type: "invalid_request_error", code: "request_too_large")
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw tooLarge }
        let timeout = server.configuration.bodyTimeout
        let body = request.body
        return try await withThrowingTaskGroup(of: [UInt8]?.self) { group in
            group.addTask {
                var bytes: [UInt8] = []
                for try await buffer in body {
                    if bytes.count + buffer.readableBytes > limit { throw tooLarge }
                    bytes += buffer.readableBytesView
                }
                return bytes
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let bytes = first else {
                throw APIError(
                    status: 408, message: "the request body did not arrive within \(timeout)", type: "invalid_request_error",
                    code: "request_timeout")
            }
            return bytes
        }
    }

    // MARK: Generation

    func generate(_ request: Request, endpoint: APIRequest.Endpoint, start: ContinuousClock.Instant) async throws -> Response {
        let body = try await readBody(request)
        let engine = server.engine
        let context = engine.model.configuration.maxPositionEmbeddings
        let parsed = try APIRequest.parse(
            body, endpoint: endpoint, servedModel: server.modelName, defaults: engine.generationDefaults,
            limits: .init(maxN: server.configuration.maxN, maxTokens: context))
        guard parsed.baseModel == server.modelName else { throw Self.unknownModel(parsed.baseModel) }
        let completionRequest = try makeCompletionRequest(parsed)
        let promptText: String
        do { promptText = try engine.promptText(completionRequest) } catch { throw Self.apiError(error) }
        let thinkParser = ThinkParser().continuing(promptText)
        // Refuse what cannot fit before anything is streamed.
        let addSpecial: Bool = { if case .text = completionRequest.prompt { return true } else { return false } }()
        let promptTokens = engine.tokenizer.encode(promptText, addSpecialTokens: addSpecial).count
        if promptTokens + completionRequest.parameters.maxTokens > context {
            let field = endpoint == .chat ? "messages" : "prompt"
            throw APIError.invalid(
                promptTokens >= context ? field : (parsed.endpoint == .chat ? "max_completion_tokens" : "max_tokens"),
                "the prompt has \(promptTokens) tokens; with max_tokens \(completionRequest.parameters.maxTokens) it needs "
                    + "\(promptTokens + completionRequest.parameters.maxTokens), more than the model's context of \(context) tokens")
        }
        let admission = try server.admit()
        // A streamed response releases its place when its body is written (or dropped).
        var handedOff = false
        defer { if !handedOff { admission.release() } }
        let id = (endpoint == .chat ? "chatcmpl-" : "cmpl-") + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let created = Int(Date().timeIntervalSince1970)
        let shape = ResponseShape(
            id: id, created: created, model: parsed.model, endpoint: endpoint, tokenizer: engine.tokenizer, thinkParser: thinkParser)

        if let spec = parsed.strategy {
            guard completionRequest.continuation.isEmpty else {
                throw APIError.invalid("continue_final_message", "a test-time strategy cannot continue a partial answer")
            }
            let results = try await runStrategy(spec, parsed: parsed, request: completionRequest)
            let seconds = (ContinuousClock.now - start).seconds
            let usage = results.reduce(Usage()) { $0 + $1.usage.model }
            server.metrics.generated(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, seconds: seconds)
            if parsed.stream {
                handedOff = true
                return streamStrategy(results, spec: spec, parsed: parsed, shape: shape, start: start, admission: admission)
            }
            return Self.json(shape.strategyResponse(results, spec: spec))
        }

        if parsed.stream {
            handedOff = true
            return streamCompletion(
                completionRequest, parsed: parsed, promptTokens: promptTokens, shape: shape, start: start, admission: admission)
        }
        let response: CompletionResponse
        do { response = try await engine.complete(completionRequest) } catch { throw Self.apiError(error) }
        let seconds = (ContinuousClock.now - start).seconds
        server.metrics.generated(promptTokens: response.usage.promptTokens, completionTokens: response.usage.completionTokens, seconds: seconds)
        return Self.json(shape.response(response, parsed: parsed))
    }

    /// The engine request: chat templates with `chat_template_kwargs` are rendered here (the engine's own rendering
    /// takes no template arguments).
    func makeCompletionRequest(_ parsed: APIRequest) throws -> CompletionRequest {
        let engine = server.engine
        var request = CompletionRequest(prompt: parsed.prompt, continuation: parsed.continuation, parameters: parsed.parameters)
        guard case .chat(let messages) = parsed.prompt else { return request }
        guard let template = engine.template else {
            throw APIError.invalid("messages", "model \(server.modelName) has no chat template; send a text prompt to /v1/completions")
        }
        guard !parsed.templateArguments.isEmpty else { return request }
        var text: String
        do { text = try template.render(messages, addGenerationPrompt: true, arguments: parsed.templateArguments) } catch {
            throw APIError.invalid("chat_template_kwargs", "the chat template failed with these arguments: \(error)")
        }
        // A text prompt gets the tokenizer's special prefix (e.g. BOS); a rendered template already holds it.
        let prefix = engine.tokenizer.encode("", addSpecialTokens: true)
        if !prefix.isEmpty {
            let prefixText = engine.tokenizer.decode(prefix)
            if text.hasPrefix(prefixText) { text.removeFirst(prefixText.count) }
        }
        request.prompt = .text(text)
        return request
    }

    func runStrategy(_ spec: StrategySpec, parsed: APIRequest, request: CompletionRequest) async throws -> [SearchResult] {
        let engine = server.engine
        let strategy = try spec.strategy(parameters: request.parameters, model: engine)
        let text: String
        switch parsed.prompt {
        case .text(let s): text = s
        case .chat(let messages): text = messages.last { $0.role == .user }?.content ?? messages.last?.content ?? ""
        }
        let question = Question(id: "request", prompt: text)
        let prompt = request.prompt
        do {
            return try await withThrowingTaskGroup(of: (Int, SearchResult).self) { group in
                for i in 0..<request.parameters.n {
                    group.addTask { (i, try await strategy.run(question: question, prompt: prompt, model: engine)) }
                }
                var results = [SearchResult?](repeating: nil, count: request.parameters.n)
                for try await (i, r) in group { results[i] = r }
                return results.map { $0! }
            }
        } catch { throw Self.apiError(error) }
    }

    static func apiError(_ error: Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? PonderError {
            switch e {
            case .contextOverflow: return APIError.invalid("max_tokens", e.description)
            case .invalidArgument(let m): return APIError.invalid(nil, m)
            }
        }
        return APIError(status: 500, message: "generation failed: \(error)", type: "server_error")
    }

    // MARK: Streaming

    func sseHeaders() -> HTTPFields { [.contentType: "text/event-stream", .cacheControl: "no-cache"] }

    func streamCompletion(
        _ request: CompletionRequest, parsed: APIRequest, promptTokens: Int, shape: ResponseShape, start: ContinuousClock.Instant,
        admission: Admission
    ) -> Response {
        let server = self.server
        let engine = server.engine
        let n = request.parameters.n
        return Response(
            status: .ok, headers: sseHeaders(),
            body: ResponseBody { writer in
                defer { admission.release() }
                var parsers = (0..<n).map { _ in ThinkStreamParser(shape.thinkParser) }
                // Log-probabilities not yet sent (their text is still held by the reasoning parser), and each
                // completion's text offset so far.
                var pending = [[PositionLogprobs]](repeating: [], count: n)
                var offsets = [Int](repeating: 0, count: n)
                var usage = Usage(promptTokens: promptTokens)
                var firstToken = true
                if parsed.endpoint == .chat {
                    for i in 0..<n { try await writer.write(shape.event(shape.chatChunk(index: i, delta: ["role": "assistant", "content": ""]))) }
                }
                do {
                    for try await chunk in engine.stream(request) {
                        if firstToken && !chunk.text.isEmpty {
                            firstToken = false
                            server.metrics.timeToFirstToken.record(ContinuousClock.now - start)
                        }
                        if let u = chunk.usage { usage = u }
                        pending[chunk.index] += chunk.logprobs
                        switch parsed.endpoint {
                        case .chat:
                            var d = parsers[chunk.index].feed(chunk.text)
                            if chunk.finishReason != nil {
                                let rest = parsers[chunk.index].finish()
                                d.reasoning += rest.reasoning
                                d.answer += rest.answer
                            }
                            func logprobs() -> Any {
                                guard parsed.logprobs else { return NSNull() }
                                defer { pending[chunk.index] = [] }
                                return shape.chatLogprobs(pending[chunk.index])
                            }
                            if !d.reasoning.isEmpty || !d.answer.isEmpty {
                                var delta: [String: Any] = [:]
                                if !d.reasoning.isEmpty {
                                    delta["reasoning_content"] = d.reasoning
                                    delta["reasoning"] = d.reasoning
                                }
                                if !d.answer.isEmpty { delta["content"] = d.answer }
                                try await writer.write(shape.event(shape.chatChunk(index: chunk.index, delta: delta, logprobs: logprobs())))
                            }
                            if let finish = chunk.finishReason {
                                try await writer.write(
                                    shape.event(
                                        shape.chatChunk(index: chunk.index, delta: [:], finish: finish.rawValue, logprobs: logprobs())))
                            }
                        case .completion:
                            if !chunk.text.isEmpty || chunk.finishReason != nil || !chunk.logprobs.isEmpty {
                                var logprobs: Any = NSNull()
                                if parsed.logprobs {
                                    let (object, next) = shape.textLogprobs(
                                        pending[chunk.index], offset: offsets[chunk.index], parsed: parsed)
                                    logprobs = object
                                    offsets[chunk.index] = next
                                    pending[chunk.index] = []
                                }
                                try await writer.write(
                                    shape.event(
                                        shape.textChunk(
                                            index: chunk.index, text: chunk.text, finish: chunk.finishReason?.rawValue, logprobs: logprobs)))
                            }
                        }
                    }
                } catch {
                    let e = Self.apiError(error)
                    try await writer.write(shape.event(e.body))
                    try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                    try await writer.finish(nil)
                    return
                }
                // The engine's exact accounting, from the request's last chunk: the same as a whole response's.
                server.metrics.generated(
                    promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
                    seconds: (ContinuousClock.now - start).seconds)
                if parsed.includeUsage { try await writer.write(shape.event(shape.usageChunk(usage, extra: nil))) }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
                server.metrics.latency.record(ContinuousClock.now - start)
            })
    }

    func streamStrategy(
        _ results: [SearchResult], spec: StrategySpec, parsed: APIRequest, shape: ResponseShape, start: ContinuousClock.Instant,
        admission: Admission
    ) -> Response {
        let server = self.server
        return Response(
            status: .ok, headers: sseHeaders(),
            body: ResponseBody { writer in
                defer { admission.release() }
                server.metrics.timeToFirstToken.record(ContinuousClock.now - start)
                for (i, r) in results.enumerated() {
                    switch parsed.endpoint {
                    case .chat:
                        let p = shape.thinkParser.parse(r.text)
                        try await writer.write(shape.event(shape.chatChunk(index: i, delta: ["role": "assistant", "content": ""])))
                        if let reasoning = p.reasoning, !reasoning.isEmpty {
                            try await writer.write(
                                shape.event(shape.chatChunk(index: i, delta: ["reasoning_content": reasoning, "reasoning": reasoning])))
                        }
                        try await writer.write(shape.event(shape.chatChunk(index: i, delta: ["content": p.answer])))
                        try await writer.write(shape.event(shape.chatChunk(index: i, delta: [:], finish: "stop")))
                    case .completion:
                        try await writer.write(shape.event(shape.textChunk(index: i, text: r.text, finish: "stop")))
                    }
                }
                if parsed.includeUsage {
                    let usage = results.reduce(Usage()) { $0 + $1.usage.model }
                    try await writer.write(shape.event(shape.usageChunk(usage, extra: shape.strategyNote(results, spec: spec))))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
                server.metrics.latency.record(ContinuousClock.now - start)
            })
    }

    // MARK: Encoding

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func errorResponse(_ error: APIError) -> Response {
        var response = json(error.body, status: HTTPResponse.Status(code: error.status))
        if error.status == 401 { response.headers[.wwwAuthenticate] = "Bearer" }
        if error.status == 429 || error.status == 503 { response.headers[.retryAfter] = "1" }
        return response
    }
}

extension Response {
    /// Whether the body is written later (server-sent events) rather than held in one buffer.
    var isStreaming: Bool { headers[.contentType] == "text/event-stream" }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Builds response bodies in OpenAI's shapes for one request.
struct ResponseShape: Sendable {
    let id: String
    let created: Int
    let model: String
    let endpoint: APIRequest.Endpoint
    let tokenizer: Tokenizer
    let thinkParser: ThinkParser

    func usageObject(_ u: Usage) -> [String: Any] {
        [
            "prompt_tokens": u.promptTokens, "completion_tokens": u.completionTokens, "total_tokens": u.promptTokens + u.completionTokens,
            "completion_tokens_details": ["reasoning_tokens": u.reasoningTokens],
            "prompt_tokens_details": ["cached_tokens": u.cachedPromptTokens],
        ]
    }

    func tokenStrings(_ c: Completion) -> [String] { c.tokens.map { tokenizer.decode([$0]) } }

    static func bytes(_ token: String) -> [Int] { Array(token.utf8).map(Int.init) }

    /// Chat-shaped log-probabilities (`{"content": [...]}`): per token its text, log-probability, UTF-8 bytes and
    /// `top_logprobs` alternatives, most likely first.
    func chatLogprobs(_ positions: [PositionLogprobs]) -> [String: Any] {
        [
            "content": positions.map { p -> [String: Any] in
                [
                    "token": p.token, "logprob": p.logprob, "bytes": Self.bytes(p.token),
                    "top_logprobs": p.top.map { t -> [String: Any] in ["token": t.token, "logprob": t.logprob, "bytes": Self.bytes(t.token)] },
                ]
            }
        ]
    }

    /// Legacy text-completion log-probabilities: parallel `tokens`, `token_logprobs`, `text_offset` (Unicode scalars
    /// into the completion, as Python counts characters, starting at `offset`) and `top_logprobs`: one
    /// `{token: logprob}` object per position holding the k most likely tokens and the sampled one (so up to k + 1
    /// entries, as OpenAI documents; tokens whose texts coincide keep the likelier entry), or `null` for
    /// `logprobs: 0`. Returns the next offset too (for streaming).
    func textLogprobs(_ positions: [PositionLogprobs], offset: Int, parsed: APIRequest) -> (object: [String: Any], next: Int) {
        var offsets: [Int] = []
        var next = offset
        for p in positions {
            offsets.append(next)
            next += p.token.unicodeScalars.count
        }
        var object: [String: Any] = [
            "tokens": positions.map(\.token), "token_logprobs": positions.map(\.logprob), "text_offset": offsets, "top_logprobs": NSNull(),
        ]
        if (parsed.parameters.topLogprobs ?? 0) > 0 {
            object["top_logprobs"] = positions.map { p -> [String: Double] in
                var entries: [String: Double] = [:]
                for t in p.top where entries[t.token] == nil { entries[t.token] = t.logprob }
                if entries[p.token] == nil { entries[p.token] = p.logprob }
                return entries
            }
        }
        return (object, next)
    }

    func response(_ r: CompletionResponse, parsed: APIRequest) -> [String: Any] {
        var choices: [[String: Any]] = []
        for (i, c) in r.completions.enumerated() {
            var choice: [String: Any] = ["index": i, "finish_reason": c.finishReason.rawValue]
            switch c.stop {
            case .stopString(let s): choice["stop_reason"] = s
            case .endOfSequence(let token): choice["stop_reason"] = token
            case .length, .lowConfidence: choice["stop_reason"] = NSNull()
            }
            let positions = c.topLogprobs ?? zip(tokenStrings(c), c.logprobs ?? []).map { PositionLogprobs(token: $0, logprob: $1) }
            switch endpoint {
            case .chat:
                let p = thinkParser.parse(c.text)
                var message: [String: Any] = ["role": "assistant", "content": p.answer]
                message["reasoning_content"] = (p.reasoning as Any?) ?? NSNull()
                message["reasoning"] = (p.reasoning as Any?) ?? NSNull()
                choice["message"] = message
                choice["logprobs"] = parsed.logprobs ? chatLogprobs(positions) : NSNull()
            case .completion:
                choice["text"] = c.text
                choice["logprobs"] = parsed.logprobs ? textLogprobs(positions, offset: 0, parsed: parsed).object : NSNull()
            }
            if parsed.returnTokenIDs { choice["token_ids"] = c.tokens }
            choices.append(choice)
        }
        var object: [String: Any] = [
            "id": id, "object": endpoint == .chat ? "chat.completion" : "text_completion", "created": created, "model": model,
            "choices": choices, "usage": usageObject(r.usage), "system_fingerprint": NSNull(),
        ]
        if parsed.returnTokenIDs { object["prompt_token_ids"] = r.promptTokens }
        return object
    }

    func strategyNote(_ results: [SearchResult], spec: StrategySpec) -> [String: Any] {
        let total = results.reduce(SearchUsage()) { $0 + $1.usage }
        return [
            "strategy": spec.name.rawValue, "budget": spec.budget, "answers": results.map { ($0.answer as Any?) ?? NSNull() },
            "candidates": results.map(\.candidates.count), "generated_tokens": total.generatedTokens, "scoring_tokens": total.scoringTokens,
            "pruned_tokens": total.prunedTokens, "model_calls": total.modelCalls,
        ]
    }

    func strategyResponse(_ results: [SearchResult], spec: StrategySpec) -> [String: Any] {
        let choices: [[String: Any]] = results.enumerated().map { i, r in
            var choice: [String: Any] = ["index": i, "finish_reason": "stop", "logprobs": NSNull()]
            switch endpoint {
            case .chat:
                let p = thinkParser.parse(r.text)
                choice["message"] = [
                    "role": "assistant", "content": p.answer, "reasoning_content": (p.reasoning as Any?) ?? NSNull(), "reasoning": (p.reasoning as Any?) ?? NSNull(),
                ]
            case .completion: choice["text"] = r.text
            }
            return choice
        }
        // Usage counts every token the strategy spent: all samples, and the judge's scoring calls.
        let usage = results.reduce(Usage()) { $0 + $1.usage.model }
        return [
            "id": id, "object": endpoint == .chat ? "chat.completion" : "text_completion", "created": created, "model": model,
            "choices": choices, "usage": usageObject(usage), "system_fingerprint": NSNull(), "ponder": strategyNote(results, spec: spec),
        ]
    }

    func chatChunk(index: Int, delta: [String: Any], finish: String? = nil, logprobs: Any = NSNull()) -> [String: Any] {
        [
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [["index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish ?? NSNull()] as [String: Any]],
        ]
    }

    func textChunk(index: Int, text: String, finish: String?, logprobs: Any = NSNull()) -> [String: Any] {
        [
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [["index": index, "text": text, "logprobs": logprobs, "finish_reason": finish ?? NSNull()] as [String: Any]],
        ]
    }

    func usageChunk(_ usage: Usage, extra: [String: Any]?) -> [String: Any] {
        var object: [String: Any] = [
            "id": id, "object": endpoint == .chat ? "chat.completion.chunk" : "text_completion", "created": created, "model": model,
            "choices": [Any](), "usage": usageObject(usage),
        ]
        if let extra { object["ponder"] = extra }
        return object
    }

    func event(_ object: [String: Any]) -> ByteBuffer {
        var data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        data = Data("data: ".utf8) + data + Data("\n\n".utf8)
        return ByteBuffer(bytes: data)
    }
}
