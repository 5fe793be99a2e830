import Dispatch
import Foundation
import PonderCore
import PonderTokenizers
import Torch

/// A local `LanguageModel`: a `CausalLM`, its tokenizer and chat template, and a `Generator`.
///
/// Requests are scheduled by continuous batching: a request that arrives while others decode joins their batch
/// between two decode steps, and a finished completion leaves it at once (its KV-cache rows are freed), so short
/// requests never wait for long ones. Each request keeps its own sampling settings, seed, stop strings, thinking
/// budget and log-probabilities, and gets the same tokens as it would alone. Requests are admitted in arrival
/// order while the KV cache they need fits `Options.maxCacheBytes`; one that could never fit fails alone.
/// A cancelled caller's rows leave the batch at the next step.
///
/// All libtorch work runs on one thread at a time: the engine's queue, or the caller of ``rollouts(_:)`` (see
/// there), never on Swift's cooperative pool.
public final class Engine: LanguageModel, RolloutSource, @unchecked Sendable {
    /// Engine settings.
    public struct Options: Sendable {
        /// Compute dtype (default: the checkpoint's).
        public var dtype: DType?
        /// Largest KV cache the running batch may hold; requests wait until theirs fits, and one that could never
        /// fit fails with `ModelError.cacheTooLarge`.
        public var maxCacheBytes: Int
        /// Memory for reusing cached prefixes across requests (0 disables it).
        public var prefixCacheBytes: Int
        /// Fewest tokens a prompt must share with a cached prefix to reuse it (see `Generator.minimumPrefixHit`).
        public var minimumPrefixHit: Int
        /// Most requests decoding at once (a `rollouts` call into an idle engine is admitted whole).
        public var maxBatchRequests: Int
        /// How requests join the running batch.
        public var batching: Batching

        /// Makes options.
        public init(
            dtype: DType? = nil, maxCacheBytes: Int = 4 << 30, prefixCacheBytes: Int = 256 << 20, maxBatchRequests: Int = 64,
            minimumPrefixHit: Int = 16, batching: Batching = .continuous
        ) {
            self.dtype = dtype
            self.maxCacheBytes = maxCacheBytes
            self.prefixCacheBytes = prefixCacheBytes
            self.maxBatchRequests = maxBatchRequests
            self.minimumPrefixHit = minimumPrefixHit
            self.batching = batching
        }
    }

    /// How requests join the running batch.
    public enum Batching: String, Sendable {
        /// Between any two decode steps (the default).
        case continuous
        /// Only when the running batch has finished (static batching; kept as the benchmark's baseline).
        case whole
    }

    /// What the scheduler holds now (for metrics and tests).
    public struct Load: Sendable, Equatable {
        /// Requests accepted but not yet decoding.
        public var waitingRequests = 0
        /// Requests decoding.
        public var runningRequests = 0
        /// Completions decoding (`n` per request).
        public var runningRows = 0
        /// Bytes of the running batch's KV cache.
        public var cacheBytes = 0
        /// Most bytes the running KV cache has held.
        public var peakCacheBytes = 0
        /// Decode steps run.
        public var decodeSteps = 0
        /// Tokens generated.
        public var generatedTokens = 0
        /// Requests that joined a batch while it was decoding.
        public var joinedRunning = 0
        /// Requests that ended because their caller cancelled.
        public var cancelled = 0
        /// Forward passes run for prompts.
        public var prefillPasses = 0
        /// Times the running batch's KV buffer was reallocated (see ``DecodeBatch``).
        public var cacheReallocations = 0
        /// Bytes of keys and values copied into or within the batch's KV buffer.
        public var cacheCopyBytes = 0
        /// Seconds spent admitting requests (prefill and cache copies), choosing tokens, and in decode forward
        /// passes (see ``GenerationStats``).
        public var joinSeconds = 0.0, sampleSeconds = 0.0, forwardSeconds = 0.0
        /// Key columns decode steps attended over, and the share of them that held each row's own tokens (see
        /// ``GenerationStats``).
        public var attendedColumns = 0, ownColumns = 0
    }

