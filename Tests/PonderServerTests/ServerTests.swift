import AsyncHTTPClient
import Foundation
import NIOHTTP1
import PonderCore
import PonderServer
import Testing

@Suite("OpenAI-compatible server")
struct ServerTests {
    static let model = "ponder-tiny-base"

    @Test func modelsHealthAndMetrics() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let models = try await http(.GET, s.base + "/v1/models")
        #expect(models.status == 200)
        let data = models.json["data"] as? [[String: Any]] ?? []
        #expect(data.map { $0["id"] as? String } == [Self.model])
        #expect(try await http(.GET, s.base + "/v1/models/\(Self.model)").status == 200)
        #expect(try await http(.GET, s.base + "/v1/models/other").status == 404)
        let health = try await http(.GET, s.base + "/health")
        #expect(health.status == 200 && health.json["status"] as? String == "ok")
        _ = try await http(.POST, s.base + "/v1/completions", json: ["model": Self.model, "prompt": question, "max_tokens": 4])
        let metrics = try await http(.GET, s.base + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("# TYPE ponder_requests_total counter"))
        #expect(metrics.body.contains(#"ponder_requests_total{route="/v1/completions",status="200"} 1"#))
        #expect(metrics.body.contains("ponder_request_duration_seconds_bucket"))
        #expect(metrics.body.contains("ponder_queue_depth 0"))
        let generated = metrics.body.split(separator: "\n").first { $0.hasPrefix("ponder_generated_tokens_total ") }
        #expect(Int(generated?.split(separator: " ").last ?? "") ?? 0 >= 1)
    }

    /// Greedy chat equals greedy text completion of the same rendered prompt, split at `</think>`.
    @Test func chatSplitsReasoningFromContent() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let chat = try await http(
            .POST, s.base + "/v1/chat/completions",
            json: [
                "model": Self.model, "messages": [["role": "user", "content": "Compute 12+7-3."]],
                "chat_template_kwargs": ["add_instruction": true], "max_tokens": 48, "temperature": 0, "logprobs": true,
            ])
        #expect(chat.status == 200, "\(chat.body)")
        let text = try await http(
            .POST, s.base + "/v1/completions",
            json: ["model": Self.model, "prompt": question + "<think>", "max_tokens": 48, "temperature": 0, "logprobs": 0])
        #expect(text.status == 200, "\(text.body)")
        let choice = (chat.json["choices"] as? [[String: Any]])?.first ?? [:]
        let message = choice["message"] as? [String: Any] ?? [:]
        let content = message["content"] as? String ?? "?"
        let reasoning = message["reasoning_content"] as? String
        #expect(message["reasoning"] as? String == reasoning)
        let raw = ((text.json["choices"] as? [[String: Any]])?.first?["text"] as? String) ?? "!"
        // The template opens <think>: the completion starts inside the reasoning.
        #expect(reasoning != nil)
        let rebuilt = (reasoning.map { $0 + "</think>" } ?? "") + content
        #expect(rebuilt == raw)
        #expect(!content.contains("</think>"))
        let usage = chat.json["usage"] as? [String: Any] ?? [:]
        let completionTokens = usage["completion_tokens"] as? Int ?? -1
        let reasoningTokens = (usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int ?? -1
        #expect(completionTokens >= 1 && completionTokens <= 48)
        #expect(reasoningTokens >= 0 && reasoningTokens <= completionTokens)
        #expect(reasoningTokens > 0 && reasoningTokens < completionTokens)
        #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as? Int ?? 0) + completionTokens)
        let logprobs = (choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]] ?? []
        #expect(logprobs.count == completionTokens)
        #expect(logprobs.allSatisfy { ($0["logprob"] as? Double ?? 1) <= 0 && $0["token"] is String })
        let textLogprobs = ((text.json["choices"] as? [[String: Any]])?.first?["logprobs"] as? [String: Any])?["token_logprobs"] as? [Double]
        #expect(textLogprobs?.count == completionTokens)
        #expect(chat.json["object"] as? String == "chat.completion")
        #expect((chat.json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
    }

    /// A stream carries the same text as the whole answer, in OpenAI's chunk shape, ending with usage and [DONE].
    @Test func streamingMatchesWholeAnswer() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let body: [String: Any] = [
            "model": Self.model, "messages": [["role": "user", "content": question]], "max_tokens": 40, "temperature": 0,
        ]
        let whole = try await http(.POST, s.base + "/v1/chat/completions", json: body)
        var streamed = body
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let stream = try await http(.POST, s.base + "/v1/chat/completions", json: streamed)
        #expect(stream.status == 200)
        let events = stream.events
        #expect(events.last == "[DONE]")
        let chunks = events.dropLast().compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        #expect(chunks.count == events.count - 1)
        #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" })
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.first?["role"] as? String == "assistant")
        let content = deltas.compactMap { $0["content"] as? String }.joined()
        let reasoning = deltas.compactMap { $0["reasoning_content"] as? String }.joined()
        let message = (whole.json["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any] ?? [:]
        #expect(content == message["content"] as? String)
        #expect(reasoning == (message["reasoning_content"] as? String ?? ""))
        let finishes = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
        #expect(finishes == [(whole.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String ?? "?"])
        let last = chunks.last ?? [:]
        #expect((last["choices"] as? [Any])?.isEmpty == true)
        let usage = last["usage"] as? [String: Any] ?? [:]
        let wholeUsage = whole.json["usage"] as? [String: Any] ?? [:]
        #expect(usage["prompt_tokens"] as? Int == wholeUsage["prompt_tokens"] as? Int)
        #expect((usage["completion_tokens"] as? Int ?? 0) >= 1)

        // Text completions stream too, and n = 3 gives three indices.
        let text = try await http(
            .POST, s.base + "/v1/completions",
            json: ["model": Self.model, "prompt": question, "max_tokens": 12, "n": 3, "seed": 5, "stream": true])
        let indices = Set(
            text.events.dropLast().compactMap {
                (((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["choices"] as? [[String: Any]])?.first?["index"]
                    as? Int
            })
        #expect(indices == [0, 1, 2])
        #expect(text.events.last == "[DONE]")
    }

    @Test func chatTemplateArgumentsReachTheTemplate() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        func promptTokens(_ kwargs: [String: Any]?) async throws -> Int {
            var body: [String: Any] = ["model": Self.model, "messages": [["role": "user", "content": "Compute 1+2."]], "max_tokens": 2]
            if let kwargs { body["chat_template_kwargs"] = kwargs }
            let r = try await http(.POST, s.base + "/v1/chat/completions", json: body)
            #expect(r.status == 200, "\(r.body)")
            return (r.json["usage"] as? [String: Any])?["prompt_tokens"] as? Int ?? -1
        }
        let plain = try await promptTokens(nil)
        // enable_thinking = false closes the pre-filled <think> at once: one more special token.
        #expect(try await promptTokens(["enable_thinking": false]) == plain + 1)
        #expect(try await promptTokens(["enable_thinking": true]) == plain)
        #expect(try await promptTokens(["add_instruction": true]) > plain + 5)
        let effort = try await http(
            .POST, s.base + "/v1/chat/completions",
            json: ["model": Self.model, "messages": [["role": "user", "content": question]], "max_tokens": 8, "reasoning_effort": "low"])
        #expect(effort.status == 200)
    }

    /// Two concurrent requests with different strategies: each gets its own strategy and budget.
    @Test func concurrentStrategiesDoNotInterfere() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let messages = [["role": "user", "content": question]]
        async let a = http(
            .POST, s.base + "/v1/chat/completions",
            json: [
                "model": Self.model, "messages": messages, "max_tokens": 24, "seed": 1,
                "ponder": ["strategy": "self-consistency", "n": 4],
            ])
        async let b = http(
            .POST, s.base + "/v1/chat/completions",
            json: ["model": "best-of-n-3/\(Self.model)", "messages": messages, "max_tokens": 24, "seed": 2])
        async let c = http(
            .POST, s.base + "/v1/chat/completions",
            json: [
                "model": Self.model, "messages": messages, "max_tokens": 24, "seed": 3,
                "ponder": ["strategy": "best-of-n", "n": 2, "scorer": "judge"],
            ])
        let (ra, rb, rc) = try await (a, b, c)
        #expect(rc.status == 200, "\(rc.body)")
        let pc = rc.json["ponder"] as? [String: Any] ?? [:]
        #expect(pc["strategy"] as? String == "best-of-n" && pc["budget"] as? Int == 2)
        #expect(ra.status == 200, "\(ra.body)")
        #expect(rb.status == 200, "\(rb.body)")
        let pa = ra.json["ponder"] as? [String: Any] ?? [:]
        let pb = rb.json["ponder"] as? [String: Any] ?? [:]
        #expect(pa["strategy"] as? String == "self-consistency" && pa["budget"] as? Int == 4)
        #expect(pb["strategy"] as? String == "best-of-n" && pb["budget"] as? Int == 3)
        #expect(pa["candidates"] as? [Int] == [4])
        #expect(pb["candidates"] as? [Int] == [3])
        #expect(rb.json["model"] as? String == "best-of-n-3/\(Self.model)")
        // The judge's calls are counted; self-consistency and best-of-n by vote (answer agreement over finished
        // samples) spend nothing on scoring.
        #expect(pa["scoring_tokens"] as? Int == 0)
        #expect(pb["scoring_tokens"] as? Int == 0)
        #expect((pc["scoring_tokens"] as? Int ?? 0) > 0)
        for r in [ra, rb] {
            let usage = r.json["usage"] as? [String: Any] ?? [:]
            let note = r.json["ponder"] as? [String: Any] ?? [:]
            #expect((usage["completion_tokens"] as? Int ?? 0) >= (note["generated_tokens"] as? Int ?? .max))
            #expect((r.json["choices"] as? [[String: Any]])?.count == 1)
        }
        // A streamed strategy answer, and a scorer that would read the answer key is refused.
        let streamed = try await http(
            .POST, s.base + "/v1/chat/completions",
            json: [
                "model": "cot/\(Self.model)", "messages": messages, "max_tokens": 16, "stream": true, "stream_options": ["include_usage": true],
            ])
        #expect(streamed.events.last == "[DONE]")
        #expect(streamed.body.contains(#""strategy":"cot""#))
        let oracle = try await http(
            .POST, s.base + "/v1/chat/completions",
            json: ["model": Self.model, "messages": messages, "ponder": ["strategy": "best-of-n", "scorer": "oracle"]])
        #expect(oracle.status == 400 && oracle.error["param"] as? String == "ponder.scorer")
    }

    @Test func errorsHaveOpenAIShapeAndStatus() async throws {
        let s = try await RunningServer.start(ServerConfiguration(port: 0, maxBodyBytes: 4096))
        defer { Task { await s.stop() } }
        let chat = s.base + "/v1/chat/completions"
        let messages = [["role": "user", "content": "hi"]]
        func expectError(_ r: HTTPResult, _ status: Int, param: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(r.status == status, "\(r.body)", sourceLocation: sourceLocation)
            #expect(r.error["message"] is String, sourceLocation: sourceLocation)
            #expect(r.error["type"] is String, sourceLocation: sourceLocation)
            if let param { #expect(r.error["param"] as? String == param, sourceLocation: sourceLocation) }
        }
        expectError(try await http(.POST, chat, raw: "{not json"), 400)
        expectError(try await http(.POST, chat, raw: "[1, 2]"), 400)
        expectError(try await http(.POST, chat, json: ["model": Self.model]), 400, param: "messages")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "max_tokens": "ten"]), 400, param: "max_tokens")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "n": -1]), 400, param: "n")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "n": 1_000_000]), 400, param: "n")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "max_tokens": 1 << 40]), 400, param: "max_tokens")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "temperature": 9]), 400, param: "temperature")
        expectError(
            try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "max_tokens": 4, "min_tokens": 5]), 400,
            param: "min_tokens")
        expectError(
            try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "min_tokens": 2, "stop": "x"]), 400,
            param: "min_tokens")
        expectError(try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "max_token": 5]), 400, param: "max_token")
        expectError(
            try await http(.POST, chat, json: ["model": Self.model, "messages": messages, "reasoning_effort": "extreme"]), 400,
            param: "reasoning_effort")
        expectError(
            try await http(.POST, chat, json: ["model": Self.model, "messages": [["role": "robot", "content": "x"]]]), 400,
            param: "messages[0].role")
        expectError(try await http(.POST, chat, json: ["model": "gpt-4", "messages": messages]), 404, param: "model")
        expectError(try await http(.GET, s.base + "/v1/nothing"), 404)
        expectError(try await http(.POST, chat, raw: String(repeating: " ", count: 8000)), 413)
        // A prompt that does not fit the context with its max_tokens.
        expectError(
            try await http(
                .POST, s.base + "/v1/completions", json: ["model": Self.model, "prompt": String(repeating: "1+1 ", count: 30), "max_tokens": 250]
            ), 400, param: "max_tokens")
        expectError(
            try await http(.POST, s.base + "/v1/completions", json: ["model": Self.model, "prompt": String(repeating: "1+1 ", count: 300)]), 400,
            param: "prompt")
        // The server survived all of it.
        #expect(try await http(.GET, s.base + "/health").status == 200)
    }

    @Test func apiKeyIsRequiredWhenSet() async throws {
        let s = try await RunningServer.start(ServerConfiguration(port: 0, apiKey: "sekret"))
        defer { Task { await s.stop() } }
        #expect(try await http(.GET, s.base + "/v1/models").status == 401)
        let wrong = try await http(.GET, s.base + "/v1/models", headers: ["Authorization": "Bearer nope"])
        #expect(wrong.status == 401 && wrong.error["type"] as? String == "authentication_error")
        #expect(try await http(.GET, s.base + "/v1/models", headers: ["Authorization": "Bearer sekret"]).status == 200)
    }

    /// A full queue answers 429; shutdown answers 503 to new requests while the one in flight finishes.
    @Test func queueFullAndGracefulDrain() async throws {
        // The first request must still be running when the second arrives: 256 samples of exactly 160 tokens
        // (`min_tokens` holds off the end token; 8 samples ending on their own finished first once decode steps got
        // faster).
        let s = try await RunningServer.start(ServerConfiguration(port: 0, maxQueuedRequests: 1, maxN: 256))
        let long: [String: Any] = ["model": Self.model, "prompt": question, "max_tokens": 160, "min_tokens": 160, "n": 256, "temperature": 1, "seed": 3]
        let first = Task { try await http(.POST, s.base + "/v1/completions", json: long) }
        while s.server.inFlight == 0 { try await Task.sleep(for: .milliseconds(2)) }
        let refused = try await http(.POST, s.base + "/v1/completions", json: ["model": Self.model, "prompt": "x", "max_tokens": 1])
        #expect(refused.status == 429 && refused.error["type"] as? String == "rate_limit_error")
        let stopping = Task { await s.stop() }
        while !s.server.isDraining { try await Task.sleep(for: .milliseconds(2)) }
        // The listener is still open while draining: new work is refused with 503.
        if s.server.inFlight > 0 {
            let late = try await http(.POST, s.base + "/v1/completions", json: ["model": Self.model, "prompt": "x", "max_tokens": 1])
            #expect(late.status == 503)
        }
        let answered = try await first.value
        #expect(answered.status == 200)
        #expect((answered.json["choices"] as? [Any])?.count == 256)
        #expect((answered.json["usage"] as? [String: Any])?["completion_tokens"] as? Int == 256 * 160, "every sample ran its 160 tokens")
        await stopping.value
        #expect(s.server.inFlight == 0)
    }
}
