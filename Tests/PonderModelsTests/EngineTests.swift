import PonderCore
import PonderTokenizers
import Torch
import XCTest

@testable import PonderModels

/// A tiny random model over a Ponder-trained byte-level tokenizer with `<think>` tokens.
func makeTestEngine(prefixCacheBytes: Int = 0, maxCacheBytes: Int = 4 << 30, batching: Engine.Batching = .continuous) throws -> Engine {
    let corpus = (0..<200).map { "Question \($0): what is \($0) + \($0 * 3)? Let us think step by step. The answer is \($0 * 4).\n" }
    let tokenizer = try BPETrainer(vocabularySize: 320, specialTokens: ["<|endoftext|>", "<think>", "</think>"]).train(corpus)
    let config = ModelConfiguration(
        family: .qwen3, vocabularySize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, layerCount: 2, headCount: 4,
        keyValueHeadCount: 2, maxPositionEmbeddings: 256, eosTokenIds: [0])
    let model = try CausalLM(configuration: config, seed: 11)
    return Engine(
        model: model, tokenizer: tokenizer, template: .native(.chatML(defaultSystemPrompt: nil)), name: "test",
        options: Engine.Options(maxCacheBytes: maxCacheBytes, prefixCacheBytes: prefixCacheBytes, batching: batching))
}

final class EngineTests: XCTestCase {
    func request(_ text: String, _ p: SamplingParameters) -> CompletionRequest { CompletionRequest(prompt: .text(text), parameters: p) }

    func testStopStringsMatchAcrossTokenBoundaries() async throws {
        let engine = try makeTestEngine()
        var checked = 0
        for seed in 0..<40 where checked < 3 {
            let p = SamplingParameters(maxTokens: 24, temperature: 1, seed: UInt64(seed))
            let full = try await engine.rollouts([request("Question 7:", p)])[0].completions[0]
            // Find two consecutive generated tokens that each decode to ASCII; the stop string spans their boundary.
            let pieces = full.tokens.map { engine.tokenizer.decode([$0]) }
            func usable(_ k: Int) -> Bool {
                let pair = pieces[k] + pieces[k + 1]
                let printable = pair.allSatisfy { $0.isASCII && !$0.isWhitespace }
                return !pieces[k].isEmpty && !pieces[k + 1].isEmpty && printable && !engine.endTokens.contains(full.tokens[k + 1])
            }
            guard pieces.count > 2, let i = (1..<(pieces.count - 1)).first(where: usable) else { continue }
            let prefix = String(engine.tokenizer.decode(Array(full.tokens[...i])).dropLast())
            let stop = String(pieces[i].last!) + String(pieces[i + 1].first!)
            guard !prefix.contains(stop) else { continue }
            var q = p
            q.stop = [stop]
            let stopped = try await engine.rollouts([request("Question 7:", q)])[0].completions[0]
            XCTAssertEqual(stopped.text, prefix, "stop \"\(stop)\"")
            XCTAssertEqual(stopped.stop, .stopString(stop), "the record names the stop string that ended it")
            XCTAssertEqual(stopped.finishReason, .stop)
            XCTAssertEqual(stopped.tokens, Array(full.tokens.prefix(i + 2)), "generation ends at the token completing the stop string")
            checked += 1
        }
        XCTAssertEqual(checked, 3, "found token boundaries to test")
    }

    func testStreamingReassemblesTheCompletion() async throws {
        let engine = try makeTestEngine()
        for stop in [[String](), ["e", "5"]] {
            let p = SamplingParameters(maxTokens: 30, temperature: 1, stop: stop, seed: 4, n: 3)
            let whole = try await engine.complete(request("Question 12:", p))
            var texts = ["", "", ""]
            var finished = 0
            for try await chunk in engine.stream(request("Question 12:", p)) {
                texts[chunk.index] += chunk.text
                if chunk.finishReason != nil { finished += 1 }
            }
            XCTAssertEqual(finished, 3)
            XCTAssertEqual(texts, whole.completions.map(\.text), "stop \(stop)")
        }
    }

