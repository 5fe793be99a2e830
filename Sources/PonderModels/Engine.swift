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
public final class Engine: LanguageModel, @unchecked Sendable {
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
    /// The chat format, when the model has one.
    public let template: ChatTemplate?
    /// Ids that end a sequence (config, generation config and tokenizer).
    public let endTokens: Set<Int>
    /// The batched generator the engine runs.
    public let generator: Generator
    private let worker = DispatchQueue(label: "ponder.engine")
    private let lock = NSLock()
    private var pending: [Pending] = []
    private let maxBatchRequests: Int

    private struct Pending {
        let request: CompletionRequest
        let onChunk: (@Sendable (Chunk) -> Void)?
        let done: @Sendable (Result<CompletionResponse, Error>) -> Void
    }

    /// An engine over an existing model and tokenizer.
    public init(
        model: CausalLM, tokenizer: Tokenizer, template: ChatTemplate?, name: String, extraEndTokens: [Int] = [],
        options: Options = Options()
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.name = name
        self.endTokens = Set(model.configuration.eosTokenIds + tokenizer.specialTokenIDs.eos + extraEndTokens)
        self.maxBatchRequests = options.maxBatchRequests
        generator = Generator(
            model: model, endTokens: endTokens, maxCacheBytes: options.maxCacheBytes,
            prefixCache: options.prefixCacheBytes > 0 ? PrefixCache(maxBytes: options.prefixCacheBytes) : nil)
    }

    /// Loads a Hugging Face model directory (config, weights, tokenizer, optional chat template).
    public static func load(_ directory: URL, options: Options = Options()) throws -> Engine {
        let model = try ModelDirectory.load(directory, dtype: options.dtype)
        let tokenizer = try Tokenizer.load(directory: directory)
        let template = try? ChatTemplate.detect(directory: directory)
        let generation = try ModelDirectory.generationConfig(at: directory)
        var extra: [Int] = []
        if let e = generation["eos_token_id"] as? Int { extra = [e] } else if let e = generation["eos_token_id"] as? [Int] { extra = e }
        return Engine(
            model: model, tokenizer: tokenizer, template: template, name: directory.lastPathComponent, extraEndTokens: extra,
            options: options)
    }

    // MARK: LanguageModel

    public func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        try request.parameters.validate()
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(Pending(request: request, onChunk: nil, done: { continuation.resume(with: $0) }))
        }
    }

    /// Streams the completions of `request` as text chunks; the stream ends after every completion finished.
    public func stream(_ request: CompletionRequest) -> AsyncThrowingStream<Chunk, Error> {
        AsyncThrowingStream { continuation in
            do { try request.parameters.validate() } catch { return continuation.finish(throwing: error) }
            enqueue(
                Pending(
                    request: request, onChunk: { continuation.yield($0) },
                    done: { result in
                        switch result {
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

    private func drain() {
        lock.lock()
        let batch = Array(pending.prefix(maxBatchRequests))
        pending.removeFirst(batch.count)
        lock.unlock()
        guard !batch.isEmpty else { return }
        do {
            let results = try run(batch.map(\.request), onChunk: batch.map(\.onChunk))
            for (p, r) in zip(batch, results) { p.done(r) }
        } catch {
            for p in batch { p.done(.failure(error)) }
        }
    }

    /// Runs requests as one batch on the calling thread.
    public func completeBatch(_ requests: [CompletionRequest]) throws -> [CompletionResponse] {
        for r in requests { try r.parameters.validate() }
        return try run(requests, onChunk: requests.map { _ in nil }).map { try $0.get() }
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
            return template.render(messages, addGenerationPrompt: true) + request.continuation
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
                promptLengths[ri] = prompt.count
                promptTokens[ri] = prompt
                let p = request.parameters
                let opened =
                    text.range(of: "<think>", options: .backwards).map { open in
                        text.range(of: "</think>", options: .backwards).map { $0.lowerBound < open.lowerBound } ?? true
                    } ?? false
                let continuation = tokenizer.encode(p.thinking?.continuation ?? "Wait", addSpecialTokens: false)
                let seed = p.seed ?? UInt64.random(in: 0...UInt64.max)
                let stops = p.stop
                let longestStop = stops.map(\.count).max() ?? 0
                for i in 0..<p.n {
                    let stopTest: (([Int]) -> Bool)? =
                        stops.isEmpty
                        ? nil
                        : { [tokenizer] tokens in
                            let tail = tokenizer.decode(Array(tokens.suffix(longestStop + 2)))
                            return stops.contains { tail.contains($0) }
                        }
                    let controller = try BudgetController(
                        budget: p.thinking, startsThinking: opened, thinkStart: thinkStart, thinkEnd: thinkEnd, continuation: continuation,
                        endTokens: endTokens, stopTest: stopTest)
                    rows.append(
                        GenerationRow(
                            prompt: prompt,
                            sampling: RowSampling(temperature: p.temperature, topK: p.topK ?? 0, topP: p.topP, minP: p.minP),
                            maxTokens: p.maxTokens, random: SampleRandom(seed: seed, index: i), controller: controller))
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
            if output.finishReason == .stop, let last = tokens.last, endTokens.contains(last) { tokens.removeLast() }
            var text = tokenizer.decode(tokens)
            if let cut = plan.stops.compactMap({ text.range(of: $0)?.lowerBound }).min() { text = String(text[..<cut]) }
            completions[plan.request].append(
                Completion(
                    text: text, tokens: output.tokens, logprobs: requests[plan.request].parameters.logprobs ? output.logprobs : nil,
                    finishReason: output.finishReason, reasoningTokens: plan.controller.thinkingTokens))
            let rest = String(String.UnicodeScalarView(text.unicodeScalars.dropFirst(sent[row])))
            onChunk[plan.request]?(Chunk(index: plan.index, text: rest, finishReason: output.finishReason))
        }
        for ri in requests.indices where results[ri] == nil {
            let cs = completions[ri]
            let usage = Usage(
                promptTokens: promptLengths[ri], completionTokens: cs.reduce(0) { $0 + $1.tokens.count },
                reasoningTokens: cs.reduce(0) { $0 + $1.reasoningTokens },
                cachedPromptTokens: promptTokens[ri].flatMap { stats.reusedByPrompt[$0] } ?? 0)
            results[ri] = .success(CompletionResponse(completions: cs, usage: usage))
        }
        return results.map { $0! }
    }
}
