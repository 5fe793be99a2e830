import Foundation
import PonderCore
import Torch
import XCTest

@testable import PonderModels

/// OpenAI-style log-probabilities (`SamplingParameters.topLogprobs`) on the bundled model, checked against a direct
/// log-softmax of the model's logits over the whole sequence (no KV cache, no batching).
final class TopLogprobsTests: XCTestCase {
    static let bundled = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Models/ponder-tiny-base")

    func engine() throws -> Engine { try Engine.load(Self.bundled, options: Engine.Options(prefixCacheBytes: 0)) }

    /// Log-softmax of the raw logits at each generated position of `completion` after `prompt`: (T, V).
    func directLogprobs(_ engine: Engine, prompt: [Int], completion: Completion) -> Tensor {
        let sequence = prompt + completion.tokens.dropLast()
        return withNoGrad {
            let logits = engine.model(Tensor(sequence.map(Int64.init), shape: [1, sequence.count]))
            return logits[0].narrow(axis: 0, start: prompt.count - 1, length: completion.tokens.count).to(.float32).logSoftmax(axis: -1)
        }
    }

    func testGreedyTopLogprobsMatchALogSoftmaxOfTheLogits() async throws {
        let engine = try engine()
        let p = SamplingParameters(maxTokens: 16, temperature: 0, logprobs: true, topLogprobs: 5)
        let r = try await engine.complete(CompletionRequest(prompt: .text("Compute 12+7-3."), parameters: p))
        let c = r.completions[0]
        let positions = try XCTUnwrap(c.topLogprobs)
        XCTAssertEqual(positions.count, c.tokens.count)
        let direct = directLogprobs(engine, prompt: r.promptTokens, completion: c)
        let (values, indices) = direct.topK(5, axis: -1)
        let v = values.toArray(Double.self)
        let ids = indices.toArray(Int.self)
        for (i, position) in positions.enumerated() {
            XCTAssertEqual(position.id, c.tokens[i])
            XCTAssertEqual(position.token, engine.tokenizer.decode([c.tokens[i]]))
            XCTAssertEqual(position.top.map { $0.id ?? -1 }, Array(ids[(i * 5)..<(i * 5 + 5)]), "position \(i): the five most likely tokens")
            for (k, alt) in position.top.enumerated() {
                XCTAssertEqual(alt.logprob, v[i * 5 + k], accuracy: 1e-4, "position \(i), rank \(k)")
                XCTAssertEqual(alt.token, engine.tokenizer.decode([alt.id!]))
            }
            // Greedy: the emitted token is the most likely one, with the same log-probability.
            XCTAssertEqual(position.top[0].id, c.tokens[i])
            XCTAssertEqual(position.logprob, position.top[0].logprob)
            XCTAssertEqual(position.logprob, c.logprobs![i], accuracy: 1e-5, "greedy rows report the raw distribution everywhere")
        }
    }

    /// Sampled rows: alternatives sorted, `k` of them, the emitted token's entry equal to its own log-probability,
    /// everything from the untempered distribution (while `Completion.logprobs` stays temperature-scaled); a row that
    /// did not ask in the same batch gets nothing and the same tokens as alone.
    func testSampledRowsReportTheRawDistributionOnlyWhenAsked() async throws {
        let engine = try engine()
        let asking = SamplingParameters(maxTokens: 20, temperature: 0.7, seed: 3, n: 2, logprobs: true, topLogprobs: 3)
        let plain = SamplingParameters(maxTokens: 20, temperature: 0.7, seed: 4)
        let prompt = Prompt.text("Compute 4+5.")
        let both = try await engine.rollouts([
            CompletionRequest(prompt: prompt, parameters: asking), CompletionRequest(prompt: prompt, parameters: plain),
        ])
        let alone = try await engine.complete(CompletionRequest(prompt: prompt, parameters: plain))
        XCTAssertNil(both[1].completions[0].topLogprobs)
        XCTAssertEqual(both[1].completions[0].tokens, alone.completions[0].tokens)
        var found = 0
        var tempered = 0
        for c in both[0].completions {
            let positions = try XCTUnwrap(c.topLogprobs)
            XCTAssertEqual(positions.count, c.tokens.count)
            let direct = directLogprobs(engine, prompt: both[0].promptTokens, completion: c)
            for (i, position) in positions.enumerated() {
                XCTAssertEqual(position.top.count, 3)
                XCTAssertEqual(position.top.map(\.logprob), position.top.map(\.logprob).sorted(by: >), "most likely first")
                XCTAssertEqual(position.logprob, direct[i][c.tokens[i]].item(), accuracy: 1e-4)
                if let entry = position.top.first(where: { $0.id == c.tokens[i] }) {
                    XCTAssertEqual(entry.logprob, position.logprob)
                    found += 1
                } else {
                    XCTAssertLessThanOrEqual(position.logprob, position.top[2].logprob)
                }
                if abs(position.logprob - c.logprobs![i]) > 1e-3 { tempered += 1 }
            }
        }
        XCTAssertGreaterThan(found, 0, "some sampled tokens rank in the top 3")
        XCTAssertGreaterThan(tempered, 0, "Completion.logprobs is under the temperature-scaled distribution, topLogprobs not")
    }

