import PonderCore
import Torch
import XCTest

@testable import PonderModels

final class GeneratorTests: XCTestCase {
    var model: CausalLM!
    override func setUpWithError() throws { model = try ModelDirectory.load(fixtureURL("tiny-qwen3")) }

    func row(
        _ prompt: [Int], temperature: Double = 0, maxTokens: Int = 10, seed: UInt64 = 0, index: Int = 0,
        controller: SequenceController? = nil, logprobs: Bool = true
    ) -> GenerationRow {
        GenerationRow(
            prompt: prompt, sampling: SamplingParameters(maxTokens: maxTokens, temperature: temperature, logprobs: logprobs),
            random: SampleRandom(seed: seed, index: index), controller: controller)
    }

    func testBatchingDoesNotChangeAResult() throws {
        let g = Generator(model: model, endTokens: [])
        let a = [5, 17, 33, 8, 41, 9]
        let b = [70, 3]
        let c = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]
        for temperature in [0.0, 1.0] {
            let (alone, _) = try g.generate([row(a, temperature: temperature, seed: 3)])
            let (batched, _) = try g.generate([
                row(b, temperature: temperature, seed: 9), row(a, temperature: temperature, seed: 3),
                row(c, temperature: temperature, seed: 1),
            ])
            XCTAssertEqual(batched[1].tokens, alone[0].tokens, "temperature \(temperature)")
            XCTAssertEqual(batched[1].logprobs.count, alone[0].tokens.count)
            for (x, y) in zip(batched[1].logprobs, alone[0].logprobs) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        }
    }

    /// Rows that do not ask for log-probabilities get none (greedy rows skip the log-sum-exp), and the same tokens.
    func testLogprobsOnlyWhenAsked() throws {
        let g = Generator(model: model, endTokens: [])
        let prompt = [5, 17, 33, 8]
        for temperature in [0.0, 1.0] {
            let (outputs, _) = try g.generate([
                row(prompt, temperature: temperature, seed: 4, logprobs: true),
                row(prompt, temperature: temperature, seed: 4, logprobs: false),
            ])
            XCTAssertEqual(outputs[0].tokens, outputs[1].tokens, "temperature \(temperature)")
            XCTAssertEqual(outputs[0].logprobs.count, outputs[0].tokens.count)
            XCTAssertTrue(outputs[0].logprobs.allSatisfy { $0.isFinite && $0 <= 0 })
            XCTAssertEqual(outputs[1].logprobs, [], "temperature \(temperature)")
        }
    }

    /// Decode steps of 4-64 float32 rows run on weights packed for MKL's GEMM: the same tokens and
    /// log-probabilities as the plain path; weights written in place (a training step) are repacked before the next
    /// use, never served stale; a forward pass that records gradients drops the packed copies.
    func testPackedDecodeWeights() throws {
        try XCTSkipUnless(PackedLinearWeight.isAvailable, "this libtorch has no MKL packed GEMM (mkl::_mkl_linear)")
        XCTAssertEqual(model.dtype, .float32)
        let g = Generator(model: model, endTokens: [])
        let rows = (0..<6).map { row([5 + $0, 17, 33, 8 * $0 + 1], maxTokens: 12, seed: 5, index: $0) }
        func generate(packed: Bool) throws -> [GenerationOutput] {
            model.packsDecodeWeights = packed
            return try g.generate(rows).0
        }
        func assertSame(_ a: [GenerationOutput], _ b: [GenerationOutput], _ message: String) {
            XCTAssertEqual(a.map(\.tokens), b.map(\.tokens), message)
            for (x, y) in zip(a, b) {
                for (p, q) in zip(x.logprobs, y.logprobs) { XCTAssertEqual(p, q, accuracy: 1e-4, message) }
            }
        }
        let plain = try generate(packed: false)
        XCTAssertEqual(model.packedWeightBytes, 0)
        let packed = try generate(packed: true)
        XCTAssertGreaterThan(model.packedWeightBytes, 0, "6 float32 rows decode on packed weights")
        assertSame(packed, plain, "packed against plain")
        // A budget smaller than the projections: some are packed, the rest run plain, the answer is the same.
        let all = model.packedWeightBytes
        model.releasePackedWeights()
        model.maxPackedBytes = all / 3
        assertSame(try generate(packed: true), plain, "packed in part")
        XCTAssertGreaterThan(model.packedWeightBytes, 0)
        XCTAssertLessThanOrEqual(model.packedWeightBytes, all / 3)
        model.maxPackedBytes = .max
        // An in-place update of every projection (what an optimizer step does): packs made before it are stale.
        withNoGrad {
            for key in model.parameters.keys where key.hasSuffix("proj.weight") {
                let w = model.parameters[key]!
                w.add_(Tensor.randn(w.shape) * 0.5)
            }
        }
        let plainAfter = try generate(packed: false)
        XCTAssertNotEqual(plainAfter.map(\.tokens), plain.map(\.tokens), "the update changes what the model says")
        assertSame(try generate(packed: true), plainAfter, "after an in-place update")
        _ = model(Tensor([1, 2, 3] as [Int64], shape: [1, 3]))  // records gradients: training
        XCTAssertEqual(model.packedWeightBytes, 0, "a training forward drops the packed copies")
    }

    func testSeedsAndSharedPrefill() throws {
        let g = Generator(model: model, endTokens: [])
        let prompt = [4, 8, 15, 16, 23, 42]
        let rows = (0..<4).map { row(prompt, temperature: 1, seed: 77, index: $0) }
        let (first, stats) = try g.generate(rows)
        let (second, _) = try g.generate(rows)
        XCTAssertEqual(first, second, "same seeds, same samples")
        XCTAssertEqual(stats.prefillTokens, prompt.count, "n samples share one prefill")
        XCTAssertGreaterThan(Set(first.map(\.tokens)).count, 1, "different sample indices draw differently")
        let (other, _) = try g.generate((0..<4).map { row(prompt, temperature: 1, seed: 78, index: $0) })
        XCTAssertNotEqual(other.map(\.tokens), first.map(\.tokens))
        // Reported log-probabilities are those of the temperature-scaled distribution.
        let ids = Tensor((prompt + first[0].tokens.dropLast()).map(Int64.init), shape: [1, prompt.count + 9])
        let logp = withNoGrad { model(ids).logSoftmax(axis: -1) }
        for (i, token) in first[0].tokens.enumerated() {
            XCTAssertEqual(logp[0][prompt.count - 1 + i][token].item(), first[0].logprobs[i], accuracy: 1e-4)
        }
    }

    func testStopsAtEndTokensAndLength() throws {
        let (greedy, _) = try Generator(model: model, endTokens: []).generate([row([1, 2, 3], maxTokens: 8)])
        let end = greedy[0].tokens[3]
        let (stopped, _) = try Generator(model: model, endTokens: [end]).generate([row([1, 2, 3], maxTokens: 8)])
        XCTAssertEqual(stopped[0].tokens, Array(greedy[0].tokens.prefix(through: greedy[0].tokens.firstIndex(of: end)!)))
        XCTAssertEqual(stopped[0].stop, .endOfSequence(token: end))
        XCTAssertEqual(greedy[0].stop, .length(inThinking: false))
        XCTAssertEqual(greedy[0].sampled, Array(repeating: true, count: 8), "nothing was forced")
        XCTAssertEqual(greedy[0].tokens.count, 8)
    }

    /// `minTokens` keeps end tokens from being sampled until a completion is that long, and only in its own row.
    func testMinTokensHoldsOffEndTokens() throws {
        let (greedy, _) = try Generator(model: model, endTokens: []).generate([row([1, 2, 3], maxTokens: 12)])
        let end = greedy[0].tokens[3]
        let k = greedy[0].tokens.firstIndex(of: end)!
        var held = row([1, 2, 3], maxTokens: 12)
        held.sampling.minTokens = 6
        let g = Generator(model: model, endTokens: [end])
        let (out, _) = try g.generate([held, row([1, 2, 3], maxTokens: 12)])
        XCTAssertFalse(out[0].tokens.prefix(6).contains(end), "no end token among the first six: \(out[0].tokens)")
        XCTAssertGreaterThanOrEqual(out[0].tokens.count, 6)
        XCTAssertEqual(Array(out[0].tokens.prefix(k)), Array(greedy[0].tokens.prefix(k)), "the same greedy path up to the end token")
        XCTAssertEqual(out[1].tokens, Array(greedy[0].tokens.prefix(through: k)), "the row without a minimum still stops at the end token")
        XCTAssertEqual(out[1].stop, .endOfSequence(token: end))
        // The reported log-probability is that of the distribution drawn from, which excludes the end token.
        let ids = Tensor(([1, 2, 3] + out[0].tokens.prefix(k)).map(Int64.init), shape: [1, 3 + k])
        let logits = withNoGrad { model(ids) }[0][2 + k].toArray(Float.self).map { Double($0) }
        let others = logits.indices.filter { $0 != end }
        let top = others.map { logits[$0] }.max()!
        let logSum = top + log(others.map { exp(logits[$0] - top) }.reduce(0, +))
        XCTAssertEqual(out[0].logprobs[k], logits[out[0].tokens[k]] - logSum, accuracy: 1e-4)
        var invalid = held.sampling
        invalid.minTokens = 13
        XCTAssertThrowsError(try invalid.validate())
        invalid.minTokens = 2
        invalid.stop = ["x"]
        XCTAssertThrowsError(try invalid.validate())
    }

    /// A forked cache continues exactly as the original; a prompt extending a cached sequence reuses it and
    /// continues exactly as a full recomputation does.
    func testKVForkAndPrefixReuse() throws {
        let prompt = [9, 8, 7, 6, 5, 4, 3]
        let cache = KVCache(configuration: model.configuration, batch: 1, capacity: 20, dtype: model.dtype)
        withNoGrad {
            _ = model(Tensor(prompt.map(Int64.init), shape: [1, 7]), cache: cache)
            let single = cache.fork(rows: [0])
            let pair = cache.fork(rows: [0, 0])
            let next = Tensor([30] as [Int64], shape: [1, 1])
            let original = model(next, cache: cache)
            XCTAssertEqual(maxDifference(model(next, cache: single), original), 0, "same shapes: bit-identical")
            let forked = model(Tensor([30, 30] as [Int64], shape: [2, 1]), cache: pair)
            XCTAssertLessThan(maxDifference(forked[0], forked[1]), 1e-5)
            XCTAssertLessThan(maxDifference(forked[0], original[0]), 1e-5, "a batch of two may round differently in the last bit")
        }
        let plain = Generator(model: model, endTokens: [])
        let (full, _) = try plain.generate([row(prompt, maxTokens: 12)])
        let reuse = Generator(model: model, endTokens: [], prefixCache: PrefixCache(maxBytes: 1 << 26), minimumPrefixHit: 1)
        _ = try reuse.generate([row(prompt, maxTokens: 6)])
        let extended = prompt + Array(full[0].tokens.prefix(4))
        let (rest, stats) = try reuse.generate([row(extended, maxTokens: 8)])
        XCTAssertEqual(stats.reusedTokens, extended.count - 1, "everything but the last prompt token came from the cache")
        XCTAssertEqual(stats.prefillTokens, 1)
        XCTAssertEqual(rest[0].tokens, Array(full[0].tokens.dropFirst(4)))
    }

    /// Several prompts in one batch, each extending a different cached sequence, reuse their caches and continue
    /// exactly as a batch computed from scratch.
    func testPrefixReuseForSeveralPrompts() throws {
        let a = [9, 8, 7, 6, 5, 4, 3]
        let b = [20, 21, 22, 23]
        let reuse = Generator(model: model, endTokens: [], prefixCache: PrefixCache(maxBytes: 1 << 26), minimumPrefixHit: 1)
        let (first, _) = try reuse.generate([row(a, maxTokens: 5), row(b, maxTokens: 5)])
        let extended = [a + Array(first[0].tokens.prefix(3)), b + Array(first[1].tokens.prefix(2)) + [40], [50, 51, 52]]
        let (plain, _) = try Generator(model: model, endTokens: []).generate(extended.map { row($0, maxTokens: 6) })
        let (reused, stats) = try reuse.generate(extended.map { row($0, maxTokens: 6) })
        XCTAssertEqual(reused.map(\.tokens), plain.map(\.tokens))
        XCTAssertEqual(stats.reusedByPrompt[extended[0]], extended[0].count - 1)
        XCTAssertEqual(stats.reusedByPrompt[extended[1]], b.count + 2)
        XCTAssertNil(stats.reusedByPrompt[extended[2]], "a new prompt is computed in full")
        XCTAssertEqual(stats.prefillTokens, 1 + 1 + 3)
    }

    func testContextAndMemoryLimits() throws {
        let g = Generator(model: model, endTokens: [])
        XCTAssertThrowsError(try g.generate([row(Array(repeating: 3, count: 120), maxTokens: 20)])) {
            XCTAssertEqual($0 as? PonderError, .contextOverflow(promptTokens: 120, maxTokens: 20, contextLength: 128))
        }
        XCTAssertThrowsError(try g.generate([row([], maxTokens: 2)]))
        let small = Generator(model: model, endTokens: [], maxCacheBytes: 1000)
        XCTAssertThrowsError(try small.generate([row([1, 2], maxTokens: 2)])) {
            guard case .cacheTooLarge(let bytes, 1000)? = $0 as? ModelError else { return XCTFail("\($0)") }
            XCTAssertEqual(bytes, KVCache.bytes(configuration: self.model.configuration, batch: 1, capacity: 4, dtype: .float32))
        }
    }

    func testBudgetForcing() throws {
        let thinkEnd = 90
        let wait = [91, 92]
        // Maximum: after 3 thinking tokens the end of thinking is forced in.
        let capped = try BudgetController(
            budget: ThinkingBudget(maxThinkingTokens: 3), startsThinking: true, thinkStart: [89], thinkEnd: [thinkEnd], continuation: wait,
            endTokens: [])
        let (out, _) = try Generator(model: model, endTokens: []).generate([row([1, 2, 3], maxTokens: 8, controller: capped)])
        XCTAssertEqual(out[0].tokens[3], thinkEnd)
        XCTAssertEqual(out[0].sampled, [true, true, true, false, true, true, true, true], "the forced </think> is marked as forced")
        XCTAssertEqual(out[0].stop, .length(inThinking: false))
        XCTAssertFalse(capped.thinking)
        XCTAssertEqual(capped.thinkingTokens, 3)
        // Minimum: an early end of thinking (or of the sequence) becomes "Wait" and thinking goes on.
        let floor = try BudgetController(
            budget: ThinkingBudget(minThinkingTokens: 4), startsThinking: true, thinkStart: [89], thinkEnd: [thinkEnd], continuation: wait,
            endTokens: [2])
        XCTAssertEqual(floor.replace(sampled: thinkEnd), 91)
        XCTAssertEqual(floor.forcedToken(), 92)
        XCTAssertNil(floor.forcedToken())
        XCTAssertEqual(floor.replace(sampled: 2), 91, "EOS while thinking is an early end too")
        for t in [91, 92, 40, 41] { XCTAssertNil(floor.accept(t)) }
        XCTAssertEqual(floor.replace(sampled: thinkEnd), thinkEnd, "after the minimum the model may close")
        XCTAssertThrowsError(
            try BudgetController(
                budget: ThinkingBudget(minThinkingTokens: 2), startsThinking: true, thinkStart: [], thinkEnd: [5, 6], continuation: wait,
                endTokens: []))
    }

    /// Rows that join a decoding batch mid-flight (with shorter and longer prompts than the running rows have
    /// reached) and rows that leave early each generate exactly what they generate alone.
    func testRowsJoiningMidFlightMatchRunningAlone() throws {
        let g = Generator(model: model, endTokens: [])
        let rows = [
            row([5, 17, 33, 8, 41, 9], temperature: 1, maxTokens: 20, seed: 3),
            row([70, 3], temperature: 1, maxTokens: 4, seed: 9),
            row(Array(30..<58), temperature: 0, maxTokens: 12),
            row([11, 12, 13], temperature: 1.2, maxTokens: 9, seed: 1, index: 2),
        ]
        let alone = try rows.map { try g.generate([$0]).0[0] }
        let batch = DecodeBatch(generator: g)
        var outputs: [Int: GenerationOutput] = [:]
        var ids = try batch.add([rows[0]]).ids
        func steps(_ k: Int) { for _ in 0..<k { for (id, o) in batch.step() { outputs[id] = o } } }
        steps(3)
        ids += try batch.add([rows[1], rows[2]]).ids  // one shorter, one longer than the running row's 6 + 3 columns
        steps(6)  // rows[1] finishes and leaves
        XCTAssertEqual(batch.count, 2)
        ids += try batch.add([rows[3]]).ids
        while !batch.isEmpty { steps(1) }
        for (i, id) in ids.enumerated() {
            XCTAssertEqual(outputs[id]?.tokens, alone[i].tokens, "row \(i)")
            for (x, y) in zip(outputs[id]!.logprobs, alone[i].logprobs) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        }
        XCTAssertEqual(batch.cacheBytes, 0, "an empty batch holds no cache")
    }

    /// In a batch of ten, finished rows leave at once and a cancelled row leaves without a result; leaving moves
    /// at most one row of keys and values per leaver (never the whole cache), and the others' results are unchanged.
    func testFinishedRowsLeaveAtOnce() throws {
        let g = Generator(model: model, endTokens: [])
        let rows = (0..<10).map { i in row(Array(1...(2 + i % 4)), temperature: 1, maxTokens: 3 + i, seed: UInt64(i)) }
        let alone = try rows.map { try g.generate([$0]).0[0] }
        let batch = DecodeBatch(generator: g)
        let ids = try batch.add(rows).ids
        let bytes = batch.cacheBytes
        var outputs: [Int: GenerationOutput] = [:]
        var removed = false
        while !batch.isEmpty {
            if batch.count == 5 && !removed {
                batch.remove([ids[9]])
                removed = true
            }
            for (id, o) in batch.step() { outputs[id] = o }
            XCTAssertEqual(batch.count, 10 - outputs.count - (removed ? 1 : 0), "finished rows leave at once")
            if !batch.isEmpty { XCTAssertEqual(batch.cacheBytes, bytes, "leaving rows free buffer rows; the buffer stays") }
        }
        for i in 0..<9 { XCTAssertEqual(outputs[ids[i]]?.tokens, alone[i].tokens, "row \(i)") }
        XCTAssertNil(outputs[ids[9]], "a removed row reports nothing")
        XCTAssertEqual(batch.stats.reallocations, 0)
        // A moved row copies at most its columns (prompt plus generated tokens) of one row.
        let perColumn = KVCache.bytes(configuration: model.configuration, batch: 1, capacity: 1, dtype: model.dtype)
        XCTAssertLessThanOrEqual(batch.stats.cacheCopyBytes, 9 * perColumn * (5 + 12))
        XCTAssertEqual(batch.cacheBytes, 0)
    }

    /// After one reallocation the buffer keeps spare rows and columns: later joins copy only their own keys and
    /// values, and every row still gets its solo result.
    func testJoinsFillSpareRowsWithoutCopyingTheBatch() throws {
        let g = Generator(model: model, endTokens: [])
        let rows = (0..<5).map { i in row(Array(1...(3 + i)), temperature: 1, maxTokens: 8 + 2 * i, seed: UInt64(i)) }
        let alone = try rows.map { try g.generate([$0]).0[0] }
        let perColumn = KVCache.bytes(configuration: model.configuration, batch: 1, capacity: 1, dtype: model.dtype)
        let batch = DecodeBatch(generator: g)
        var outputs: [Int: GenerationOutput] = [:]
        func steps(_ k: Int) { for _ in 0..<k { for (id, o) in batch.step() { outputs[id] = o } } }
        var ids = try batch.add([rows[0], rows[1]]).ids
        XCTAssertEqual(batch.stats.reallocations, 0, "an idle batch takes its prefill cache as its buffer")
        XCTAssertEqual(batch.stats.cacheCopyBytes, 0)
        steps(1)
        ids += try batch.add([rows[2]]).ids  // no free row: the buffer is reallocated, with spare rows and columns
        XCTAssertEqual(batch.stats.reallocations, 1)
        let bytes = batch.cacheBytes
        XCTAssertGreaterThan(bytes, g.cacheBytes(rows: 3, columns: 5 + 12))
        steps(3)
        let copied = batch.stats.cacheCopyBytes
        XCTAssertEqual(batch.cacheBytes(adding: [rows[3], rows[4]]), bytes, "the joins fit the spare rows and columns")
        ids += try batch.add([rows[3], rows[4]]).ids
        XCTAssertEqual(batch.stats.reallocations, 1)
        XCTAssertEqual(batch.cacheBytes, bytes)
        XCTAssertEqual(batch.stats.cacheCopyBytes - copied, 2 * 7 * perColumn, "only the joining rows' 7 prompt columns are copied")
        while !batch.isEmpty { steps(1) }
        for (i, id) in ids.enumerated() {
            XCTAssertEqual(outputs[id]?.tokens, alone[i].tokens, "row \(i)")
            for (x, y) in zip(outputs[id]!.logprobs, alone[i].logprobs) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        }
    }

    /// The bytes `cacheBytes(adding:)` predicts are the bytes the batch then holds; a join over the limit throws
    /// and leaves the running rows untouched.
    func testCacheBytesAdmission() throws {
        let a = row([1, 2, 3, 4, 5], temperature: 1, maxTokens: 10, seed: 4)
        let b = row([7, 8], maxTokens: 30)
        let perColumn = KVCache.bytes(configuration: model.configuration, batch: 1, capacity: 1, dtype: model.dtype)
        let g = Generator(model: model, endTokens: [], maxCacheBytes: perColumn * 40)
        let batch = DecodeBatch(generator: g)
        XCTAssertEqual(batch.cacheBytes(adding: [a]), perColumn * 15)
        let id = try batch.add([a]).ids[0]
        XCTAssertEqual(batch.cacheBytes, perColumn * 15)
        _ = batch.step()
        XCTAssertEqual(batch.cacheBytes(adding: [b]), 2 * perColumn * (5 + 1 + 30), "both rows end at the last column")
        XCTAssertThrowsError(try batch.add([b])) {
            guard case .cacheTooLarge(let bytes, let limit)? = $0 as? ModelError else { return XCTFail("\($0)") }
            XCTAssertEqual(bytes, 2 * perColumn * 36)
            XCTAssertEqual(limit, perColumn * 40)
        }
        var out: GenerationOutput?
        while !batch.isEmpty { for (i, o) in batch.step() where i == id { out = o } }
        XCTAssertEqual(out?.tokens, try g.generate([a]).0[0].tokens, "the refused join did not disturb the running row")
    }

    /// Prefix-cache entries hold only their own tokens (no left padding from their batch), and a prompt extending
    /// one reuses it only when it shares at least `minimumPrefixHit` tokens.
    func testPrefixEntriesWithoutPaddingAndMinimumHit() throws {
        let short = [3, 1, 4]
        let long = Array(40..<52)
        let g = Generator(model: model, endTokens: [], prefixCache: PrefixCache(maxBytes: 1 << 26), minimumPrefixHit: 8)
        let (first, _) = try g.generate([row(short, maxTokens: 10), row(long, maxTokens: 3)])
        let stored = g.prefixCache!.stored
        XCTAssertEqual(stored.count, 2)
        for entry in stored {
            XCTAssertEqual(entry.padding, 0)
            XCTAssertEqual(entry.length, entry.tokens.count)
        }
        XCTAssertEqual(Set(stored.map(\.tokens)), [short + first[0].tokens.dropLast(), long + first[1].tokens.dropLast()])
        let plain = Generator(model: model, endTokens: [])
        // The short row was padded by 9 columns in its batch; its entry still continues exactly.
        let extended = short + Array(first[0].tokens.prefix(7))  // shares 10 tokens: reused
        let (reused, stats) = try g.generate([row(extended, maxTokens: 5)])
        XCTAssertEqual(stats.reusedTokens, 9)
        XCTAssertEqual(reused[0].tokens, try plain.generate([row(extended, maxTokens: 5)]).0[0].tokens)
        let barely = Array(long.prefix(6)) + [99, 98]  // shares 6 < 8 tokens: computed in full
        let (_, missStats) = try g.generate([row(barely, maxTokens: 2)])
        XCTAssertEqual(missStats.reusedTokens, 0)
        XCTAssertEqual(missStats.prefillTokens, barely.count)
    }
}

