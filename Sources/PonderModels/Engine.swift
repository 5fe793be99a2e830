import Dispatch
import Foundation
import PonderCore
import PonderTokenizers
import Torch

/// A local `LanguageModel`: a `CausalLM`, its tokenizer and chat template, and a `Generator`.
///
/// Requests that arrive while a batch is running are queued and run together as the next batch (dynamic
/// batching), each with its own settings. libtorch work runs on the engine's own thread, never on Swift's
/// cooperative pool.
public final class Engine: LanguageModel, RolloutSource, @unchecked Sendable {
    /// Engine settings.
    public struct Options: Sendable {
        /// Compute dtype (default: the checkpoint's).
        public var dtype: DType?
        /// Largest KV cache one batch may allocate.
        public var maxCacheBytes: Int
        /// Memory for reusing cached prefixes across requests (0 disables it).
        public var prefixCacheBytes: Int
        /// Most queued requests run in one batch.
        public var maxBatchRequests: Int

        /// Makes options.
        public init(dtype: DType? = nil, maxCacheBytes: Int = 4 << 30, prefixCacheBytes: Int = 256 << 20, maxBatchRequests: Int = 64) {
            self.dtype = dtype
            self.maxCacheBytes = maxCacheBytes
            self.prefixCacheBytes = prefixCacheBytes
            self.maxBatchRequests = maxBatchRequests
        }
    }

    /// One piece of streamed output.
    public struct Chunk: Sendable, Equatable {
        /// Which of the `n` completions this belongs to.
        public var index: Int
        /// New text.
        public var text: String
        /// Set on a completion's last chunk.
        public var finishReason: FinishReason?
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
    /// The batched generator the engine runs.
    public let generator: Generator
    private let worker = DispatchQueue(label: "ponder.engine")
    private let lock = NSLock()
    private var pending: [Pending] = []
    private let maxBatchRequests: Int

    /// Requests that must run together (one `rollouts` call, or a single request), with their callbacks.
    private struct Pending {
        let requests: [CompletionRequest]
        let onChunk: (@Sendable (Chunk) -> Void)?
        let done: @Sendable ([Result<CompletionResponse, Error>]) -> Void
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
        self.maxBatchRequests = options.maxBatchRequests
        generator = Generator(
            model: model, endTokens: endTokens, maxCacheBytes: options.maxCacheBytes,
            prefixCache: options.prefixCacheBytes > 0 ? PrefixCache(maxBytes: options.prefixCacheBytes) : nil)
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

    public func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        try request.parameters.validate()
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(Pending(requests: [request], onChunk: nil, done: { continuation.resume(with: $0[0]) }))
        }
    }

    /// Streams the completions of `request` as text chunks; the stream ends after every completion finished.
    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<Chunk, Error> {
        AsyncThrowingStream { continuation in
            do { try request.parameters.validate() } catch { return continuation.finish(throwing: error) }
            enqueue(
                Pending(
                    requests: [request], onChunk: { continuation.yield($0) },
                    done: { results in
                        switch results[0] {
                        case .success: continuation.finish()
                        case .failure(let error): continuation.finish(throwing: error)
                        }
                    }))
        }
    }

    private func enqueue(_ p: Pending) {
        lock.lock()
        pending.append(p)
        lock.unlock()
        worker.async { [self] in drain() }
    }

    /// Runs queued work on the engine's thread: whole units, as many as fit in `maxBatchRequests` (at least one).
    private func drain() {
        lock.lock()
        var units: [Pending] = []
        var count = 0
        while let next = pending.first, units.isEmpty || count + next.requests.count <= maxBatchRequests {
            units.append(pending.removeFirst())
            count += next.requests.count
        }
        lock.unlock()
        guard !units.isEmpty else { return }
        let requests = units.flatMap(\.requests)
        let callbacks = units.flatMap { u in u.requests.map { _ in u.onChunk } }
        do {
            var results = try run(requests, onChunk: callbacks)[...]
            for u in units {
                u.done(Array(results.prefix(u.requests.count)))
                results = results.dropFirst(u.requests.count)
            }
        } catch {
            for u in units { u.done(u.requests.map { _ in .failure(error) }) }
        }
    }

    // MARK: RolloutSource

