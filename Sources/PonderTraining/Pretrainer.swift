import ArgumentParser
import Foundation
import Logging
import PonderCore
import PonderModels
import PonderTokenizers
import Torch

/// Next-token pretraining over packed text: documents are tokenized, joined with the end-of-sequence token and cut
/// into fixed windows of `contextLength + 1` tokens; each step takes `batchSize` windows in a seeded order.
public struct Pretrainer {
    /// Pretraining settings.
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @Option(name: .long, help: "Tokens per training window.") public var contextLength = 256
        @Option(name: .long, help: "Windows per micro-batch.") public var batchSize = 16

        public init() {}

        public static var optimizerDefaults: OptimizerDefaults { .pretraining }
    }

    public let configuration: Configuration
    public let model: CausalLM
    /// The packed corpus: windows × (contextLength + 1) token ids.
    let windows: [[Int64]]

    /// Packs `documents` with `tokenizer` (each document followed by `endToken`).
    public init(configuration: Configuration, model: CausalLM, tokenizer: Tokenizer, documents: [String], endToken: Int) throws {
        self.configuration = configuration.resolved
        self.model = model
        let width = configuration.contextLength + 1
        var stream: [Int64] = []
        for tokens in tokenizer.encodeBatch(documents, addSpecialTokens: false) {
            stream.append(contentsOf: tokens.map(Int64.init))
            stream.append(Int64(endToken))
        }
        windows = stride(from: 0, to: stream.count - width + 1, by: width).map { Array(stream[$0..<($0 + width)]) }
        guard !windows.isEmpty else {
            throw TrainingError.invalidConfiguration("the corpus has \(stream.count) tokens, fewer than one window of \(width)")
        }
        guard configuration.contextLength <= model.configuration.maxPositionEmbeddings else {
            throw TrainingError.invalidConfiguration(
                "contextLength \(configuration.contextLength) exceeds the model's \(model.configuration.maxPositionEmbeddings) positions")
        }
    }

    /// Number of packed windows.
    public var windowCount: Int { windows.count }

    /// The window indices of micro-batch (step, micro): epochs visit every window once, in an order fixed by the seed.
    func batch(step: Int, micro: Int) -> [Int] {
        let perStep = configuration.batchSize * configuration.training.gradientAccumulationSteps
        let first = (step * perStep) + micro * configuration.batchSize
        return (first..<(first + configuration.batchSize)).map { i in
            let epoch = i / windows.count
            return Self.permutation(count: windows.count, seed: configuration.training.seed &+ UInt64(epoch))[i % windows.count]
        }
    }

    static func permutation(count: Int, seed: UInt64) -> [Int] {
        var random = SeededRandom(seed: seed)
        var order = Array(0..<count)
        order.shuffle(using: &random)
        return order
    }

    /// Mean next-token cross-entropy of windows `indices`.
    func loss(_ indices: [Int]) -> Tensor {
        let width = configuration.contextLength + 1
        let data = Tensor(indices.flatMap { windows[$0] }, shape: [indices.count, width])
        let inputs = data.narrow(axis: 1, start: 0, length: width - 1)
        let targets = data.narrow(axis: 1, start: 1, length: width - 1)
        let logits = model(inputs)  // (B, T, V)
        return crossEntropy(logits: logits.reshaped(-1, logits.size(-1)).to(.float32), target: targets.reshaped(-1))
    }

    /// Trains, writing to `run`; returns the last completed step. With several ranks (`parallel`), each takes its
    /// contiguous share of every micro-batch of the seeded order and weighs its mean by its share of the windows,
    /// so the summed gradients are the whole micro-batch's.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.pretrain"), parallel: DataParallel = .single,
        onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        guard configuration.batchSize >= parallel.size else {
            throw TrainingError.invalidConfiguration(
                "batchSize = \(configuration.batchSize) is smaller than the \(parallel.size) ranks: each rank needs at least one window per micro-batch")
        }
        if parallel.isMain { try run.writeConfiguration(configuration) }
        var loop = TrainingLoop(
            model: model, run: run, options: configuration.training, trainerName: "pretrain", tokenizerFiles: tokenizerFiles,
            interrupt: interrupt, logger: logger, onStep: onStep)
        loop.parallel = parallel
        // The data order is a pure function of (seed, step), so the step alone is the cursor.
        let tokens = Double(configuration.batchSize * configuration.contextLength)
        var hooks = TrainingLoop.Hooks(step: { step in
            try TrainingLoop.accumulate(configuration.training, step: step) { step, micro in
                let indices = batch(step: step, micro: micro)
                guard parallel.size > 1 else { return (loss(indices), ["tokens": tokens]) }
                let mine = Array(indices[parallel.shard(of: indices.count)])
                return (loss(mine) * (Double(mine.count) / Double(indices.count)), ["tokens": tokens / Double(parallel.size)])
            }
        })
        hooks.summedMetrics = ["loss", "tokens"]
        return try await loop.train(resume: resume, hooks)
    }
}
