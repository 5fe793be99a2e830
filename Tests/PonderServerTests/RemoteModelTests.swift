import Foundation
import PonderCore
import PonderRemote
import PonderSearch
import PonderServer
import Testing

@Suite("Remote model over ponder serve")
struct RemoteModelTests {
    static let model = "ponder-tiny-base"

    /// Requests of one route answered with status 200, read from the server's metrics.
    func answered(_ s: RunningServer, _ route: String) -> Int {
        let prefix = "ponder_requests_total{route=\"\(route)\",status=\"200\"} "
        return s.server.metrics.text().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
    }

    @Test func completesLikeTheLocalEngine() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let remote = try RemoteModel(endpoint: s.base, apiModel: Self.model)
        #expect(remote.endpoint == s.base + "/v1")
        let request = CompletionRequest(prompt: .text(question), parameters: SamplingParameters(maxTokens: 24, temperature: 0, logprobs: true))
        let local = try await sharedEngine.complete(request)
        let viaHTTP = try await remote.complete(request)
        // Greedy decoding over HTTP gives the engine's own answer, token ids and log-probabilities included.
        #expect(viaHTTP.completions.map(\.text) == local.completions.map(\.text))
        #expect(viaHTTP.completions.map(\.tokens) == local.completions.map(\.tokens))
        #expect(viaHTTP.promptTokens == local.promptTokens)
        #expect(viaHTTP.completions.map(\.finishReason) == local.completions.map(\.finishReason))
        let a = viaHTTP.completions[0].logprobs ?? []
        let b = local.completions[0].logprobs ?? [1]
        #expect(a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-4 })
        #expect(viaHTTP.usage.completionTokens == local.usage.completionTokens)
        #expect(viaHTTP.usage.promptTokens == local.usage.promptTokens)
    }

    @Test func chatReasoningComesBackInThinkTags() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let remote = try RemoteModel(endpoint: s.base + "/v1/", apiModel: Self.model)
        let chat = CompletionRequest(prompt: .chat([.user(question)]), parameters: SamplingParameters(maxTokens: 40, temperature: 0))
        let r = try await remote.complete(chat)
        let local = try await sharedEngine.complete(chat)
        // Same tokens; the text comes back as reasoning in <think> tags and the answer, which is what the local
        // completion says once its prompt's pre-filled <think> is taken into account.
        #expect(r.completions[0].tokens == local.completions[0].tokens)
        let parser = ThinkParser().continuing(try sharedEngine.promptText(chat))
        let expected = parser.parse(local.completions[0].text)
        let got = ThinkParser().parse(r.completions[0].text)
        #expect(expected.reasoning != nil)
        #expect(got.reasoning == expected.reasoning && got.answer == expected.answer && got.state == expected.state)
    }

    @Test func nativeAndEmulatedN() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let request = CompletionRequest(prompt: .chat([.user(question)]), parameters: SamplingParameters(maxTokens: 8, seed: 9, n: 3))
        let native = try RemoteModel(endpoint: s.base, apiModel: Self.model)
        let before = answered(s, "/v1/chat/completions")
        #expect(try await native.complete(request).completions.count == 3)
        #expect(answered(s, "/v1/chat/completions") == before + 1)
        let emulated = try RemoteModel(endpoint: s.base, apiModel: Self.model, options: RemoteModel.Options(nativeN: false))
        let r = try await emulated.complete(request)
        #expect(r.completions.count == 3)
        #expect(answered(s, "/v1/chat/completions") == before + 4)
        // A server that refuses n > 1 (400 naming `n`): the model falls back to one request per completion.
        let small = try await RunningServer.start(ServerConfiguration(port: 0, maxN: 1))
        defer { Task { await small.stop() } }
        let fallback = try RemoteModel(endpoint: small.base, apiModel: Self.model)
        #expect(try await fallback.complete(request).completions.count == 3)
        #expect(try await fallback.rollouts([request, request]).map(\.completions.count) == [3, 3])
        #expect(answered(small, "/v1/chat/completions") == 9)
    }

    /// Step-level search extends partial solutions through /v1/completions.
    @Test func continuationGoesThroughTextCompletions() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let remote = try RemoteModel(endpoint: s.base, apiModel: Self.model)
        let before = answered(s, "/v1/completions")
        let request = CompletionRequest(
            prompt: .text(question), continuation: "<think>12+7=19", parameters: SamplingParameters(maxTokens: 16, temperature: 0))
        let r = try await remote.complete(request)
        let local = try await sharedEngine.complete(request)
        #expect(r.completions[0].text == local.completions[0].text)
        #expect(answered(s, "/v1/completions") == before + 1)
        // A chat prompt with a continuation: the partial answer is continued, not answered anew.
        let chat = CompletionRequest(
            prompt: .chat([.user(question)]), continuation: "12+7=19", parameters: SamplingParameters(maxTokens: 16, temperature: 0))
        let rc = try await remote.complete(chat)
        let lc = try await sharedEngine.complete(chat)
        #expect(rc.completions[0].tokens == lc.completions[0].tokens)
        let expected = ThinkParser().continuing(try sharedEngine.promptText(chat)).parse(lc.completions[0].text)
        let got = ThinkParser().parse(rc.completions[0].text)
        #expect(got.reasoning == expected.reasoning && got.answer == expected.answer && got.state == expected.state)
    }

    @Test func errorsRetriesAndTimeouts() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let wrongModel = try RemoteModel(endpoint: s.base, apiModel: "nope", options: RemoteModel.Options(maxRetries: 3))
        await #expect {
            _ = try await wrongModel.complete(CompletionRequest(prompt: .text("x"), parameters: SamplingParameters(maxTokens: 1)))
        } throws: { error in
            guard case RemoteError.http(let status, _, let message, _) = error else { return false }
            return status == 404 && message.contains("nope")
        }
        // 503 is transient: retried, then reported.
        s.server.beginDraining()
        let draining = try RemoteModel(
            endpoint: s.base, apiModel: Self.model, options: RemoteModel.Options(maxRetries: 2, initialBackoff: .milliseconds(5)))
        await #expect {
            _ = try await draining.complete(CompletionRequest(prompt: .text("x"), parameters: SamplingParameters(maxTokens: 1)))
        } throws: { error in
            if case RemoteError.http(503, _, _, _) = error { return true }
            return false
        }
        #expect(answered(s, "/v1/completions") == 0)
        #expect(s.server.metrics.text().contains(#"ponder_requests_total{route="/v1/completions",status="503"} 3"#))
        // Nothing listens here: a transport error after the retries.
        // (AsyncHTTPClient keeps trying to connect until the request's deadline: a timeout or a transport error.)
        let closed = try RemoteModel(
            endpoint: "http://127.0.0.1:1", apiModel: Self.model,
            options: RemoteModel.Options(timeout: .seconds(1), maxRetries: 1, initialBackoff: .milliseconds(1)))
        await #expect {
            _ = try await closed.complete(CompletionRequest(prompt: .text("x"), parameters: SamplingParameters(maxTokens: 1)))
        } throws: { error in
            switch error as? RemoteError {
            case .transport?, .timeout?: return true
            default: return false
            }
        }
        #expect(throws: RemoteError.self) { try RemoteModel(endpoint: "ftp://x", apiModel: "m") }
    }

    /// A test-time strategy runs against the remote model as against the local engine (`ponder solve --endpoint`).
    @Test func searchStrategyOverHTTP() async throws {
        let s = try await RunningServer.start()
        defer { Task { await s.stop() } }
        let remote = try RemoteModel(endpoint: s.base, apiModel: Self.model, options: RemoteModel.Options(maxConcurrentRequests: 2))
        let strategy = SelfConsistency(samples: 4, batchSize: 2, parameters: SamplingParameters(maxTokens: 24, seed: 4))
        let result = try await strategy.run(problem: Problem(id: "q", prompt: question), prompt: .text(question), model: remote)
        #expect(result.candidates.count == 4)
        #expect(result.usage.generatedTokens > 0)
        #expect(answered(s, "/v1/completions") >= 2)
    }
}