    /// One piece of streamed output.
    public struct Chunk: Sendable, Equatable {
        /// Which of the `n` completions this belongs to.
        public var index: Int
        /// New text.
        public var text: String
        /// Set on a completion's last chunk.
        public var finishReason: FinishReason?
        /// Log-probabilities of the tokens this chunk completes, when the request asks for them
        /// (``SamplingParameters/topLogprobs``). A token whose text is held back (it could begin a stop string)
        /// reports with the chunk that releases it; a completion's last chunk carries all its remaining tokens (its
        /// end token, and tokens cut with a stop string, included), so a completion's chunks together hold exactly
        /// ``Completion/topLogprobs``.
        public var logprobs: [PositionLogprobs] = []
        /// On the request's last chunk (its last completion's final one): the request's exact token accounting, the
        /// same ``Usage`` as ``complete(_:)`` returns.
        public var usage: Usage? = nil
    }

    public let name: String
    /// The network.
    public let model: CausalLM
    /// The tokenizer.
    public let tokenizer: Tokenizer
    /// The chat format, when the model has one (its own Jinja template, or a native renderer).
    public let template: PromptTemplate?
    /// Ids that end a sequence (config, generation config and tokenizer).
    public let endTokens: Set<Int>
    /// Sampling defaults from the model's `generation_config.json` (see ``GenerationDefaults``).
    public let generationDefaults: GenerationDefaults
    /// The generator the engine runs (its prefix cache is touched only by the scheduler).
    public let generator: Generator
    private let worker = DispatchQueue(label: "ponder.engine")
    private let options: Options
    /// Guards `incoming`, `syncWaiters`, jobs' `cancelled` flags and `published`.
    private let lock = NSLock()
    private var incoming: [Job] = []
    /// Callers waiting in `worker.sync` (`rollouts`, `weightsUpdated`): the queue's own run lets them in.
    private var syncWaiters = 0
    private var published = Load()
    // Scheduler state: touched only on `worker` (directly, or through `worker.sync` on a caller's thread).
    private let batch: DecodeBatch
    private var waiting: [Active] = []
    private var running: [Active] = []
    private var rowStates: [Int: RowState] = [:]
    private var counters = Load()
    private lazy var thinkStart = tokenizer.encode("<think>", addSpecialTokens: false)
    private lazy var thinkEnd = tokenizer.encode("</think>", addSpecialTokens: false)

    /// Requests that were submitted together (one `rollouts` call, or a single request), with their callbacks.
    private final class Job: @unchecked Sendable {
        let requests: [CompletionRequest]
        let onChunk: (@Sendable (Chunk) -> Void)?
        let done: @Sendable ([Result<CompletionResponse, Error>]) -> Void
        /// Set by the caller's cancellation (under the engine's lock).
        var cancelled = false
        // Scheduler state.
        var results: [Result<CompletionResponse, Error>?]
        var open: Int
        var finished = false

        init(requests: [CompletionRequest], onChunk: (@Sendable (Chunk) -> Void)?, done: @escaping @Sendable ([Result<CompletionResponse, Error>]) -> Void) {
            self.requests = requests
            self.onChunk = onChunk
            self.done = done
            results = requests.map { _ in nil }
            open = requests.count
        }
    }

    /// One request on its way through the scheduler.
    private final class Active {
        let job: Job
        let index: Int
        let prompt: [Int]
        let rows: [GenerationRow]
        let states: [RowState]
        var ids: [Int] = []
        var completions: [Completion?]
        var open: Int
        var reused = 0
        /// The decode step at which it began to wait.
        var since = 0

        init(job: Job, index: Int, prompt: [Int], rows: [GenerationRow], states: [RowState]) {
            self.job = job
            self.index = index
            self.prompt = prompt
            self.rows = rows
            self.states = states
            completions = rows.map { _ in nil }
            open = rows.count
        }

        var request: CompletionRequest { job.requests[index] }
    }