    func testBudgetForcingThroughTheEngine() async throws {
        let engine = try makeTestEngine()
        let close = engine.tokenizer.encode("</think>", addSpecialTokens: false)
        XCTAssertEqual(close.count, 1)
        // A seed whose first three sampled tokens neither end the sequence nor close the thinking, so the budget
        // (not the model) ends the thinking; the search is part of the test: it must find one.
        var checked = false
        for seed in 0..<20 where !checked {
            let p = SamplingParameters(maxTokens: 12, temperature: 1, seed: UInt64(seed), thinking: ThinkingBudget(maxThinkingTokens: 3))
            let free = try await engine.rollouts([
                request("Question 3: <think>", SamplingParameters(maxTokens: 3, temperature: 1, seed: UInt64(seed)))
            ])[0]
            guard !free.completions[0].tokens.contains(where: { engine.endTokens.contains($0) || $0 == close[0] }) else { continue }
            let r = try await engine.rollouts([request("Question 3: <think>", p)])[0]
            let c = r.completions[0]
            XCTAssertEqual(Array(c.tokens.prefix(3)), free.completions[0].tokens, "the same samples up to the budget")
            XCTAssertEqual(c.tokens[3], close[0], "the end of thinking is forced after 3 tokens")
            XCTAssertEqual(c.sampled[3], false, "the forced token is marked as not sampled")
            XCTAssertEqual(c.reasoningTokens, 3)
            XCTAssertEqual(r.usage.reasoningTokens, 3)
            XCTAssertEqual(r.promptTokens, engine.tokenizer.encode("Question 3: <think>"), "the record carries the prompt's ids")
            XCTAssertEqual(c.sampled.count, c.tokens.count)
            checked = true
        }
        XCTAssertTrue(checked, "found a seed whose first three tokens leave the thinking open")
        do {
            _ = try await engine.rollouts([
                request("x", SamplingParameters(thinking: ThinkingBudget(minThinkingTokens: 5, maxThinkingTokens: 2)))
            ])
            XCTFail("expected a validation error")
        } catch {}
        XCTAssertEqual(ReasoningEffort.low.budget.maxThinkingTokens, 256)
    }

    /// Requests that arrive while the engine is busy each get exactly their own result. That they really share decode
    /// steps (join a running batch) is asserted by `testRequestsJoiningMidFlightGetTheirSoloResults`.
    func testConcurrentRequestsRunTogetherAndKeepTheirSettings() async throws {
        let engine = try makeTestEngine()
        let long = request("Question 9:", SamplingParameters(maxTokens: 200, temperature: 1, seed: 3))
        let a = request("Question 1:", SamplingParameters(maxTokens: 10, temperature: 0))
        let b = request("Question 22: what", SamplingParameters(maxTokens: 14, temperature: 1.3, topK: 5, stop: ["?"], seed: 9, n: 2))
        let soloA = try await engine.rollouts([a])[0]
        let soloB = try await engine.rollouts([b])[0]
        async let rl = engine.complete(long)
        async let ra = engine.complete(a)
        async let rb = engine.complete(b)
        let (_, x, y) = try await (rl, ra, rb)
        XCTAssertEqual(x.completions.map(\.tokens), soloA.completions.map(\.tokens))
        XCTAssertEqual(y.completions.map(\.tokens), soloB.completions.map(\.tokens))
        XCTAssertEqual(y.completions.count, 2)
        XCTAssertEqual(x.usage.promptTokens, engine.tokenizer.encode("Question 1:").count)
        XCTAssertEqual(x.usage.completionTokens, x.completions[0].tokens.count)
    }

    /// DeepConf's token confidence is measured per token (checked against a full forward pass for the first token),
    /// and a request with a threshold is stopped by the engine at the first full group below it.
    func testConfidenceIsMeasuredAndStopsGeneration() async throws {
        let engine = try makeTestEngine()
        let prompt = "Question 4:"
        let measure = SamplingParameters(maxTokens: 8, temperature: 0, confidence: ConfidenceStop(topLogprobs: 5, window: 4))
        let measured = try await engine.rollouts([request(prompt, measure)])[0].completions[0]
        let conf = try XCTUnwrap(measured.confidences)
        XCTAssertEqual(conf.count, measured.tokens.count)
        let ids = engine.tokenizer.encode(prompt)
        let logits = engine.model(Tensor(ids.map(Int64.init), shape: [1, ids.count]))  // (1, T, V)
        let last = logits.select(axis: 1, index: ids.count - 1).to(.float32).logSoftmax(axis: -1)  // (1, V)
        let top = last.topK(5, axis: -1).values.toArray(Double.self)
        XCTAssertEqual(conf[0], -top.reduce(0, +) / 5, accuracy: 1e-4)
        let plain = try await engine.rollouts([request(prompt, .greedy(maxTokens: 4))])[0].completions[0]
        XCTAssertNil(plain.confidences, "only when asked")
        // A threshold above every group: stopped as soon as the first group of 4 is full.
        var stop = measure
        stop.confidence?.threshold = 1e9
        guard measured.tokens.count >= 4 else { return XCTFail("greedy from this prompt ends before one group of 4 tokens") }
        let stopped = try await engine.rollouts([request(prompt, stop)])[0].completions[0]
        XCTAssertEqual(stopped.tokens, Array(measured.tokens.prefix(4)))
        guard case .lowConfidence(let group) = stopped.stop else { return XCTFail("\(stopped.stop)") }
        XCTAssertEqual(group, conf.prefix(4).reduce(0, +) / 4, accuracy: 1e-9)
        // A threshold below every group never stops generation.
        stop.confidence?.threshold = -1
        let unstopped = try await engine.rollouts([request(prompt, stop)])[0].completions[0]
        XCTAssertEqual(unstopped.tokens, measured.tokens)
    }

