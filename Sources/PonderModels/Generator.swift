import Dispatch
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
    /// Log-probability of each emitted token under the temperature-scaled distribution, when the row's
    /// `sampling.logprobs` asks for them (else empty: greedy rows that do not ask skip the log-sum-exp).
    public var logprobs: [Double]
    /// Per emitted token: sampled by the model (`true`) or forced in by the controller (`false`).
    public var sampled: [Bool]
    /// Which stop ended it.
    public var stop: StopReason
    /// DeepConf token confidences, for rows whose settings ask for them (else empty).
    public var confidences: [Double] = []
    /// Per emitted token, its raw log-probability and the most likely tokens there, for rows whose settings ask for
    /// them (``SamplingParameters/topLogprobs``; else empty).
    public var topLogprobs: [TopLogprobs] = []
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
    /// Forward passes run for prompts (a batch of missed prompts is one; each prefix-cache hit is one).
    public var prefillPasses = 0
    /// Bytes of keys and values copied into or within a ``DecodeBatch``'s buffer (joining rows, rows moved when
    /// others leave, reallocations).
    public var cacheCopyBytes = 0
    /// Times a ``DecodeBatch`` reallocated its KV buffer (copying the running rows).
    public var reallocations = 0
    /// Seconds in `DecodeBatch.add` (prefill of joining rows and their cache copies).
    public var joinSeconds = 0.0
    /// Seconds in decode steps choosing tokens (sampling and per-row stop logic).
    public var sampleSeconds = 0.0
    /// Seconds in decode steps retiring finished rows and running the model.
    public var forwardSeconds = 0.0
    /// Key columns the decode steps' attention spanned, summed over rows and steps (every row spans the batch's
    /// window, from the first column any row uses).
    public var attendedColumns = 0
    /// Of those, the columns that hold each row's own tokens (the rest is left padding).
    public var ownColumns = 0
}

/// Batched prefill and decode over a `CausalLM` with a preallocated KV cache.
///
/// Rows with equal prompts share one prefill (their cache rows are forked from it). Prompts of different lengths
/// are left-padded; padded columns are masked out and positions start at each row's first real token, so a
/// row's result does not depend on what else is in the batch. Finished rows leave the batch as it decodes.
/// ``DecodeBatch`` runs the same loop with rows joining between steps (continuous batching).
public final class Generator {
    /// The model.
    public let model: CausalLM
    /// Token ids that end a sequence.
    public var endTokens: Set<Int>
    /// Largest KV cache one call may allocate.
    public var maxCacheBytes: Int
    /// Reuse of earlier sequences' KV caches for prompts that extend them (`nil` to disable).
    public var prefixCache: PrefixCache?
    /// Fewest cached tokens a prompt must share with a cached sequence to reuse it. A hit switches that prompt's
    /// prefill to one prompt at a time (its own cache copy), which costs more than it saves for short hits.
    public var minimumPrefixHit: Int

    /// A generator for `model`.
    public init(
        model: CausalLM, endTokens: Set<Int>, maxCacheBytes: Int = 4 << 30, prefixCache: PrefixCache? = nil, minimumPrefixHit: Int = 16
    ) {
        self.model = model
        self.endTokens = endTokens
        self.maxCacheBytes = maxCacheBytes
        self.prefixCache = prefixCache
        self.minimumPrefixHit = Swift.max(1, minimumPrefixHit)
    }

    /// Generates every row; `onToken(row, token)` is called as tokens are emitted (for streaming).
    public func generate(_ rows: [GenerationRow], onToken: ((Int, Int) -> Void)? = nil) throws -> ([GenerationOutput], GenerationStats) {
        guard !rows.isEmpty else { return ([], GenerationStats()) }
        let batch = DecodeBatch(generator: self)
        let ids = try batch.add(rows).ids
        let rowOf = Dictionary(uniqueKeysWithValues: ids.enumerated().map { ($1, $0) })
        var outputs = [GenerationOutput?](repeating: nil, count: rows.count)
        while !batch.isEmpty {
            for (id, output) in batch.step(onToken: { id, token in onToken?(rowOf[id]!, token) }) { outputs[rowOf[id]!] = output }
        }
        return (outputs.map { $0! }, batch.stats)
    }