final class SamplerTests: XCTestCase {
    let logits = Tensor([0.0, 1.0, 2.0, 3.0, -1.0, 0.5] as [Float], shape: [1, 6])

    func draws(_ s: SamplingParameters, count: Int = 3000) -> [Int] {
        var random = SampleRandom(seed: 5, index: 0)
        let batch = logits.expanded([count, 6]).contiguous()
        return Sampler.sample(logits: batch, rows: Array(repeating: s, count: count), uniforms: (0..<count).map { _ in random.uniform() })
            .tokens
    }

    func testTruncationNeverEmitsExcludedTokens() {
        XCTAssertEqual(Set(draws(SamplingParameters(topK: 2))), [2, 3])
        // probabilities ∝ e^[0,1,2,3,-1,.5] = .032 .087 .237 .644 .012 .053: top-p 0.7 keeps 3 and 2 (3 alone is .644 < .7).
        XCTAssertEqual(Set(draws(SamplingParameters(topP: 0.7))), [2, 3])
        XCTAssertEqual(Set(draws(SamplingParameters(topP: 0.5))), [3])
        // Top-p acts on the distribution renormalised over the top-k set (transformers' and vLLM's order): the two
        // most likely tokens hold about 0.61 and 0.22 of the mass, 0.73 and 0.27 once renormalised, so top-p 0.7 keeps
        // only the first; computed on the full distribution it would keep both.
        XCTAssertEqual(Set(draws(SamplingParameters(topK: 2, topP: 0.7))), [3])
        // min-p 0.1: keep tokens with p >= 0.0644: 3, 2, 1.
        XCTAssertEqual(Set(draws(SamplingParameters(minP: 0.1))), [1, 2, 3])
        XCTAssertEqual(Set(draws(SamplingParameters(temperature: 0))), [3])
    }