    func testChatPromptsAndErrors() async throws {
        let engine = try makeTestEngine()
        let chat = CompletionRequest(prompt: .chat([.user("What is 2 + 2?")]), parameters: .greedy(maxTokens: 4))
        XCTAssertEqual(try engine.promptText(chat), "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n")
        _ = try await engine.complete(chat)
        do {
            _ = try await engine.complete(request(String(repeating: "Question ", count: 40), SamplingParameters(maxTokens: 200)))
            XCTFail("expected a context overflow")
        } catch let error as PonderError {
            guard case .contextOverflow = error else { return XCTFail("\(error)") }
        }
        do {
            _ = try await engine.complete(request("x", SamplingParameters(topP: 0)))
            XCTFail("expected a validation error")
        } catch {
            XCTAssertTrue("\(error)".contains("topP = 0.0"), "\(error)")
        }
    }

    func testPrefixReuseIsReported() async throws {
        let engine = try makeTestEngine(prefixCacheBytes: 1 << 24)
        let first = try await engine.rollouts([request("Question 5: what is 5 + 15?", .greedy(maxTokens: 6))])[0]
        let continued = CompletionRequest(
            prompt: .text("Question 5: what is 5 + 15?"), continuation: first.completions[0].text, parameters: .greedy(maxTokens: 4))
        let second = try await engine.rollouts([continued])[0]
        XCTAssertGreaterThan(second.usage.cachedPromptTokens, first.usage.promptTokens - 1)
    }

    /// A seed whose completion of `prompt` runs to `maxTokens` (so it is still decoding when others join).
    func longSeed(_ engine: Engine, _ prompt: String, maxTokens: Int) async throws -> UInt64 {
        for seed in UInt64(0)..<50 {
            let r = try await engine.rollouts([request(prompt, SamplingParameters(maxTokens: maxTokens, temperature: 1, seed: seed))])[0]
            if case .length = r.completions[0].stop { return seed }
        }
        throw PonderError.invalidArgument("no seed ran to length")
    }

    func assertSame(_ x: CompletionResponse, _ y: CompletionResponse, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(x.completions.map(\.tokens), y.completions.map(\.tokens), message, file: file, line: line)
        XCTAssertEqual(x.completions.map(\.text), y.completions.map(\.text), message, file: file, line: line)
        XCTAssertEqual(x.completions.map(\.stop), y.completions.map(\.stop), message, file: file, line: line)
        for (a, b) in zip(x.completions, y.completions) {
            XCTAssertEqual(a.logprobs?.count, b.logprobs?.count, message, file: file, line: line)
            for (p, q) in zip(a.logprobs ?? [], b.logprobs ?? []) { XCTAssertEqual(p, q, accuracy: 1e-4, message, file: file, line: line) }
        }
    }

