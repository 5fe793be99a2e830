import Foundation
import PonderCore
import PonderModels
import PonderRemote
import PonderServer
import Testing

/// The bundled model with the fixture chat template and no prefix cache, so a repeated request reports the same
/// `cached_tokens` as the first (the shared engine's prefix cache would serve the repeat's prompt).
let uncachedEngine: Engine = {
    let options = Engine.Options(prefixCacheBytes: 0)
    let engine = try! Engine.load(repository.appendingPathComponent("Models/ponder-tiny-base"), options: options)
    let source = try! String(contentsOf: fixtures.appendingPathComponent("tiny-chat.jinja"), encoding: .utf8)
    return try! engine.replacingChatTemplate(source, origin: "tiny-chat.jinja", options: options)
}()

/// The JSON objects of a stream's `data:` events (without `[DONE]`).
func chunks(_ r: HTTPResult) -> [[String: Any]] {
    r.events.dropLast().compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
}

func choices(_ object: [String: Any]) -> [[String: Any]] { object["choices"] as? [[String: Any]] ?? [] }

/// JSON text with sorted keys, to compare decoded JSON values.
func canonical(_ value: Any) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}

/// Serialized: requests from concurrent tests would join the same batch, and a different batch rounds the last bits
/// of the log-probabilities differently (tokens stay the same).
@Suite("Log-probabilities and streamed usage", .serialized)
struct LogprobsTests {
    static let model = "ponder-tiny-base"

    /// `top_logprobs` on chat: k alternatives per token, most likely first, the sampled token's entry equal to its own
    /// log-probability; the stream carries the same entries and exactly the same usage as the whole response.
    @Test func chatTopLogprobsStreamedEqualWhole() async throws {
        let s = try await RunningServer.start(engine: uncachedEngine)
        defer { Task { await s.stop() } }
        let body: [String: Any] = [
            "model": Self.model, "messages": [["role": "user", "content": question]], "max_tokens": 32, "temperature": 0.8, "seed": 7,
            "n": 2, "logprobs": true, "top_logprobs": 3,
        ]
        let whole = try await http(.POST, s.base + "/v1/chat/completions", json: body)
        #expect(whole.status == 200, "\(whole.body)")
        var contents: [[[String: Any]]] = []
        var inTop = 0
        for choice in choices(whole.json) {
            let content = (choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]] ?? []
            contents.append(content)
            for entry in content {
                let top = entry["top_logprobs"] as? [[String: Any]] ?? []
                let values = top.compactMap { $0["logprob"] as? Double }
                #expect(top.count == 3 && values.count == 3)
                #expect(values == values.sorted(by: >), "most likely first")
                #expect(top.allSatisfy { $0["token"] is String && $0["bytes"] is [Int] })
                let token = entry["token"] as? String ?? "?"
                let logprob = entry["logprob"] as? Double ?? 1
                #expect(logprob <= 0)
                if let match = top.first(where: { $0["token"] as? String == token }) {
                    #expect(match["logprob"] as? Double == logprob)
                    inTop += 1
                } else {
                    #expect(logprob <= values.last ?? 0)
                }
            }
        }
        #expect(inTop > 0)
        let usage = whole.json["usage"] as? [String: Any] ?? [:]
        #expect(contents.reduce(0) { $0 + $1.count } == usage["completion_tokens"] as? Int)
        #expect(((usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int ?? 0) > 0)

