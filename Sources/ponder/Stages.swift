import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining

/// The stages multi-stage commands (`star`, `recipe r1`) chain, each its own resumable unit under one run directory:
/// a finished stage is recognised by its output (a checkpoint at its last step, a sampling stats file, a cached
/// evaluation) and skipped on a rerun; an unfinished one resumes from its checkpoint or progress file.
enum Stages {
    static func say(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

    /// Settings of an SFT stage.
    struct SFTSettings {
        var steps: Int
        var learningRate = 3e-4
        var batchSize = 16
        var seed: UInt64 = 0
    }

    /// Fine-tunes the model in `from` on `examples` in run directory `run`; returns the final checkpoint (a complete
    /// model directory). Skipped when that checkpoint exists; resumed from the latest one otherwise.
    static func sft(from: URL, examples: [SFTExample], run: URL, settings: SFTSettings) async throws -> URL {
        let runDir = try RunDirectory(run)
        if let last = runDir.checkpoints().last, last.step == settings.steps { return last.url }
        var c = SFTTrainer.Configuration.defaults
        c.training.steps = settings.steps
        c.training.learningRate = settings.learningRate
        c.training.decay = .constant
        c.training.seed = settings.seed
        c.training.saveEvery = Swift.max(1, settings.steps / 4)
        c.training.keepCheckpoints = 1
        c.batchSize = settings.batchSize
        let model = try ModelDirectory.load(from, dtype: .float32)
        let tokenizer = try Tokenizer.load(directory: from)
        guard let end = tokenizer.specialTokenIDs.eos.first ?? model.configuration.eosTokenIds.first else {
            throw TrainingError.invalidConfiguration("\(from.path): no end-of-sequence token is configured")
        }
        let trainer = try SFTTrainer(configuration: c, model: model, tokenizer: tokenizer, template: nil, examples: examples, endToken: end)
        _ = try await trainer.train(
            run: runDir, resume: !runDir.checkpoints().isEmpty, tokenizerFiles: tokenizerFiles(from), interrupt: InterruptFlag.onSignals(),
            onStep: ProgressBar(keys: ["loss"], every: 10).update)
        guard let last = runDir.checkpoints().last, last.step == settings.steps else {
            throw TrainingError.io(path: run.path, reason: "the SFT stage stopped before its last step (interrupted?); rerun to resume")
        }
        return last.url
    }

    /// Settings of a GRPO stage.
    struct GRPOSettings {
        var steps: Int
        var learningRate = 2e-4
        var promptsPerStep = 8
        var numGenerations = 8
        var maxCompletionLength = 80
        var seed: UInt64 = 0
        /// Reward functions by name (default: the task's accuracy + 0.2 × format).
        var rewards: [WeightedReward]? = nil
    }

    /// GRPO from the model in `from` on `problems`; returns the final checkpoint. Skipped or resumed as `sft`.
    static func grpo(from: URL, task: any ReasoningTask, problems: [Problem], run: URL, settings: GRPOSettings) async throws -> URL {
        let runDir = try RunDirectory(run)
        if let last = runDir.checkpoints().last, last.step == settings.steps { return last.url }
        var c = GRPOTrainer.Configuration.defaults
        c.training.steps = settings.steps
        c.training.learningRate = settings.learningRate
        c.training.decay = .linear
        c.training.minimumLearningRateRatio = 0
        c.training.seed = settings.seed
        c.training.saveEvery = Swift.max(1, settings.steps / 4)
        c.training.keepCheckpoints = 1
        c.numGenerations = settings.numGenerations
        c.promptsPerStep = settings.promptsPerStep
        c.temperature = 1
        c.maxCompletionLength = settings.maxCompletionLength
        c.lossType = .dapo
        c.chunkRows = 32
        let policy = try ModelDirectory.load(from, dtype: .float32)
        let engine = try Engine(model: policy, directory: from, chat: false, options: .init(prefixCacheBytes: 0))
        let trainer = try GRPOTrainer(
            configuration: c, policy: policy, rollouts: engine, task: task, problems: problems, rewards: settings.rewards)
        _ = try await trainer.train(
            run: runDir, resume: !runDir.checkpoints().isEmpty, tokenizerFiles: tokenizerFiles(from), interrupt: InterruptFlag.onSignals(),
            onStep: ProgressBar(keys: ["reward", "rewards/accuracy/mean", "completions/mean_length"], every: 10).update)
        guard let last = runDir.checkpoints().last, last.step == settings.steps else {
            throw TrainingError.io(path: run.path, reason: "the GRPO stage stopped before its last step (interrupted?); rerun to resume")
        }
        return last.url
    }

    /// Rejection sampling with the model in `from` into `out` (resumable; see ``RejectionSampler``).
    static func sample(
        from: URL, task: any ReasoningTask, problems: [Problem], out: URL, policy: RejectionSampler.KeepPolicy, k: Int, maxTokens: Int,
        seed: UInt64, hint: Bool = false, label: String
    ) async throws -> (records: [RejectionSampler.ProblemRecord], stats: RejectionSampler.Stats) {
        let engine = try Engine(
            model: ModelDirectory.load(from, dtype: .float32), directory: from, chat: false, options: .init(prefixCacheBytes: 0))
        var sampler = RejectionSampler(
            model: engine, task: task, policy: policy, k: k, parameters: SamplingParameters(maxTokens: maxTokens, temperature: 1),
            seed: seed,
            concurrency: 16)
        sampler.hintAnswer = hint
        return try await sampler.run(
            problems: problems, output: out,
            onProblem: { done, total in
                if done == total || done % 64 == 0 { say("      \(label): \(done)/\(total) problems") }
            })
    }

    /// The SFT examples of a rejection-sampling output file.
    static func examples(_ file: URL) throws -> [SFTExample] {
        try JSONLines.read(file).map { SFTExample(prompt: .text($0["prompt"] as! String), completion: $0["completion"] as! String) }
    }

    /// Evaluates the model in `from`, cached in `cache` (a rerun reads it back).
    static func evaluate(
        from: URL, task: any ReasoningTask, problems: [Problem], samples: Int, maxTokens: Int, seed: UInt64, cache: URL
    ) async throws -> TaskEvaluation {
        if let data = try? Data(contentsOf: cache), let e = try? JSONDecoder().decode(TaskEvaluation.self, from: data) { return e }
        let engine = try Engine(
            model: ModelDirectory.load(from, dtype: .float32), directory: from, chat: false, options: .init(prefixCacheBytes: 0))
        let e = try await TaskEvaluation.run(
            model: engine, task: task, problems: problems, samples: samples, maxTokens: maxTokens, seed: seed)
        try FileManager.default.createDirectory(at: cache.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONEncoder().encode(e).write(to: cache, options: .atomic)
        return e
    }
}