    /// Requests that join a running batch between decode steps get exactly the completions they get alone: each
    /// keeps its sampling settings, seed stream, stop strings, thinking budget and log-probabilities.
    func testRequestsJoiningMidFlightGetTheirSoloResults() async throws {
        let engine = try makeTestEngine()
        let seed = try await longSeed(engine, "Question 40:", maxTokens: 150)
        let long = request("Question 40:", SamplingParameters(maxTokens: 150, temperature: 1, seed: seed))
        let joiners = [
            request("Question 1:", SamplingParameters(maxTokens: 10, temperature: 0, logprobs: true)),
            request(
                "Question 22: what is 22 + 66? Let us think step by step.",
                SamplingParameters(maxTokens: 14, temperature: 1.3, topK: 5, stop: ["?", "7"], seed: 9, n: 2, logprobs: true)),
            request(
                "Question 3: <think>",
                SamplingParameters(maxTokens: 12, temperature: 0.8, topP: 0.9, seed: 5, thinking: ThinkingBudget(maxThinkingTokens: 3))),
        ]
        var solo: [CompletionResponse] = []
        for r in [long] + joiners { solo.append(try await engine.rollouts([r])[0]) }
        let joinedBefore = engine.load.joinedRunning
        var text = ""
        var joined: [CompletionResponse] = []
        for try await chunk in engine.stream(long) {
            text += chunk.text
            if joined.isEmpty {
                // The long request is decoding now: the others join its batch.
                joined = try await withThrowingTaskGroup(of: (Int, CompletionResponse).self) { group in
                    for (i, r) in joiners.enumerated() { group.addTask { (i, try await engine.complete(r)) } }
                    var out: [(Int, CompletionResponse)] = []
                    for try await x in group { out.append(x) }
                    return out.sorted { $0.0 < $1.0 }.map(\.1)
                }
            }
        }
        XCTAssertEqual(text, solo[0].completions[0].text, "the running request is undisturbed")
        for (i, r) in joined.enumerated() { assertSame(r, solo[i + 1], "joiner \(i)") }
        XCTAssertGreaterThanOrEqual(engine.load.joinedRunning - joinedBefore, 1, "requests joined a running batch")
        XCTAssertEqual(engine.load.runningRows, 0)
    }

    /// A request whose KV cache could never fit fails alone; requests that do not fit beside each other wait
    /// their turn; every neighbour gets its solo result and the cache never passes its limit.
    func testOversizedRequestIsRefusedAloneAndOthersWait() async throws {
        let perColumn = 2 * 2 * 2 * 8 * 4  // K and V, 2 layers, 2 KV heads, head dimension 8, float32
        let limit = perColumn * 70
        let engine = try makeTestEngine(maxCacheBytes: limit)
        let a = request("Question 8:", SamplingParameters(maxTokens: 40, temperature: 1, seed: 2))
        let b = request("Question 9: what", SamplingParameters(maxTokens: 40, temperature: 1, seed: 3))
        let huge = request("Question 10:", SamplingParameters(maxTokens: 100, temperature: 1, seed: 4, n: 8))
        let soloA = try await engine.rollouts([a])[0]
        let soloB = try await engine.rollouts([b])[0]
        async let ra = engine.complete(a)
        async let rb = engine.complete(b)
        async let rh = engine.complete(huge)
        do {
            _ = try await rh
            XCTFail("the oversized request should fail")
        } catch let error as ModelError {
            guard case .cacheTooLarge(let bytes, limit) = error else { return XCTFail("\(error)") }
            XCTAssertGreaterThan(bytes, limit)
            XCTAssertTrue(error.localizedDescription.contains("maxCacheBytes"), error.localizedDescription)
        }
        let (x, y) = try await (ra, rb)
        assertSame(x, soloA, "a")
        assertSame(y, soloB, "b")
        XCTAssertLessThanOrEqual(engine.load.peakCacheBytes, limit)
        XCTAssertGreaterThan(engine.load.peakCacheBytes, 0)
    }

    /// A streamed request whose consumer is cancelled mid-way leaves the batch; the request beside it finishes with
    /// its solo result.
    func testCancelledStreamLeavesTheBatch() async throws {
        let engine = try makeTestEngine()
        let seed = try await longSeed(engine, "Question 60:", maxTokens: 200)
        let doomed = request("Question 60:", SamplingParameters(maxTokens: 200, temperature: 1, seed: seed))
        let other = request("Question 61:", SamplingParameters(maxTokens: 60, temperature: 1, seed: 6))
        let solo = try await engine.rollouts([other])[0]
        let (started, signal) = AsyncStream<Void>.makeStream()
        let consumer = Task {
            var chunks = 0
            var finished = false
            for try await chunk in engine.stream(doomed) {
                chunks += 1
                if chunk.finishReason != nil { finished = true }
                if chunks == 3 { signal.yield() }
            }
            return finished
        }
        for await _ in started { break }
        async let beside = engine.complete(other)
        consumer.cancel()
        let finished = try await consumer.value
        XCTAssertFalse(finished, "the cancelled completion never finished")
        assertSame(try await beside, solo, "the neighbour")
        XCTAssertEqual(engine.load.cancelled, 1)
        XCTAssertEqual(engine.load.runningRows, 0)
        XCTAssertEqual(engine.load.runningRequests, 0)
    }