@Suite("ponder solve --endpoint")
struct SolveEndpointTests {
    /// The built `ponder` executable (beside the test bundle in the build directory).
    var binary: URL {
        var dir = Bundle.main.bundleURL
        if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("ponder")
    }

    @Test func solveAgainstServe() async throws {
        let s = try await RunningServer.start(ServerConfiguration(port: 0, apiKey: "solve-key"))
        defer { Task { await s.stop() } }
        try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the ponder executable first")
        let p = Process()
        p.executableURL = binary
        p.arguments = [
            "solve", "--endpoint", s.base + "/v1", "--api-model", "ponder-tiny-base", "--api-key-env", "PONDER_SOLVE_KEY", "--strategy",
            "self-consistency", "--budget", "3", "--max-tokens", "24", "--seed", "1", "Compute 12+9-4+5.",
        ]
        p.environment = ProcessInfo.processInfo.environment.merging(["PONDER_SOLVE_KEY": "solve-key"]) { _, new in new }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let (o, e) = await Task.detached {
            (out.fileHandleForReading.readDataToEndOfFile(), err.fileHandleForReading.readDataToEndOfFile())
        }.value
        p.waitUntilExit()
        let stdout = String(decoding: o, as: UTF8.self)
        #expect(p.terminationStatus == 0, "\(String(decoding: e, as: UTF8.self))")
        #expect(stdout.contains("answer: "))
        #expect(stdout.contains("--- trace (4 nodes) ---"))
        #expect(stdout.contains("1 model calls"))
        #expect(s.server.metrics.text().contains(#"ponder_requests_total{route="/v1/completions",status="200"} 1"#))
    }
}