    /// Checks that a row can run at all (a prompt, and room in the model's context).
    func validate(_ row: GenerationRow) throws {
        guard !row.prompt.isEmpty else { throw PonderError.invalidArgument("prompt is empty (a prompt needs at least one token)") }
        let context = model.configuration.maxPositionEmbeddings
        if row.prompt.count + row.sampling.maxTokens > context {
            throw PonderError.contextOverflow(promptTokens: row.prompt.count, maxTokens: row.sampling.maxTokens, contextLength: context)
        }
    }

    /// Bytes of a KV cache for `rows` rows of `columns` positions.
    public func cacheBytes(rows: Int, columns: Int) -> Int {
        KVCache.bytes(configuration: model.configuration, batch: rows, capacity: columns, dtype: model.dtype)
    }

    /// Runs the prompts through the model; returns a cache with room for `extra` more columns, the cache row of each
    /// prompt, and the last position's logits (one row per cache row).
    ///
    /// Prompts that extend a cached sequence by at least `minimumPrefixHit` tokens copy its cache and compute only
    /// their new tokens, each prompt on its own; the other prompts run as one left-padded batch.
    fileprivate func prefill(_ prompts: [[Int]], extra: Int, stats: inout GenerationStats) -> (cache: KVCache, rowOf: [Int], logits: Tensor) {
        let c = model.configuration
        var hits: [(prompt: Int, cached: KVCache, reuse: Int)] = []
        if let prefixCache {
            for (i, prompt) in prompts.enumerated() {
                guard let (cached, shared) = prefixCache.longestPrefix(of: prompt, minimum: minimumPrefixHit) else { continue }
                let reuse = Swift.min(shared, prompt.count - 1)  // the last prompt token must run to give logits
                if reuse >= minimumPrefixHit { hits.append((i, cached, reuse)) }
            }
        }
        let hitPrompts = Set(hits.map(\.prompt))
        let misses = prompts.indices.filter { !hitPrompts.contains($0) }
        var parts: [KVCache] = []
        var logits: [Tensor] = []
        var rowOf = [Int](repeating: 0, count: prompts.count)
        var row = 0
        for (i, cached, reuse) in hits {
            let prompt = prompts[i]
            let cache = cached.fork(rows: [0], capacity: prompt.count, length: reuse)
            stats.reusedTokens += reuse
            stats.reusedByPrompt[prompt] = reuse
            stats.prefillTokens += prompt.count - reuse
            logits.append(forward([Array(prompt[reuse...])], cache: cache))
            stats.prefillPasses += 1
            parts.append(cache)
            rowOf[i] = row
            row += 1
        }
        if !misses.isEmpty {
            let longest = misses.map { prompts[$0].count }.max()!
            let padding = misses.map { longest - prompts[$0].count }
            // Alone, the batch is the result: give it its free columns now rather than copying it later.
            let cache = KVCache(configuration: c, batch: misses.count, capacity: longest + (hits.isEmpty ? extra : 0), dtype: model.dtype, padding: padding)
            stats.prefillTokens += misses.reduce(0) { $0 + prompts[$1].count }
            logits.append(forward(misses.map { Array(repeating: 0, count: longest - prompts[$0].count) + prompts[$0] }, cache: cache))
            stats.prefillPasses += 1
            parts.append(cache)
            for m in misses {
                rowOf[m] = row
                row += 1
            }
        }
        let cache = parts.count == 1 && hits.isEmpty ? parts[0] : KVCache.stacked(parts, extra: extra)
        return (cache, rowOf, concatenated(logits))
    }

    /// One decode step: feeds a token per cache row, returns next-token logits (B, V).
    fileprivate func step(_ tokens: [Int], cache: KVCache) -> Tensor { forward(tokens.map { [$0] }, cache: cache) }