    /// Runs `requests` as one batch and returns their rollout records.
    ///
    /// The batch runs on the calling thread, serialized with the engine's queue (so it never races with queued
    /// requests). A trainer computes its loss on the same thread, so libtorch's OpenMP workers are not split between
    /// two thread teams (on a busy 2-core machine that costs ~40% of a GRPO step).
    public func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        for r in requests { try r.parameters.validate() }
        guard !requests.isEmpty else { return [] }
        return try worker.sync { try run(requests, onChunk: requests.map { _ in nil }) }.map { try $0.get() }
    }

    /// The engine computes with the model's own tensors: an optimizer step is visible at once.
    public var weightSync: WeightSync { .shared }

    /// Drops cached prefixes computed under the old weights.
    public func weightsUpdated(directory: String?) async throws {
        worker.sync { generator.prefixCache?.removeAll() }
    }

    // MARK: Running a batch

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

    private struct RowPlan {
        let request: Int
        let index: Int
        let controller: BudgetController
        let stops: [String]
    }

    private func run(_ requests: [CompletionRequest], onChunk: [(@Sendable (Chunk) -> Void)?]) throws -> [Result<CompletionResponse, Error>]
    {
        var rows: [GenerationRow] = []
        var plans: [RowPlan] = []
        var results = [Result<CompletionResponse, Error>?](repeating: nil, count: requests.count)
        var promptLengths = [Int](repeating: 0, count: requests.count)
        var promptTokens = [[Int]?](repeating: nil, count: requests.count)
        let thinkStart = tokenizer.encode("<think>", addSpecialTokens: false)
        let thinkEnd = tokenizer.encode("</think>", addSpecialTokens: false)
        for (ri, request) in requests.enumerated() {
            do {
                let text = try promptText(request)
                let addSpecial: Bool = { if case .text = request.prompt { return true } else { return false } }()
                let prompt = tokenizer.encode(text, addSpecialTokens: addSpecial)
                // A request that cannot fit fails alone; its batch neighbours still run.
                let context = model.configuration.maxPositionEmbeddings
                if prompt.count + request.parameters.maxTokens > context {
                    throw PonderError.contextOverflow(promptTokens: prompt.count, maxTokens: request.parameters.maxTokens, contextLength: context)
                }
                promptLengths[ri] = prompt.count
                promptTokens[ri] = prompt
                let p = request.parameters
                let opened = ThinkParser().opensReasoning(text)
                let continuation = tokenizer.encode(p.thinking?.continuation ?? "Wait", addSpecialTokens: false)
                let seed = p.seed ?? UInt64.random(in: 0...UInt64.max)
                let stops = p.stop
                let longestStop = stops.map(\.count).max() ?? 0
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
                    rows.append(
                        GenerationRow(prompt: prompt, sampling: p, random: SampleRandom(seed: seed, index: i), controller: controller))
                    plans.append(RowPlan(request: ri, index: i, controller: controller, stops: stops))
                }
            } catch {
                results[ri] = .failure(error)
            }
        }
        var decoders = plans.map { _ in tokenizer.makeStreamingDecoder() }
        var decoded = plans.map { _ in "" }
        var sent = plans.map { _ in 0 }
        let (outputs, stats) = try generator.generate(rows) { row, token in
            let plan = plans[row]
            guard let send = onChunk[plan.request], !self.endTokens.contains(token) else { return }
            decoded[row] += decoders[row].push(token)
            // Send only text that cannot belong to a stop string: stop before a matched one, and hold back
            // as many characters as a stop string could still need. Offsets count Unicode scalars, which, unlike
            // Characters, never merge with what arrives later.
            let scalars = decoded[row].unicodeScalars
            var safe = scalars.count - Swift.max(0, (plan.stops.map { $0.unicodeScalars.count }.max() ?? 0) - 1)
            if let hit = plan.stops.compactMap({ decoded[row].range(of: $0)?.lowerBound }).min() {
                safe = Swift.min(safe, scalars.distance(from: scalars.startIndex, to: hit))
            }
            if safe > sent[row] {
                send(
                    Chunk(
                        index: plan.index, text: String(String.UnicodeScalarView(scalars.dropFirst(sent[row]).prefix(safe - sent[row]))),
                        finishReason: nil))
                sent[row] = safe
            }
        }
        var completions = requests.map { _ in [Completion]() }
        for (row, output) in outputs.enumerated() {
            let plan = plans[row]
            var tokens = output.tokens
            if case .endOfSequence = output.stop { tokens.removeLast() }
            var text = tokenizer.decode(tokens)
            if let cut = plan.stops.compactMap({ text.range(of: $0)?.lowerBound }).min() { text = String(text[..<cut]) }
            completions[plan.request].append(
                Completion(
                    text: text, tokens: output.tokens, logprobs: requests[plan.request].parameters.logprobs ? output.logprobs : nil,
                    sampled: output.sampled, stop: output.stop, reasoningTokens: plan.controller.thinkingTokens))
            let rest = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(sent[row])))
            onChunk[plan.request]?(Chunk(index: plan.index, text: rest, finishReason: output.stop.finishReason))
        }
        for ri in requests.indices where results[ri] == nil {
            let cs = completions[ri]
            let usage = Usage(
                promptTokens: promptLengths[ri], completionTokens: cs.reduce(0) { $0 + $1.tokens.count },
                reasoningTokens: cs.reduce(0) { $0 + $1.reasoningTokens },
                cachedPromptTokens: promptTokens[ri].flatMap { stats.reusedByPrompt[$0] } ?? 0)
            results[ri] = .success(CompletionResponse(promptTokens: promptTokens[ri] ?? [], completions: cs, usage: usage))
        }
        return results.map { $0! }
    }
}
