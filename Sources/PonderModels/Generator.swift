import PonderCore
import Torch

/// Decides, token by token, what one sequence emits and when it stops (stop strings, thinking budgets).
public protocol SequenceController: AnyObject {
    /// A token to emit next instead of sampling, if the controller is forcing text in.
    func forcedToken() -> Int?
    /// Called with the token the model sampled; returns the token to emit in its place (usually the same).
    func replace(sampled: Int) -> Int
    /// Called after each emitted token; returns a reason to stop, or `nil` to go on.
    func accept(_ token: Int) -> StopReason?
    /// Whether the sequence is inside its thinking section now.
    var isThinking: Bool { get }
}

/// One sequence for `Generator.generate`.
public struct GenerationRow {
    /// Prompt token ids (at least one).
    public var prompt: [Int]
    /// Decoding settings, as the request gave them (`maxTokens` bounds the new tokens; `n`, `stop`, `seed` and
    /// `thinking` are the engine's business and ignored here).
    public var sampling: SamplingParameters
    /// The sample's random stream.
    public var random: SampleRandom
    /// Stop and budget logic; `nil` stops only at `maxTokens` or the model's end-of-sequence tokens.
    public var controller: SequenceController?

    /// Makes a row.
    public init(prompt: [Int], sampling: SamplingParameters, random: SampleRandom, controller: SequenceController? = nil) {
        self.prompt = prompt
        self.sampling = sampling
        self.random = random
        self.controller = controller
    }
}

/// What one row produced.
public struct GenerationOutput: Sendable, Equatable {
    /// Emitted tokens (including a final end-of-sequence token, if any).
    public var tokens: [Int]
    /// Log-probability of each emitted token under the temperature-scaled distribution.
    public var logprobs: [Double]
    /// Per emitted token: sampled by the model (`true`) or forced in by the controller (`false`).
    public var sampled: [Bool]
    /// Which stop ended it.
    public var stop: StopReason
    /// DeepConf token confidences, for rows whose settings ask for them (else empty).
    public var confidences: [Double] = []
}

/// Work counters for one `generate` call.
public struct GenerationStats: Sendable, Equatable {
    /// Prompt tokens run through the model.
    public var prefillTokens = 0
    /// Prompt tokens served from the prefix cache instead.
    public var reusedTokens = 0
    /// Batched decode steps.
    public var decodeSteps = 0
    /// Tokens emitted over all rows.
    public var generatedTokens = 0
    /// Bytes of the KV cache allocated.
    public var cacheBytes = 0
    /// Prompt tokens served from the prefix cache, per prompt.
    public var reusedByPrompt: [[Int]: Int] = [:]
}

/// Batched prefill and decode over a `CausalLM` with a preallocated KV cache.
///
/// Rows with equal prompts share one prefill (their cache rows are forked from it). Prompts of different lengths
/// are left-padded; padded columns are masked out and positions start at each row's first real token, so a
/// row's result does not depend on what else is in the batch. Finished rows leave the batch as it decodes.
public final class Generator {
    /// The model.
    public let model: CausalLM
    /// Token ids that end a sequence.
    public var endTokens: Set<Int>
    /// Largest KV cache one call may allocate.
    public var maxCacheBytes: Int
    /// Reuse of earlier sequences' KV caches for prompts that extend them (`nil` to disable).
    public var prefixCache: PrefixCache?
    /// Number of `generate` calls so far (each is one batch), so callers can tell batched work from sequential.
    public private(set) var generateCalls = 0

    /// A generator for `model`.
    public init(model: CausalLM, endTokens: Set<Int>, maxCacheBytes: Int = 4 << 30, prefixCache: PrefixCache? = nil) {
        self.model = model
        self.endTokens = endTokens
        self.maxCacheBytes = maxCacheBytes
        self.prefixCache = prefixCache
    }