    func testFrequenciesMatchTheDistribution() {
        let n = 20000
        for temperature in [1.0, 0.5] {
            let tokens = draws(SamplingParameters(temperature: temperature), count: n)
            let weights = [0.0, 1, 2, 3, -1, 0.5].map { Foundation.exp($0 / temperature) }
            let total = weights.reduce(0, +)
            for t in 0..<6 {
                let observed = Double(tokens.filter { $0 == t }.count) / Double(n)
                XCTAssertEqual(observed, weights[t] / total, accuracy: 0.012, "token \(t) at temperature \(temperature)")
            }
        }
    }

    func testPerRowSettingsInOneBatch() {
        let batch = concatenated([logits, logits, logits, logits])
        let rows = [
            SamplingParameters(temperature: 0), SamplingParameters(temperature: 2, topK: 1, logprobs: true),
            SamplingParameters(temperature: 0, logprobs: true),
            SamplingParameters(temperature: 0.5, logprobs: true),
        ]
        let (tokens, logprobs) = Sampler.sample(logits: batch, rows: rows, uniforms: [0.5, 0.99, 0.5, 0.5], forced: [nil, nil, nil, 4])
        XCTAssertEqual(tokens, [3, 3, 3, 4])
        XCTAssertNil(logprobs[0], "a greedy row that does not ask gets no log-probability")
        func logSoftmax(_ t: Double, at token: Int) -> Double {
            let scaled = [0.0, 1, 2, 3, -1, 0.5].map { Foundation.exp($0 / t) }
            return Foundation.log(scaled[token] / scaled.reduce(0, +))
        }
        XCTAssertEqual(logprobs[1]!, logSoftmax(2, at: 3), accuracy: 1e-5, "log-probability of the temperature-scaled distribution")
        XCTAssertEqual(logprobs[2]!, logSoftmax(1, at: 3), accuracy: 1e-5, "greedy: log-softmax of the raw logits")
        XCTAssertEqual(logprobs[3]!, logSoftmax(0.5, at: 4), accuracy: 1e-5, "a forced token's log-probability")
        // bfloat16 logits sample the same tokens (the argmax needs no conversion).
        XCTAssertEqual(Sampler.sample(logits: batch.to(.bfloat16), rows: rows, uniforms: [0.5, 0.99, 0.5, 0.5], forced: [nil, nil, nil, 4]).tokens, tokens)
    }
}