    /// Feeds equal-length token rows at the cache's end; returns the last position's logits (B, V) in the model's
    /// compute dtype (the sampler converts what it needs).
    private func forward(_ batch: [[Int]], cache: KVCache) -> Tensor {
        let b = batch.count
        let t = batch[0].count
        let start = cache.length
        let total = start + t
        let ids = Tensor(batch.flatMap { $0.map(Int64.init) }, shape: [b, t])
        let pads = cache.padding
        if t == 1 {
            // A decode step: positions and the padding mask built on the host, one tensor each, instead of a dozen
            // small tensor ops per step (they are most of a small model's step).
            let positions = Tensor(pads.map { Int64(Swift.max(0, start - $0)) }, shape: [b, 1])
            guard pads.contains(where: { $0 > 0 }) else { return model.lastLogits(ids, positions: positions, cache: cache, mask: nil) }
            // Query `start` sees every key from its row's first token on (and itself, so no softmax row is empty).
            var valid = [Bool](repeating: true, count: b * total)
            for (row, pad) in pads.enumerated() where pad > 0 {
                for key in 0..<Swift.min(pad, start) { valid[row * total + key] = false }
            }
            return model.lastLogits(ids, positions: positions, cache: cache, mask: Tensor(valid, shape: [b, 1, 1, total]))
        }
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
        return model.lastLogits(ids, positions: positions, cache: cache, mask: mask)
    }
}

/// A decoding batch that rows join and leave between steps (continuous batching).
///
/// The KV cache is a preallocated buffer with a row per sequence (see `KVSlots`): every row ends at the same
/// column, so a decode step writes one column for all rows. `add` prefills new rows and copies only their keys and
/// values into free rows (ending at the running rows' column); `step` samples one token for every row, retires
/// finished rows at once (the last row moves into a finished row's place, one row copied) and runs one forward
/// pass over the live rows, from the first column any of them uses. The buffer is reallocated (the running rows
/// copied once) only when joining rows do not fit its free rows or columns; it then keeps spare rows and columns
/// for later joins, within the generator's `maxCacheBytes`. A row's draws come from its own `SampleRandom` and its
/// attention is masked to its own columns, so what it generates does not depend on when it joined or on its
/// neighbours (up to float rounding of batched matrix products, as with static batches).
///
/// Not thread-safe: one thread drives a batch.
public final class DecodeBatch {
    /// The generator whose model, end tokens and prefix cache the batch uses.
    public let generator: Generator
    /// Work counters since the batch was made.
    public private(set) var stats = GenerationStats()

    private struct Slot {
        let id: Int
        let row: GenerationRow
        var random: SampleRandom
        var output = GenerationOutput(tokens: [], logprobs: [], sampled: [], stop: .length(inThinking: false))
        /// The buffer column of the row's first token.
        var start: Int
        var remaining: Int { row.sampling.maxTokens - output.tokens.count }
    }

    private var buffer: KVSlots?
    /// The live rows' view of `buffer`, as the model reads and extends it.
    private var cache: KVCache?
    private var logits: Tensor?  // (rows, V): next-token logits of every slot, in slot order
    /// Slot `i` lives in buffer row `i`.
    private var slots: [Slot] = []
    /// The buffer column after every row's newest one.
    private var end = 0
    private var nextID = 0

    /// An empty batch.
    public init(generator: Generator) { self.generator = generator }

    /// Rows decoding now.
    public var count: Int { slots.count }
    /// Whether no row is decoding.
    public var isEmpty: Bool { slots.isEmpty }
    /// Bytes of the KV cache held now (the whole buffer, free rows and columns included).
    public var cacheBytes: Int { buffer.map { generator.cacheBytes(rows: $0.rowCapacity, columns: $0.columnCapacity) } ?? 0 }

    /// Bytes the KV cache would hold with `rows` added (prompt lengths and `maxTokens` are what count).
    ///
    /// Rows that fit the buffer's free rows and columns take no more bytes. Otherwise the buffer is reallocated:
    /// every row ends at its last column, so it spans the longest prompt or running row plus the most tokens any
    /// row may still add; this is the least it takes (spare rows and columns are added only within the limit).
    /// Joining briefly holds the new rows' prefill beside the buffer.
    public func cacheBytes(adding rows: [GenerationRow]) -> Int {
        guard !rows.isEmpty else { return cacheBytes }
        if fits(rows) { return cacheBytes }
        let (r, c) = needed(adding: rows)
        return generator.cacheBytes(rows: r, columns: c)
    }