    /// A stream's chunks carry, together, exactly the whole response's log-probabilities (stop strings hold text
    /// back; the end token and tokens cut with a stop string come with the last chunk), and the request's last
    /// chunk carries the exact usage.
    func testStreamedLogprobsAndUsageEqualTheWholeResponse() async throws {
        let engine = try engine()
        for stop in [[String](), ["1", "+"]] {
            let p = SamplingParameters(maxTokens: 24, temperature: 0.9, stop: stop, seed: 11, n: 3, logprobs: true, topLogprobs: 2)
            let request = CompletionRequest(prompt: .text("Compute 3+8-2."), parameters: p)
            let whole = try await engine.complete(request)
            var positions = [[PositionLogprobs]](repeating: [], count: 3)
            var usages: [Usage] = []
            for try await chunk in engine.stream(request) {
                positions[chunk.index] += chunk.logprobs
                if let u = chunk.usage { usages.append(u) }
            }
            XCTAssertEqual(positions, whole.completions.map { $0.topLogprobs ?? [] }, "stop \(stop)")
            XCTAssertEqual(usages, [whole.usage], "one usage, on the last chunk, equal to the whole response's")
            XCTAssertEqual(whole.usage.completionTokens, whole.completions.reduce(0) { $0 + $1.tokens.count })
        }
    }

    /// Known logits: the raw log-softmax, whatever the temperature; the emitted token's value even outside the top k;
    /// nothing for a row that did not ask.
    func testSamplerTopLogprobsOnKnownLogits() {
        let logits = Tensor([1, 3, 2, 0, 0, 0, 5, 1] as [Float], shape: [2, 4])
        let rows = [SamplingParameters(temperature: 0.5, topLogprobs: 2), SamplingParameters()]
        let out = Sampler.topLogprobs(logits: logits, rows: rows, tokens: [0, 2])
        XCTAssertNil(out[1])
        let lse = log(exp(1.0) + exp(3.0) + exp(2.0) + exp(0.0))
        let first = try! XCTUnwrap(out[0])
        XCTAssertEqual(first.token, 0)
        XCTAssertEqual(first.tokens, [1, 2])
        XCTAssertEqual(first.logprobs[0], 3 - lse, accuracy: 1e-5)
        XCTAssertEqual(first.logprobs[1], 2 - lse, accuracy: 1e-5)
        XCTAssertEqual(first.logprob, 1 - lse, accuracy: 1e-5)
        XCTAssertEqual(Sampler.topLogprobs(logits: logits, rows: [SamplingParameters(), SamplingParameters()], tokens: [0, 0]).compactMap { $0 }.count, 0)
    }

    func testNegativeTopLogprobsIsRefused() async throws {
        let engine = try engine()
        let p = SamplingParameters(maxTokens: 4, topLogprobs: -1)
        do {
            _ = try await engine.complete(CompletionRequest(prompt: .text("1+1"), parameters: p))
            XCTFail("topLogprobs -1 was accepted")
        } catch let error as PonderError {
            XCTAssertTrue(error.description.contains("topLogprobs"), error.description)
        }
    }
}