    /// Generates every row; `onToken(row, token)` is called as tokens are emitted (for streaming).
    public func generate(_ rows: [GenerationRow], onToken: ((Int, Int) -> Void)? = nil) throws -> ([GenerationOutput], GenerationStats) {
        guard !rows.isEmpty else { return ([], GenerationStats()) }
        generateCalls += 1
        let context = model.configuration.maxPositionEmbeddings
        for row in rows {
            guard !row.prompt.isEmpty else { throw PonderError.invalidArgument("prompt is empty (a prompt needs at least one token)") }
            if row.prompt.count + row.sampling.maxTokens > context {
                throw PonderError.contextOverflow(promptTokens: row.prompt.count, maxTokens: row.sampling.maxTokens, contextLength: context)
            }
        }
        return try withNoGrad { try run(rows, onToken: onToken) }
    }

    private func run(_ rows: [GenerationRow], onToken: ((Int, Int) -> Void)?) throws -> ([GenerationOutput], GenerationStats) {
        var stats = GenerationStats()
        var uniquePrompts: [[Int]] = []
        var uniqueIndex: [[Int]: Int] = [:]
        let rowPrompt = rows.map { row -> Int in
            if let i = uniqueIndex[row.prompt] { return i }
            uniqueIndex[row.prompt] = uniquePrompts.count
            uniquePrompts.append(row.prompt)
            return uniquePrompts.count - 1
        }
        let maxNew = rows.map(\.sampling.maxTokens).max()!
        let (promptCache, lastLogits) = try prefill(uniquePrompts, extra: maxNew, rows: rows.count, stats: &stats)
        let cache = rowPrompt == Array(uniquePrompts.indices) ? promptCache : promptCache.fork(rows: rowPrompt)
        var logits = lastLogits.indexSelect(axis: 0, index: Tensor(rowPrompt.map(Int64.init)))  // (B, V)

        var outputs = rows.map { _ in GenerationOutput(tokens: [], logprobs: [], sampled: [], stop: .length(inThinking: false)) }
        var randoms = rows.map(\.random)
        var active = Array(rows.indices)  // row ids, in cache-row order
        while !active.isEmpty {
            let forced = active.map { rows[$0].controller?.forcedToken() }
            let uniforms = active.map { r in randoms[r].uniform() }
            let (tokens, logprobs) = Sampler.sample(
                logits: logits, rows: active.map { rows[$0].sampling }, uniforms: uniforms, forced: forced)
            let confidences = Sampler.tokenConfidences(logits: logits, rows: active.map { rows[$0].sampling })
            var stillActive: [Int] = []
            var keep: [Int] = []
            var feed: [Int] = []
            for (slot, r) in active.enumerated() {
                var token = tokens[slot]
                var logprob = logprobs[slot]
                var sampled = forced[slot] == nil
                if sampled, let controller = rows[r].controller {
                    let replaced = controller.replace(sampled: token)
                    if replaced != token {
                        token = replaced
                        sampled = false
                        logprob = logits.select(axis: 0, index: slot).to(.float32).logSoftmax(axis: -1).select(axis: 0, index: token).item()
                    }
                }
                outputs[r].tokens.append(token)
                outputs[r].logprobs.append(logprob)
                outputs[r].sampled.append(sampled)
                stats.generatedTokens += 1
                onToken?(r, token)
                var reason = rows[r].controller?.accept(token)
                if let c = confidences[slot], let stop = rows[r].sampling.confidence {
                    outputs[r].confidences.append(c)
                    if reason == nil, let group = stop.stops(outputs[r].confidences) { reason = .lowConfidence(group: group) }
                }
                if reason == nil && forced[slot] == nil && endTokens.contains(token) { reason = .endOfSequence(token: token) }
                if reason == nil && outputs[r].tokens.count >= rows[r].sampling.maxTokens {
                    reason = .length(inThinking: rows[r].controller?.isThinking ?? false)
                }
                if let reason {
                    outputs[r].stop = reason
                    prefixCache?.insert(tokens: rows[r].prompt + outputs[r].tokens.dropLast(), from: cache, row: slot)
                } else {
                    stillActive.append(r)
                    keep.append(slot)
                    feed.append(token)
                }
            }
            if stillActive.isEmpty { break }
            if keep.count < active.count { cache.keepRows(keep) }
            active = stillActive
            logits = step(feed, cache: cache)
            stats.decodeSteps += 1
        }
        return (outputs, stats)
    }