    /// Rows and columns a buffer needs for the running rows and `rows`.
    private func needed(adding rows: [GenerationRow]) -> (rows: Int, columns: Int) {
        let content = Swift.max(slots.isEmpty ? 0 : end - (slots.map(\.start).min() ?? end), rows.map(\.prompt.count).max()!)
        let remaining = Swift.max(slots.map(\.remaining).max() ?? 0, rows.map(\.sampling.maxTokens).max()!)
        return (count + rows.count, content + remaining)
    }

    /// Whether `rows` fit the buffer's free rows, ending at the running rows' column.
    private func fits(_ rows: [GenerationRow]) -> Bool {
        guard let buffer, !slots.isEmpty else { return false }
        return count + rows.count <= buffer.rowCapacity
            && rows.allSatisfy { $0.prompt.count <= end && end + $0.sampling.maxTokens <= buffer.columnCapacity }
    }

    /// Prefills `rows` and adds them to the batch; returns their ids (as `step` reports them) and the prompt
    /// tokens each reused from the prefix cache.
    ///
    /// - Throws: an empty prompt, a context overflow, or `ModelError.cacheTooLarge` when the batch with these rows
    ///   would pass the generator's `maxCacheBytes`; the batch is unchanged then.
    @discardableResult
    public func add(_ rows: [GenerationRow]) throws -> (ids: [Int], reused: [Int]) {
        guard !rows.isEmpty else { return ([], []) }
        for row in rows { try generator.validate(row) }
        let needed = cacheBytes(adding: rows)
        guard needed <= generator.maxCacheBytes else { throw ModelError.cacheTooLarge(bytes: needed, limit: generator.maxCacheBytes) }
        let began = DispatchTime.now().uptimeNanoseconds
        var uniquePrompts: [[Int]] = []
        var uniqueIndex: [[Int]: Int] = [:]
        let rowPrompt = rows.map { row -> Int in
            if let i = uniqueIndex[row.prompt] { return i }
            uniqueIndex[row.prompt] = uniquePrompts.count
            uniquePrompts.append(row.prompt)
            return uniquePrompts.count - 1
        }
        let maxNew = rows.map(\.sampling.maxTokens).max()!
        var reused: [Int] = []
        var starts: [Int] = []
        withNoGrad {
            // Into an empty batch the prefill cache, given its free columns now, is the buffer.
            let adopt = slots.isEmpty && uniquePrompts.count == rows.count
            var added = GenerationStats()
            let (promptCache, rowOf, lastLogits) = generator.prefill(uniquePrompts, extra: adopt ? maxNew : 0, stats: &added)
            reused = rows.map { added.reusedByPrompt[$0.prompt] ?? 0 }
            stats.prefillTokens += added.prefillTokens
            stats.reusedTokens += added.reusedTokens
            stats.prefillPasses += added.prefillPasses
            stats.reusedByPrompt.merge(added.reusedByPrompt) { $1 }
            let cacheRows = rowPrompt.map { rowOf[$0] }
            let identity = cacheRows == Array(0..<promptCache.batchSize)
            let groupLogits = identity ? lastLogits : lastLogits.indexSelect(axis: 0, index: Tensor(cacheRows.map(Int64.init)))
            if adopt && identity {
                buffer = KVSlots(adopting: promptCache)
                end = promptCache.length
                starts = promptCache.padding
            } else {
                if !fits(rows) { reallocate(adding: rows) }
                stats.cacheCopyBytes += buffer!.write(promptCache, rows: cacheRows, at: count, end: end)
                starts = cacheRows.map { end - promptCache.length + promptCache.padding[$0] }
            }
            logits = logits.map { concatenated([$0, groupLogits]) } ?? groupLogits
        }
        var ids: [Int] = []
        for (row, start) in zip(rows, starts) {
            slots.append(Slot(id: nextID, row: row, random: row.random, start: start))
            ids.append(nextID)
            nextID += 1
        }
        makeWindow()
        stats.cacheBytes = Swift.max(stats.cacheBytes, cacheBytes)
        stats.joinSeconds += Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        return (ids, reused)
    }

