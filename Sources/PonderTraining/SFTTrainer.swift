import ArgumentParser
import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import PonderTokenizers
import Torch

/// One supervised example: a prompt and the completion to learn.
public struct SFTExample: Sendable, Codable, Equatable {
    public var prompt: Prompt
    public var completion: String

    public init(prompt: Prompt, completion: String) {
        self.prompt = prompt
        self.completion = completion
    }
}

/// Supervised fine-tuning: cross-entropy on completion tokens only (the prompt is context, not a target).
public struct SFTTrainer {
    /// SFT settings.
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @OptionGroup public var lora: LoRAOptions
        @Option(name: .long, help: "Examples per micro-batch.") public var batchSize = 8
        @Option(name: .long, help: "Longer examples are cut to this many tokens (prompt first).") public var maxLength = 512

        public init() {}

        public static var optimizerDefaults: OptimizerDefaults { .pretraining }
    }

    public let configuration: Configuration
    public let model: CausalLM
    /// Per example: token ids and, per position, whether the token is a training target.
    let encoded: [(ids: [Int], target: [Bool])]

    /// Tokenizes `examples`: chat prompts go through `template`; each completion ends with `endToken`.
    public init(
        configuration: Configuration, model: CausalLM, tokenizer: Tokenizer, template: PromptTemplate?, examples: [SFTExample], endToken: Int
    ) throws {
        guard !examples.isEmpty else { throw TrainingError.invalidConfiguration("no SFT examples") }
        self.configuration = configuration.resolved
        try configuration.lora.apply(to: model, seed: configuration.training.seed)
        self.model = model
        encoded = try examples.enumerated().map { i, e in
            let promptIds: [Int]
            switch e.prompt {
            case .text(let t): promptIds = tokenizer.encode(t, addSpecialTokens: true)
            case .chat(let messages):
                guard let template else {
                    throw TrainingError.invalidConfiguration("example \(i) is a chat but the model has no chat template")
                }
                promptIds = tokenizer.encode(try template.render(messages, addGenerationPrompt: true), addSpecialTokens: false)
            }
            let completionIds = tokenizer.encode(e.completion, addSpecialTokens: false) + [endToken]
            let ids = Array((promptIds + completionIds).prefix(configuration.maxLength))
            let target = (0..<ids.count).map { $0 >= promptIds.count }
            guard target.contains(true) else {
                throw TrainingError.invalidConfiguration("example \(i): the prompt fills all \(configuration.maxLength) tokens")
            }
            return (ids, target)
        }
    }

    /// Example indices of micro-batch (step, micro), in a seeded order per epoch.
    func batch(step: Int, micro: Int) -> [Int] {
        let perStep = configuration.batchSize * configuration.training.gradientAccumulationSteps
        let first = step * perStep + micro * configuration.batchSize
        return (first..<(first + configuration.batchSize)).map { i in
            Pretrainer.permutation(count: encoded.count, seed: configuration.training.seed &+ UInt64(i / encoded.count))[i % encoded.count]
        }
    }

    /// Cross-entropy over the completion tokens of examples `indices` (right-padded, padding ignored), averaged or
    /// summed over those tokens, and their number.
    func loss(_ indices: [Int], reduction: LossReduction = .mean) -> (Tensor, Int) {
        let rows = indices.map { encoded[$0] }
        let width = rows.map(\.ids.count).max()!
        var ids: [Int64] = []
        var labels: [Int64] = []
        for r in rows {
            let pad = width - r.ids.count
            ids += r.ids.map(Int64.init) + Array(repeating: 0, count: pad)
            // Position p predicts token p + 1; only completion tokens are targets.
            let next = (1..<r.ids.count).map { r.target[$0] ? Int64(r.ids[$0]) : -100 }
            labels += next + Array(repeating: -100, count: pad + 1)
        }
        let input = Tensor(ids, shape: [rows.count, width])
        let target = Tensor(labels, shape: [rows.count, width])
        let logits = model(input)
        let targets = labels.filter { $0 != -100 }.count
        return (
            crossEntropy(logits: logits.reshaped(-1, logits.size(-1)).to(.float32), target: target.reshaped(-1), reduction: reduction),
            targets
        )
    }

    /// Completion tokens that example `i` is trained on.
    func targetCount(_ i: Int) -> Int { encoded[i].target.dropFirst().filter { $0 }.count }

    /// The gradients of one optimizer step: cross-entropy summed over the completion tokens of every micro-batch and
    /// divided by the completion tokens of the whole step, as TRL normalises, so an example weighs by its tokens
    /// whichever micro-batch it falls in (a mean of micro-batch means would over-weight short completions).
    /// With several ranks each takes its contiguous share of every micro-batch; the normaliser stays the whole
    /// step's token count (every rank knows the seeded order), so the ranks' gradients add up to the step's.
    func gradients(step: Int, parallel: DataParallel = .single) -> OrderedDictionary<String, Double> {
        let micro = (0..<configuration.training.gradientAccumulationSteps).map { batch(step: step, micro: $0) }
        let total = Double(Swift.max(1, micro.joined().reduce(0) { $0 + targetCount($1) }))
        var sum = 0.0
        for indices in micro {
            let mine = Array(indices[parallel.shard(of: indices.count)])
            let (loss, _) = loss(mine, reduction: .sum)
            (loss / total).backward()
            sum += loss.item()
        }
        return ["loss": sum / total, "tokens": total / Double(micro.count) / Double(parallel.size)]
    }

    /// Trains, writing to `run`; returns the last completed step.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.sft"), parallel: DataParallel = .single, onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        guard configuration.batchSize >= parallel.size else {
            throw TrainingError.invalidConfiguration(
                "batchSize = \(configuration.batchSize) is smaller than the \(parallel.size) ranks: each rank needs at least one example per micro-batch")
        }
        if parallel.isMain { try run.writeConfiguration(configuration) }
        var loop = TrainingLoop(
            model: model, run: run, options: configuration.training, trainerName: "sft", tokenizerFiles: tokenizerFiles,
            interrupt: interrupt, logger: logger, onStep: onStep)
        loop.parallel = parallel
        var hooks = TrainingLoop.Hooks(step: { step in gradients(step: step, parallel: parallel) })
        hooks.summedMetrics = ["loss", "tokens"]
        return try await loop.train(resume: resume, hooks)
    }
}