    /// One completion's stop strings, budget controller and streaming state.
    private final class RowState {
        let index: Int
        let controller: BudgetController
        let stops: [String]
        var decoder: StreamingDecoder
        var decoded = ""
        var sent = 0
        /// Positions whose log-probabilities were streamed, and those waiting for their text to be sent.
        var reportedLogprobs = 0
        var pendingLogprobs: [TopLogprobs] = []
        weak var active: Active?

        init(index: Int, controller: BudgetController, stops: [String], decoder: StreamingDecoder) {
            self.index = index
            self.controller = controller
            self.stops = stops
            self.decoder = decoder
        }
    }

    /// An engine over an existing model and tokenizer.
    public init(
        model: CausalLM, tokenizer: Tokenizer, template: PromptTemplate?, name: String, extraEndTokens: [Int] = [],
        generationDefaults: GenerationDefaults = GenerationDefaults(), options: Options = Options()
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.name = name
        self.endTokens = Set(model.configuration.eosTokenIds + tokenizer.specialTokenIDs.eos + extraEndTokens)
        self.generationDefaults = generationDefaults
        self.options = options
        generator = Generator(
            model: model, endTokens: endTokens, maxCacheBytes: options.maxCacheBytes,
            prefixCache: options.prefixCacheBytes > 0 ? PrefixCache(maxBytes: options.prefixCacheBytes) : nil,
            minimumPrefixHit: options.minimumPrefixHit)
        batch = DecodeBatch(generator: generator)
    }

    /// Loads a Hugging Face model directory (config, weights, tokenizer, optional chat template and generation config).
    public static func load(_ directory: URL, options: Options = Options()) throws -> Engine {
        let model = try ModelDirectory.load(directory, dtype: options.dtype)
        if let kind = model.configuration.head.rewardKind {
            throw ModelError.invalidField(
                path: directory.appendingPathComponent("config.json").path, field: "architectures",
                reason: "names a reward model (\(kind.rawValue)), which scores text and cannot generate; pass it as --scorer \(kind.rawValue):\(directory.path)")
        }
        return try Engine(model: model, directory: directory, chat: true, options: options)
    }

    /// An engine over `model` (e.g. a policy being trained) with the tokenizer, end tokens and sampling defaults of
    /// `directory`; the chat template only when `chat` is set.
    public convenience init(model: CausalLM, directory: URL, chat: Bool, name: String? = nil, options: Options = Options()) throws {
        let tokenizer = try Tokenizer.load(directory: directory)
        let template = chat ? try PromptTemplate.find(directory: directory) : nil
        let generation = try ModelDirectory.generationConfig(at: directory)
        var extra: [Int] = []
        if let e = generation["eos_token_id"] as? Int { extra = [e] } else if let e = generation["eos_token_id"] as? [Int] { extra = e }
        let defaults = GenerationDefaults(
            temperature: (generation["temperature"] as? NSNumber)?.doubleValue, topP: (generation["top_p"] as? NSNumber)?.doubleValue,
            topK: (generation["top_k"] as? NSNumber)?.intValue, minP: (generation["min_p"] as? NSNumber)?.doubleValue,
            maxTokens: Swift.min((generation["max_new_tokens"] as? NSNumber)?.intValue ?? 256, model.configuration.maxPositionEmbeddings / 2))
        self.init(
            model: model, tokenizer: tokenizer, template: template, name: name ?? directory.lastPathComponent, extraEndTokens: extra,
            generationDefaults: defaults, options: options)
    }

    // MARK: LanguageModel