    /// The log-probabilities a decoding row reported for its newest token, when its settings ask for them
    /// (``SamplingParameters/topLogprobs``); for streaming, read from `step`'s `onToken`.
    public func latestTopLogprobs(of id: Int) -> TopLogprobs? { slots.last { $0.id == id }?.output.topLogprobs.last }

    /// A new buffer for the running rows and `rows` (the running rows copied in, ending at its new column), with
    /// spare rows and columns for later joins when a batch is running and they fit `maxCacheBytes`.
    private func reallocate(adding rows: [GenerationRow]) {
        let (needRows, needColumns) = needed(adding: rows)
        var (r, c) = (needRows, needColumns)
        if !slots.isEmpty {
            let perCell = generator.cacheBytes(rows: 1, columns: 1)
            r = needRows + Swift.max(4, needRows / 2)
            c = needColumns + Swift.max(32, needColumns / 2)
            if perCell * r * c > generator.maxCacheBytes {
                r = needRows
                c = Swift.max(needColumns, Swift.min(c, generator.maxCacheBytes / (perCell * r)))
            }
        }
        let newEnd = Swift.max(slots.isEmpty ? 0 : end - slots.map(\.start).min()!, rows.map(\.prompt.count).max()!)
        let fresh = KVSlots(configuration: generator.model.configuration, dtype: generator.model.dtype, rows: r, columns: c, zeroed: newEnd)
        if let cache {
            stats.cacheCopyBytes += fresh.write(cache, rows: Array(slots.indices), at: 0, end: newEnd)
            for i in slots.indices { slots[i].start += newEnd - end }
            stats.reallocations += 1
        }
        buffer = fresh
        end = newEnd
    }

    /// Points `cache` at the live rows.
    private func makeWindow() {
        guard let buffer, !slots.isEmpty else { return cache = nil }
        let starts = slots.map(\.start)
        cache = buffer.window(rows: slots.count, first: starts.min()!, end: end, starts: starts)
    }

    /// Removes rows (a cancelled request) without finishing them.
    public func remove(_ ids: Set<Int>) {
        let rows = slots.indices.filter { ids.contains(slots[$0].id) }
        guard !rows.isEmpty else { return }
        if rows.count == slots.count { return clear() }
        withNoGrad {
            let order = removeRows(rows)
            logits = logits!.indexSelect(axis: 0, index: Tensor(order.map(Int64.init)))
        }
    }

    private func clear() {
        slots = []
        buffer = nil
        cache = nil
        logits = nil
        end = 0
    }

    /// Drops `rows` from the batch: each is replaced by the last live row (its keys and values moved, one row
    /// copied). Returns, for each remaining row, its old index.
    private func removeRows(_ rows: [Int]) -> [Int] {
        var order = Array(slots.indices)
        for i in rows.sorted(by: >) {
            let last = order.count - 1
            if i != last {
                stats.cacheCopyBytes += buffer!.moveRow(last, to: i, first: slots[last].start, end: end)
                order[i] = order[last]
                slots[i] = slots[last]
            }
            order.removeLast()
            slots.removeLast()
        }
        makeWindow()
        return order
    }

    /// `logits` with the end tokens of every row still short of its `minTokens` set to −∞, so they cannot be
    /// sampled; `logits` itself when no row has a minimum left to reach. A sampled token's log-probability is then that
    /// of the distribution it was drawn from (end tokens excluded); top log-probabilities and confidences still read
    /// the model's own.
    private func withoutEndTokensBelowMinimum(_ logits: Tensor) -> Tensor {
        func isShort(_ slot: Slot) -> Bool { (slot.row.sampling.minTokens ?? 0) > slot.output.tokens.count }
        guard !generator.endTokens.isEmpty, slots.contains(where: isShort) else { return logits }
        let short = slots.map(isShort)
        let ends = generator.endTokens.sorted()
        let index = Tensor(Array(repeating: ends.map(Int64.init), count: short.count).flatMap { $0 }, shape: [short.count, ends.count])
        let blocked = short.flatMap { Array(repeating: $0 ? -Float.infinity : 0, count: ends.count) }
        let add = Tensor(blocked, shape: [short.count, ends.count]).to(logits.dtype)
        return logits.scatterAdd(axis: 1, index: index, source: add)
    }