    /// Runs the prompts through the model; returns a cache (one row per prompt) and the last position's logits.
    private func prefill(_ prompts: [[Int]], extra: Int, rows: Int, stats: inout GenerationStats) throws -> (KVCache, Tensor) {
        let c = model.configuration
        let longest = prompts.map(\.count).max()!
        let needed = KVCache.bytes(configuration: c, batch: Swift.max(rows, prompts.count), capacity: longest + extra, dtype: model.dtype)
        guard needed <= maxCacheBytes else { throw ModelError.cacheTooLarge(bytes: needed, limit: maxCacheBytes) }
        stats.cacheBytes = needed
        // Prompts that extend cached sequences: copy those caches and compute only the new tokens, each prompt on
        // its own, then lay the rows side by side (right-aligned, left-padded) as one batch cache.
        if let prefixCache {
            let hits = prompts.map { prompt -> (KVCache, Int)? in
                guard let (cached, shared) = prefixCache.longestPrefix(of: prompt) else { return nil }
                let reuse = Swift.min(shared, prompt.count - 1)  // the last prompt token must run to give logits
                return reuse > 0 ? (cached, reuse) : nil
            }
            if hits.contains(where: { $0 != nil }) {
                var rowsCaches: [KVCache] = []
                var logits: [Tensor] = []
                for (prompt, hit) in zip(prompts, hits) {
                    let cache: KVCache
                    var tail = prompt
                    if let (cached, reuse) = hit {
                        cache = cached.fork(rows: [0], capacity: cached.padding[0] + prompt.count, length: cached.padding[0] + reuse)
                        tail = Array(prompt[reuse...])
                        stats.reusedTokens += reuse
                        stats.reusedByPrompt[prompt] = reuse
                    } else {
                        cache = KVCache(configuration: c, batch: 1, capacity: prompt.count, dtype: model.dtype)
                    }
                    stats.prefillTokens += tail.count
                    logits.append(forward([tail], cache: cache))
                    rowsCaches.append(cache)
                }
                return (KVCache.merge(rowsCaches, capacity: longest + extra), concatenated(logits))
            }
        }
        let padding = prompts.map { longest - $0.count }
        let cache = KVCache(configuration: c, batch: prompts.count, capacity: longest + extra, dtype: model.dtype, padding: padding)
        stats.prefillTokens += prompts.reduce(0) { $0 + $1.count }
        return (cache, forward(prompts.map { Array(repeating: 0, count: longest - $0.count) + $0 }, cache: cache))
    }

    /// One decode step: feeds a token per cache row, returns next-token logits (B, V).
    private func step(_ tokens: [Int], cache: KVCache) -> Tensor { forward(tokens.map { [$0] }, cache: cache) }

    /// Feeds equal-length token rows at the cache's end; returns the last position's logits (B, V) in float32.
    private func forward(_ batch: [[Int]], cache: KVCache) -> Tensor {
        let b = batch.count
        let t = batch[0].count
        let start = cache.length
        let total = start + t
        let ids = Tensor(batch.flatMap { $0.map(Int64.init) }, shape: [b, t])
        let pads = cache.padding
        let columns = Tensor.arange(start, total).unsqueezed(axis: 0)  // (1, T)
        let positions = (columns - Tensor(pads.map(Int64.init), shape: [b, 1])).clamped(min: 0)  // (B, T)
        var mask: Tensor?
        if pads.contains(where: { $0 > 0 }) || (start > 0 && t > 1) {
            let keys = Tensor.arange(0, total).reshaped(1, 1, 1, total)
            let queries = Tensor.arange(start, total).reshaped(1, 1, t, 1)
            let valid = keys .>= Tensor(pads.map(Int64.init), shape: [b, 1, 1, 1])
            // Causal and not padding; a padded query also sees itself so no softmax row is empty.
            mask = ((keys .<= queries) .&& valid) .|| (keys .== queries)
        }
        let hidden = model.hiddenStates(ids, positions: positions, cache: cache, mask: mask)
        return model.logits(hidden.select(axis: 1, index: t - 1)).to(.float32)
    }
}