    /// Runs `request`; if the calling task is cancelled, its completions leave the batch and this throws
    /// `CancellationError`.
    public func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        try request.parameters.validate()
        let box = JobBox()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let job = Job(requests: [request], onChunk: nil, done: { continuation.resume(with: $0[0]) })
                box.set(job)
                submit(job)
                if Task.isCancelled { cancel(job) }
            }
        } onCancel: {
            if let job = box.job { self.cancel(job) }
        }
    }

    /// Streams the completions of `request` as text chunks; the stream ends after every completion finished.
    /// When the consumer stops listening (its task is cancelled, or it drops the stream), the request's
    /// completions leave the batch.
    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<Chunk, Error> {
        AsyncThrowingStream { continuation in
            do { try request.parameters.validate() } catch { return continuation.finish(throwing: error) }
            let job = Job(
                requests: [request], onChunk: { continuation.yield($0) },
                done: { results in
                    switch results[0] {
                    case .success: continuation.finish()
                    case .failure(let error): continuation.finish(throwing: error)
                    }
                })
            continuation.onTermination = { [weak self] termination in
                if case .cancelled = termination { self?.cancel(job) }
            }
            submit(job)
        }
    }

    /// The scheduler's state now.
    public var load: Load {
        lock.lock()
        defer { lock.unlock() }
        var l = published
        l.waitingRequests += incoming.reduce(0) { $0 + $1.requests.count }
        return l
    }

    /// Holds a job for a cancellation handler that may run before the job exists.
    private final class JobBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Job?
        func set(_ job: Job) { lock.withLock { stored = job } }
        var job: Job? { lock.withLock { stored } }
    }

    private func submit(_ job: Job, pump: Bool = true) {
        lock.withLock { incoming.append(job) }
        if pump { worker.async { [self] in run(until: nil) } }
    }

    private func cancel(_ job: Job) {
        lock.withLock { job.cancelled = true }
    }

    // MARK: RolloutSource

    /// Runs `requests` together and returns their rollout records.
    ///
    /// The scheduler runs on the calling thread, serialized with the engine's queue (requests from other callers
    /// join the same batch). A trainer computes its loss on the same thread, so libtorch's OpenMP workers are not
    /// split between two thread teams (on a busy 2-core machine that costs ~40% of a GRPO step). An idle engine
    /// admits the whole call as one batch, with one prefill.
    public func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        for r in requests { try r.parameters.validate() }
        guard !requests.isEmpty else { return [] }
        let results = ResultBox()
        let job = Job(requests: requests, onChunk: nil, done: { results.set($0) })
        let box = JobBox()
        box.set(job)
        await withTaskCancellationHandler {
            submit(job, pump: false)
            lock.withLock { syncWaiters += 1 }
            // Requests of other callers that joined this batch finish on the engine's queue.
            let more = worker.sync {
                lock.withLock { syncWaiters -= 1 }
                run(until: { results.isSet })
                return !batch.isEmpty || !waiting.isEmpty
            }
            if more { worker.async { [self] in run(until: nil) } }
        } onCancel: {
            if let job = box.job { self.cancel(job) }
        }
        return try results.get().map { try $0.get() }
    }

    private final class ResultBox: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [Result<CompletionResponse, Error>]?
        func set(_ r: [Result<CompletionResponse, Error>]) { lock.withLock { stored = r } }
        var isSet: Bool { lock.withLock { stored != nil } }
        func get() throws -> [Result<CompletionResponse, Error>] {
            guard let r = lock.withLock({ stored }) else { throw CancellationError() }
            return r
        }
    }

    /// The engine computes with the model's own tensors: an optimizer step is visible at once.
    public var weightSync: WeightSync { .shared }

    /// Drops cached prefixes computed under the old weights.
    public func weightsUpdated(directory: String?) async throws {
        lock.withLock { syncWaiters += 1 }
        worker.sync {
            lock.withLock { syncWaiters -= 1 }
            generator.prefixCache?.removeAll()
        }
    }

    // MARK: Scheduling

    /// Runs the scheduler until `done` holds, or, without `done`, until no work is left: takes submitted requests,
    /// drops cancelled ones, admits what fits, and runs decode steps. Only ever called on `worker`.
    ///
    /// Without `done` (the queue's own run), it steps aside between two decode steps when a `rollouts` caller
    /// waits for the queue, and continues after that caller's run.
    private func run(until done: (() -> Bool)?) {
        while true {
            if let done, done() { break }
            if done == nil, lock.withLock({ syncWaiters > 0 }) {
                worker.async { [self] in run(until: nil) }
                break
            }
            takeIncoming()
            dropCancelled()
            admit()
            if batch.isEmpty {
                if waiting.isEmpty && lock.withLock({ incoming.isEmpty }) { break }
                continue
            }
            let finished = batch.step { [self] id, token in streamed(id: id, token: token) }
            counters.decodeSteps = batch.stats.decodeSteps
            counters.generatedTokens = batch.stats.generatedTokens
            for (id, output) in finished { finish(id: id, output: output) }
            publish()
        }
        publish()
    }

    private func publish() {
        let s = batch.stats
        counters.prefillPasses = s.prefillPasses
        counters.cacheReallocations = s.reallocations
        counters.cacheCopyBytes = s.cacheCopyBytes
        (counters.joinSeconds, counters.sampleSeconds, counters.forwardSeconds) = (s.joinSeconds, s.sampleSeconds, s.forwardSeconds)
        (counters.attendedColumns, counters.ownColumns) = (s.attendedColumns, s.ownColumns)
        counters.waitingRequests = waiting.count
        counters.runningRequests = running.count
        counters.runningRows = batch.count
        counters.cacheBytes = batch.cacheBytes
        counters.peakCacheBytes = Swift.max(counters.peakCacheBytes, counters.cacheBytes)
        lock.withLock { published = counters }
    }

    /// Moves submitted jobs into the waiting line, tokenizing their requests; a request that can never run
    /// (bad prompt, context overflow, a KV cache over the limit even alone) fails here, alone.
    private func takeIncoming() {
        let jobs: [Job] = lock.withLock {
            defer { incoming.removeAll() }
            return incoming
        }
        for job in jobs {
            for i in job.requests.indices {
                do {
                    let active = try prepare(job, i)
                    active.since = batch.stats.decodeSteps
                    waiting.append(active)
                } catch {
                    deliver(job, i, .failure(error))
                }
            }
        }
    }

    private func prepare(_ job: Job, _ ri: Int) throws -> Active {
        let request = job.requests[ri]
        let text = try promptText(request)
        let addSpecial: Bool = { if case .text = request.prompt { return true } else { return false } }()
        let prompt = tokenizer.encode(text, addSpecialTokens: addSpecial)
        let p = request.parameters
        let context = model.configuration.maxPositionEmbeddings
        if prompt.count + p.maxTokens > context {
            throw PonderError.contextOverflow(promptTokens: prompt.count, maxTokens: p.maxTokens, contextLength: context)
        }
        if prompt.isEmpty { throw PonderError.invalidArgument("the prompt encodes to no tokens (a prompt needs at least one)") }
        let alone = generator.cacheBytes(rows: p.n, columns: prompt.count + p.maxTokens)
        if alone > options.maxCacheBytes { throw ModelError.cacheTooLarge(bytes: alone, limit: options.maxCacheBytes) }
        let opened = ThinkParser().opensReasoning(text)
        let continuation = tokenizer.encode(p.thinking?.continuation ?? "Wait", addSpecialTokens: false)
        let seed = p.seed ?? UInt64.random(in: 0...UInt64.max)
        let stops = p.stop
        let longestStop = stops.map(\.count).max() ?? 0
        var rows: [GenerationRow] = []
        var states: [RowState] = []
        for i in 0..<p.n {
            let stopTest: (([Int]) -> String?)? =
                stops.isEmpty
                ? nil
                : { [tokenizer] tokens in
                    let tail = tokenizer.decode(Array(tokens.suffix(longestStop + 2)))
                    return stops.first { tail.contains($0) }
                }
            let controller = try BudgetController(
                budget: p.thinking, startsThinking: opened, thinkStart: thinkStart, thinkEnd: thinkEnd, continuation: continuation,
                endTokens: endTokens, stopTest: stopTest)
            rows.append(GenerationRow(prompt: prompt, sampling: p, random: SampleRandom(seed: seed, index: i), controller: controller))
            states.append(RowState(index: i, controller: controller, stops: stops, decoder: tokenizer.makeStreamingDecoder()))
        }
        let active = Active(job: job, index: ri, prompt: prompt, rows: rows, states: states)
        for s in states { s.active = active }
        return active
    }

    /// Removes the requests of cancelled jobs, waiting or decoding; their callers get `CancellationError`.
    private func dropCancelled() {
        let cancelled: Set<ObjectIdentifier> = lock.withLock {
            Set((waiting + running).filter { $0.job.cancelled }.map { ObjectIdentifier($0.job) })
        }
        guard !cancelled.isEmpty else { return }
        var ids = Set<Int>()
        for a in running where cancelled.contains(ObjectIdentifier(a.job)) {
            for id in a.ids { ids.insert(id); rowStates[id] = nil }
        }
        batch.remove(ids)
        let gone = (waiting + running).filter { cancelled.contains(ObjectIdentifier($0.job)) }
        waiting.removeAll { cancelled.contains(ObjectIdentifier($0.job)) }
        running.removeAll { cancelled.contains(ObjectIdentifier($0.job)) }
        for a in gone where !a.job.finished {
            a.job.finished = true
            counters.cancelled += 1
            publish()
            a.job.done(a.job.requests.map { _ in .failure(CancellationError()) })
        }
    }

    /// Admits waiting requests in arrival order while they fit: the batch's KV cache within `maxCacheBytes`, at
    /// most `maxBatchRequests` requests (an idle engine takes the whole first job). With `.whole` batching, only
    /// into an idle engine.
    ///
    /// Joining a running batch costs a prefill forward pass, so joins are grouped: they happen when the waiting rows
    /// are at least a quarter of the running ones, or when the oldest has waited 8 decode steps.
    private func admit() {
        guard !waiting.isEmpty, options.batching == .continuous || batch.isEmpty else { return }
        let wasRunning = !batch.isEmpty
        if wasRunning {
            let waitingRows = waiting.reduce(0) { $0 + $1.rows.count }
            guard waitingRows * 4 >= batch.count || batch.stats.decodeSteps - waiting[0].since >= 8 else { return }
        }
        var group: [Active] = []
        var rows: [GenerationRow] = []
        let firstJob = waiting[0].job
        for a in waiting {
            let wholeFirstJob = !wasRunning && a.job === firstJob
            if !group.isEmpty || wasRunning {
                if running.count + group.count >= options.maxBatchRequests && !wholeFirstJob { break }
                if batch.cacheBytes(adding: rows + a.rows) > options.maxCacheBytes { break }
            }
            group.append(a)
            rows += a.rows
        }
        guard !group.isEmpty else { return }
        waiting.removeFirst(group.count)
        do {
            let (ids, reused) = try batch.add(rows)
            var k = 0
            for a in group {
                a.ids = Array(ids[k..<(k + a.rows.count)])
                a.reused = reused[k]
                for (id, state) in zip(a.ids, a.states) { rowStates[id] = state }
                k += a.rows.count
                running.append(a)
            }
            if wasRunning { counters.joinedRunning += group.count }
        } catch {
            for a in group { deliver(a.job, a.index, .failure(error)) }
        }
    }

    /// Streams a token's text, holding back what could still turn out to be part of a stop string.
    private func streamed(id: Int, token: Int) {
        guard let state = rowStates[id], let active = state.active, let send = active.job.onChunk else { return }
        if active.request.parameters.topLogprobs != nil, let t = batch.latestTopLogprobs(of: id) { state.pendingLogprobs.append(t) }
        guard !endTokens.contains(token) else { return }
        state.decoded += state.decoder.push(token)
        // Send only text that cannot belong to a stop string: stop before a matched one, and hold back as many
        // characters as a stop string could still need. Offsets count Unicode scalars, which, unlike Characters,
        // never merge with what arrives later.
        let scalars = state.decoded.unicodeScalars
        var safe = scalars.count - Swift.max(0, (state.stops.map { $0.unicodeScalars.count }.max() ?? 0) - 1)
        if let hit = state.stops.compactMap({ state.decoded.range(of: $0)?.lowerBound }).min() {
            safe = Swift.min(safe, scalars.distance(from: scalars.startIndex, to: hit))
        }
        if safe > state.sent {
            send(
                Chunk(
                    index: state.index, text: String(String.UnicodeScalarView(scalars.dropFirst(state.sent).prefix(safe - state.sent))),
                    finishReason: nil, logprobs: state.pendingLogprobs.map(positionLogprobs)))
            state.sent = safe
            state.reportedLogprobs += state.pendingLogprobs.count
            state.pendingLogprobs = []
        }
    }

    /// Records a finished completion; the request is answered when its last completion finishes.
    private func finish(id: Int, output: GenerationOutput) {
        guard let state = rowStates.removeValue(forKey: id), let active = state.active else { return }
        let request = active.request
        var tokens = output.tokens
        if case .endOfSequence = output.stop { tokens.removeLast() }
        var text = tokenizer.decode(tokens)
        if let cut = state.stops.compactMap({ text.range(of: $0)?.lowerBound }).min() { text = String(text[..<cut]) }
        active.completions[state.index] = Completion(
            text: text, tokens: output.tokens, logprobs: request.parameters.logprobs ? output.logprobs : nil, sampled: output.sampled,
            stop: output.stop, reasoningTokens: state.controller.thinkingTokens,
            confidences: request.parameters.confidence != nil ? output.confidences : nil,
            topLogprobs: request.parameters.topLogprobs != nil ? output.topLogprobs.map(positionLogprobs) : nil)
        active.open -= 1
        var usage: Usage?
        if active.open == 0 {
            let cs = active.completions.map { $0! }
            usage = Usage(
                promptTokens: active.prompt.count, completionTokens: cs.reduce(0) { $0 + $1.tokens.count },
                reasoningTokens: cs.reduce(0) { $0 + $1.reasoningTokens }, cachedPromptTokens: active.reused)
        }
        let rest = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(state.sent)))
        if let send = active.job.onChunk {
            send(
                Chunk(
                    index: state.index, text: rest, finishReason: output.stop.finishReason,
                    logprobs: output.topLogprobs.dropFirst(state.reportedLogprobs).map(positionLogprobs), usage: usage))
        }
        guard let usage else { return }
        running.removeAll { $0 === active }
        let cs = active.completions.map { $0! }
        deliver(active.job, active.index, .success(CompletionResponse(promptTokens: active.prompt, completions: cs, usage: usage)))
    }

    /// A position's log-probabilities with each token's text.
    private func positionLogprobs(_ t: TopLogprobs) -> PositionLogprobs {
        PositionLogprobs(
            token: tokenizer.decode([t.token]), id: t.token, logprob: t.logprob,
            top: zip(t.tokens, t.logprobs).map { TokenLogprob(token: tokenizer.decode([$0]), id: $0, logprob: $1) })
    }

    /// Stores one request's result; answers the job when it has all of them.
    private func deliver(_ job: Job, _ index: Int, _ result: Result<CompletionResponse, Error>) {
        guard !job.finished, job.results[index] == nil else { return }
        job.results[index] = result
        job.open -= 1
        if job.open == 0 {
            job.finished = true
            publish()  // callers that read `load` after their answer see the batch without them
            job.done(job.results.map { $0! })
        }
    }

    // MARK: Prompts

    /// The prompt text a request continues (chat rendered by the template, then the continuation).
    public func promptText(_ request: CompletionRequest) throws -> String {
        switch request.prompt {
        case .text(let s): return s + request.continuation
        case .chat(let messages):
            guard let template else {
                throw PonderError.invalidArgument("model \(name) has no chat template; send a text prompt")
            }
            return try template.render(messages, addGenerationPrompt: true) + request.continuation
        }
    }
}