        var streamedBody = body
        streamedBody["stream"] = true
        streamedBody["stream_options"] = ["include_usage": true]
        let stream = try await http(.POST, s.base + "/v1/chat/completions", json: streamedBody)
        #expect(stream.status == 200 && stream.events.last == "[DONE]")
        var streamed = [[[String: Any]]](repeating: [], count: 2)
        for chunk in chunks(stream) {
            for choice in choices(chunk) {
                guard let index = choice["index"] as? Int, let lp = choice["logprobs"] as? [String: Any] else { continue }
                streamed[index] += lp["content"] as? [[String: Any]] ?? []
            }
        }
        #expect(canonical(streamed) == canonical(contents), "streamed log-probabilities equal the whole response's")
        let streamedUsage = chunks(stream).last?["usage"] as? [String: Any] ?? [:]
        #expect(canonical(streamedUsage) == canonical(usage), "streamed usage \(streamedUsage) equals \(usage)")
    }

    /// `/v1/completions` with `logprobs: 2`: the legacy shape (tokens, token_logprobs, a {token: logprob} object per
    /// position with the two most likely and the sampled token, text_offset), streamed the same.
    @Test func legacyCompletionLogprobs() async throws {
        let s = try await RunningServer.start(engine: uncachedEngine)
        defer { Task { await s.stop() } }
        let body: [String: Any] = [
            "model": Self.model, "prompt": question + "<think>", "max_tokens": 24, "temperature": 1, "seed": 3, "logprobs": 2, "stop": ["+"],
        ]
        let whole = try await http(.POST, s.base + "/v1/completions", json: body)
        #expect(whole.status == 200, "\(whole.body)")
        let choice = choices(whole.json).first ?? [:]
        let lp = choice["logprobs"] as? [String: Any] ?? [:]
        let tokens = lp["tokens"] as? [String] ?? []
        let values = lp["token_logprobs"] as? [Double] ?? []
        let tops = lp["top_logprobs"] as? [[String: Double]] ?? []
        let offsets = lp["text_offset"] as? [Int] ?? []
        let usage = whole.json["usage"] as? [String: Any] ?? [:]
        #expect(tokens.count == usage["completion_tokens"] as? Int)
        #expect(values.count == tokens.count && tops.count == tokens.count && offsets.count == tokens.count)
        for i in tokens.indices {
            #expect(tops[i].count == 2 || tops[i].count == 3)
            #expect(tops[i][tokens[i]] == values[i], "the sampled token is always in its position's object")
            if i > 0 { #expect(offsets[i] == offsets[i - 1] + tokens[i - 1].unicodeScalars.count) }
        }
        #expect(offsets.first == 0)

        var streamedBody = body
        streamedBody["stream"] = true
        streamedBody["stream_options"] = ["include_usage": true]
        let stream = try await http(.POST, s.base + "/v1/completions", json: streamedBody)
        var streamedTokens: [String] = []
        var streamedValues: [Double] = []
        var streamedTops: [[String: Double]] = []
        var streamedOffsets: [Int] = []
        var text = ""
        for chunk in chunks(stream) {
            for c in choices(chunk) {
                text += c["text"] as? String ?? ""
                guard let l = c["logprobs"] as? [String: Any] else { continue }
                streamedTokens += l["tokens"] as? [String] ?? []
                streamedValues += l["token_logprobs"] as? [Double] ?? []
                streamedTops += l["top_logprobs"] as? [[String: Double]] ?? []
                streamedOffsets += l["text_offset"] as? [Int] ?? []
            }
        }
        #expect(text == choice["text"] as? String)
        #expect(streamedTokens == tokens && streamedValues == values && streamedTops == tops && streamedOffsets == offsets)
        let streamedUsage = chunks(stream).last?["usage"] as? [String: Any] ?? [:]
        #expect(canonical(streamedUsage) == canonical(usage), "streamed usage \(streamedUsage) equals \(usage)")
    }

    /// Streamed usage is the engine's count, not a re-encoding of the text: equal to the whole response for n = 3
    /// text completions, and for a strategy (every sample's tokens).
    @Test func streamedUsageIsExact() async throws {
        let s = try await RunningServer.start(engine: uncachedEngine)
        defer { Task { await s.stop() } }
        let requests: [(String, [String: Any])] = [
            ("/v1/completions", ["model": Self.model, "prompt": question, "max_tokens": 20, "n": 3, "seed": 5, "stop": ["<"]]),
            (
                "/v1/chat/completions",
                ["model": "self-consistency-3/\(Self.model)", "messages": [["role": "user", "content": question]], "max_tokens": 20, "seed": 2]
            ),
        ]
        for (route, body) in requests {
            let whole = try await http(.POST, s.base + route, json: body)
            #expect(whole.status == 200, "\(whole.body)")
            var streamedBody = body
            streamedBody["stream"] = true
            streamedBody["stream_options"] = ["include_usage": true]
            let stream = try await http(.POST, s.base + route, json: streamedBody)
            let usage = whole.json["usage"] as? [String: Any] ?? [:]
            let streamedUsage = chunks(stream).last?["usage"] as? [String: Any] ?? [:]
            #expect((usage["completion_tokens"] as? Int ?? 0) > 0)
            #expect(canonical(streamedUsage) == canonical(usage), "\(route): streamed usage \(streamedUsage) equals \(usage)")
        }
    }

    @Test func badLogprobFieldsAreNamed() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let messages = [["role": "user", "content": "hi"]]
        let cases: [(String, [String: Any], String)] = [
            ("/v1/chat/completions", ["messages": messages, "logprobs": true, "top_logprobs": 21], "top_logprobs"),
            ("/v1/chat/completions", ["messages": messages, "logprobs": true, "top_logprobs": -1], "top_logprobs"),
            ("/v1/chat/completions", ["messages": messages, "top_logprobs": 2], "top_logprobs"),
            ("/v1/chat/completions", ["messages": messages, "logprobs": false, "top_logprobs": 2], "top_logprobs"),
            ("/v1/chat/completions", ["messages": messages, "logprobs": 3], "logprobs"),
            ("/v1/completions", ["prompt": "1+1", "logprobs": 21], "logprobs"),
            ("/v1/completions", ["prompt": "1+1", "logprobs": -1], "logprobs"),
            ("/v1/completions", ["prompt": "1+1", "logprobs": true, "top_logprobs": 2], "top_logprobs"),
        ]
        for (route, fields, param) in cases {
            var body = fields
            body["model"] = Self.model
            let r = try await http(.POST, s.base + route, json: body)
            #expect(r.status == 400, "\(fields): \(r.body)")
            #expect(r.error["param"] as? String == param, "\(fields): \(r.body)")
        }
        // The limit itself is fine.
        let ok = try await http(
            .POST, s.base + "/v1/chat/completions",
            json: ["model": Self.model, "messages": messages, "max_tokens": 2, "logprobs": true, "top_logprobs": 20])
        #expect(ok.status == 200, "\(ok.body)")
        let top = ((choices(ok.json).first?["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])?.first?["top_logprobs"] as? [Any]
        #expect(top?.count == 20)
    }

    /// PonderRemote asks for and parses top log-probabilities from both response shapes; they equal the local
    /// engine's.
    @Test func remoteModelParsesTopLogprobs() async throws {
        let s = try await RunningServer.start(engine: uncachedEngine)
        defer { Task { await s.stop() } }
        let remote = try RemoteModel(endpoint: s.base, apiModel: Self.model)
        for prompt in [Prompt.text(question), .chat([.user(question)])] {
            let request = CompletionRequest(
                prompt: prompt, parameters: SamplingParameters(maxTokens: 16, temperature: 0.7, seed: 9, logprobs: true, topLogprobs: 3))
            let local = try await uncachedEngine.complete(request)
            let viaHTTP = try await remote.complete(request)
            let a = try #require(viaHTTP.completions[0].topLogprobs)
            let b = try #require(local.completions[0].topLogprobs)
            #expect(a.count == b.count && a.count == local.completions[0].tokens.count)
            for (x, y) in zip(a, b) {
                #expect(x.token == y.token && abs(x.logprob - y.logprob) < 1e-6)
                #expect(x.top.map(\.token) == y.top.map(\.token))
                #expect(zip(x.top, y.top).allSatisfy { abs($0.logprob - $1.logprob) < 1e-6 })
            }
        }
    }
}