    /// Static batching (the benchmark's baseline) gives the same completions as continuous batching.
    func testWholeBatchingGivesTheSameResults() async throws {
        let engine = try makeTestEngine(batching: .whole)
        let requests = (0..<4).map { request("Question \($0):", SamplingParameters(maxTokens: 8 + 6 * $0, temperature: 1, seed: UInt64($0))) }
        var solo: [CompletionResponse] = []
        for r in requests { solo.append(try await engine.rollouts([r])[0]) }
        let together = try await withThrowingTaskGroup(of: (Int, CompletionResponse).self) { group in
            for (i, r) in requests.enumerated() { group.addTask { (i, try await engine.complete(r)) } }
            var out: [(Int, CompletionResponse)] = []
            for try await x in group { out.append(x) }
            return out.sorted { $0.0 < $1.0 }.map(\.1)
        }
        for (i, r) in together.enumerated() { assertSame(r, solo[i], "request \(i)") }
        XCTAssertEqual(engine.load.joinedRunning, 0, "nothing joins a running batch")
    }

    /// Many callers at once (rollouts and single requests, with the prefix cache on) get what they get alone: the
    /// prefix cache is only touched by the scheduler.
    func testPrefixCacheUnderConcurrentCallers() async throws {
        let engine = try makeTestEngine(prefixCacheBytes: 1 << 24)
        let base = "Question 5: what is 5 + 15? Let us think step by step."
        let first = try await engine.rollouts([request(base, .greedy(maxTokens: 12))])[0]
        let continued = (0..<4).map { i in
            CompletionRequest(
                prompt: .text(base), continuation: String(first.completions[0].text.prefix(2 * i)),
                parameters: SamplingParameters(maxTokens: 10, temperature: 1, seed: UInt64(i)))
        }
        let reference = try makeTestEngine()
        var solo: [CompletionResponse] = []
        for r in continued { solo.append(try await reference.rollouts([r])[0]) }
        let results = try await withThrowingTaskGroup(of: (Int, [CompletionResponse]).self) { group in
            group.addTask { (0, try await engine.rollouts(Array(continued.prefix(2)))) }
            for i in 2..<4 { group.addTask { (i, [try await engine.complete(continued[i])]) } }
            var out: [CompletionResponse?] = Array(repeating: nil, count: 4)
            for try await (i, rs) in group { for (k, r) in rs.enumerated() { out[i + k] = r } }
            return out.map { $0! }
        }
        for i in 0..<4 { assertSame(results[i], solo[i], "request \(i)") }
        XCTAssertTrue(results.contains { $0.usage.cachedPromptTokens > 0 }, "the prefix cache served some prompts")
    }

    /// A `rollouts` call made while a streamed request decodes on the engine's queue joins it and returns its solo
    /// results; the stream still completes exactly.
    func testRolloutsBesideAServedStream() async throws {
        let engine = try makeTestEngine()
        let seed = try await longSeed(engine, "Question 70:", maxTokens: 150)
        let served = request("Question 70:", SamplingParameters(maxTokens: 150, temperature: 1, seed: seed))
        let batch = (0..<3).map { request("Question \(80 + $0):", SamplingParameters(maxTokens: 20, temperature: 1, seed: UInt64($0), n: 2)) }
        let soloServed = try await engine.rollouts([served])[0]
        let soloBatch = try await engine.rollouts(batch)
        var text = ""
        var rolled: [CompletionResponse] = []
        for try await chunk in engine.stream(served) {
            text += chunk.text
            if rolled.isEmpty { rolled = try await engine.rollouts(batch) }
        }
        XCTAssertEqual(text, soloServed.completions[0].text)
        for (i, r) in rolled.enumerated() { assertSame(r, soloBatch[i], "rollout \(i)") }
    }

    /// Cancelling the task of a `complete` call ends it with `CancellationError` and frees its rows.
    func testCancelledCompleteThrowsAndLeaves() async throws {
        let engine = try makeTestEngine()
        let seed = try await longSeed(engine, "Question 90:", maxTokens: 200)
        let r = request("Question 90:", SamplingParameters(maxTokens: 200, temperature: 1, seed: seed, n: 3))
        let task = Task { try await engine.complete(r) }
        while engine.load.runningRows == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("expected a cancellation")
        } catch is CancellationError {}
        XCTAssertEqual(engine.load.runningRows, 0)
        XCTAssertEqual(engine.load.cancelled, 1)
    }
}
