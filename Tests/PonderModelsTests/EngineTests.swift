import PonderCore
import PonderTokenizers
import Torch
import XCTest

@testable import PonderModels

/// A tiny random model over a Ponder-trained byte-level tokenizer with `<think>` tokens.
func makeTestEngine(prefixCacheBytes: Int = 0) throws -> Engine {
    let corpus = (0..<200).map { "Question \($0): what is \($0) + \($0 * 3)? Let us think step by step. The answer is \($0 * 4).\n" }
    let tokenizer = try BPETrainer(vocabularySize: 320, specialTokens: ["<|endoftext|>", "<think>", "</think>"]).train(corpus)
    let config = ModelConfiguration(
        family: .qwen3, vocabularySize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, layerCount: 2, headCount: 4,
        keyValueHeadCount: 2, maxPositionEmbeddings: 256, eosTokenIds: [0])
    let model = try CausalLM(configuration: config, seed: 11)
    return Engine(
        model: model, tokenizer: tokenizer, template: .native(.chatML(defaultSystemPrompt: nil)), name: "test",
        options: Engine.Options(prefixCacheBytes: prefixCacheBytes))
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
        let p = SamplingParameters(maxTokens: 12, temperature: 1, seed: 1, thinking: ThinkingBudget(maxThinkingTokens: 3))
        let r = try await engine.rollouts([request("Question 3: <think>", p)])[0]
        let c = r.completions[0]
        let close = engine.tokenizer.encode("</think>", addSpecialTokens: false)
        XCTAssertEqual(close.count, 1)
        if !c.tokens.prefix(3).contains(where: { engine.endTokens.contains($0) || $0 == close[0] }) {
            XCTAssertEqual(c.tokens[3], close[0], "the end of thinking is forced after 3 tokens")
            XCTAssertEqual(c.reasoningTokens, 3)
            XCTAssertEqual(r.usage.reasoningTokens, 3)
        }
        XCTAssertEqual(r.promptTokens, engine.tokenizer.encode("Question 3: <think>"), "the record carries the prompt's ids")
        XCTAssertEqual(c.sampled.count, c.tokens.count)
        do {
            _ = try await engine.rollouts([
                request("x", SamplingParameters(thinking: ThinkingBudget(minThinkingTokens: 5, maxThinkingTokens: 2)))
            ])
            XCTFail("expected a validation error")
        } catch {}
        XCTAssertEqual(ReasoningEffort.low.budget.maxThinkingTokens, 256)
    }

    /// Two concurrent requests with different settings run in one batch and each gets exactly its own result.
    func testConcurrentRequestsKeepTheirSettings() async throws {
        let engine = try makeTestEngine()
        let a = request("Question 1:", SamplingParameters(maxTokens: 10, temperature: 0))
        let b = request("Question 22: what", SamplingParameters(maxTokens: 14, temperature: 1.3, topK: 5, stop: ["?"], seed: 9, n: 2))
        let soloA = try await engine.rollouts([a])[0]
        let soloB = try await engine.rollouts([b])[0]
        async let ra = engine.complete(a)
        async let rb = engine.complete(b)
        let (x, y) = try await (ra, rb)
        XCTAssertEqual(x.completions.map(\.tokens), soloA.completions.map(\.tokens))
        XCTAssertEqual(y.completions.map(\.tokens), soloB.completions.map(\.tokens))
        XCTAssertEqual(y.completions.count, 2)
        XCTAssertEqual(x.usage.promptTokens, engine.tokenizer.encode("Question 1:").count)
        XCTAssertEqual(x.usage.completionTokens, x.completions[0].tokens.count)
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
}