    /// Emits one token for every row, then runs the model once for the rows that go on.
    ///
    /// A finished row leaves at once: it is reported, emits nothing more, and its buffer row is taken over by the
    /// last live row.
    ///
    /// - Parameter onToken: called with each row's id and emitted token, in row order.
    /// - Returns: the rows that finished in this step, with their outputs; they have left the batch.
    public func step(onToken: ((Int, Int) -> Void)? = nil) -> [(id: Int, output: GenerationOutput)] {
        guard let cache, let logits, !slots.isEmpty else { return [] }
        return withNoGrad {
            let began = DispatchTime.now().uptimeNanoseconds
            let forced = slots.map { $0.row.controller?.forcedToken() }
            let uniforms = slots.indices.map { slots[$0].random.uniform() }
            let (tokens, logprobs) = Sampler.sample(
                logits: withoutEndTokensBelowMinimum(logits), rows: slots.map(\.row.sampling), uniforms: uniforms, forced: forced)
            let confidences = Sampler.tokenConfidences(logits: logits, rows: slots.map(\.row.sampling))
            var alternatives = Sampler.topLogprobs(logits: logits, rows: slots.map(\.row.sampling), tokens: tokens)
            var finished: [(id: Int, output: GenerationOutput)] = []
            var finishedRows: [Int] = []
            var feed: [Int] = []
            for i in slots.indices {
                var token = tokens[i]
                var logprob = logprobs[i]
                var sampled = forced[i] == nil
                let controller = slots[i].row.controller
                if sampled, let controller {
                    let replaced = controller.replace(sampled: token)
                    if replaced != token {
                        token = replaced
                        sampled = false
                        if logprob != nil {
                            let temperature = slots[i].row.sampling.temperature > 0 ? slots[i].row.sampling.temperature : 1
                            let scaled = logits.select(axis: 0, index: i).to(.float32) / temperature
                            logprob = scaled.logSoftmax(axis: -1).select(axis: 0, index: token).item()
                        }
                        if alternatives[i] != nil {
                            alternatives[i] = Sampler.topLogprobs(
                                logits: logits.narrow(axis: 0, start: i, length: 1), rows: [slots[i].row.sampling], tokens: [token])[0]
                        }
                    }
                }
                slots[i].output.tokens.append(token)
                if let logprob { slots[i].output.logprobs.append(logprob) }
                slots[i].output.sampled.append(sampled)
                if let a = alternatives[i] { slots[i].output.topLogprobs.append(a) }
                stats.generatedTokens += 1
                onToken?(slots[i].id, token)
                var reason = controller?.accept(token)
                if let c = confidences[i], let stop = slots[i].row.sampling.confidence {
                    slots[i].output.confidences.append(c)
                    if reason == nil, let group = stop.stops(slots[i].output.confidences) { reason = .lowConfidence(group: group) }
                }
                if reason == nil && forced[i] == nil && generator.endTokens.contains(token) { reason = .endOfSequence(token: token) }
                if reason == nil && slots[i].remaining <= 0 { reason = .length(inThinking: controller?.isThinking ?? false) }
                if let reason {
                    slots[i].output.stop = reason
                    generator.prefixCache?.insert(tokens: slots[i].row.prompt + slots[i].output.tokens.dropLast(), from: cache, row: i)
                    finished.append((slots[i].id, slots[i].output))
                    finishedRows.append(i)
                }
                feed.append(token)
            }
            let sampledAt = DispatchTime.now().uptimeNanoseconds
            stats.sampleSeconds += Double(sampledAt - began) / 1e9
            if finishedRows.count == slots.count {
                clear()
                return finished
            }
            if !finishedRows.isEmpty { feed = removeRows(finishedRows).map { feed[$0] } }
            let window = self.cache!
            self.logits = generator.step(feed, cache: window)
            end += 1
            stats.attendedColumns += slots.count * window.length
            stats.ownColumns += slots.reduce(0) { $0 + end - $1.start }
            stats.decodeSteps += 1
            stats.forwardSeconds += Double(DispatchTime.now().uptimeNanoseconds - sampledAt) / 1e9
            return finished
        }
    }
}
