import ArgumentParser
import Dispatch
import Foundation
import Logging
import OrderedCollections
import PonderModels
import Synchronization
import Torch

/// Settings shared by every trainer; each knob is a flag of every training command (see `ConfigurationFile`).
public struct TrainingOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "Optimizer steps to run in total.") public var steps = 100
    @Option(name: .long, help: "Peak learning rate (default: 3e-4 for pretraining and SFT; 1e-6 for GRPO and 1e-4 for reward models, TRL's).")
    public var learningRate: Double?
    @Option(name: .long, help: "Linear warmup steps from 0.") public var warmupSteps = 0
    @Option(name: .long, help: "Decay after warmup: constant, linear or cosine.") public var decay: LearningRateSchedule.Decay = .cosine
    @Option(name: .long, help: "The final learning rate as a fraction of the peak.") public var minimumLearningRateRatio = 0.1
    @Option(name: .long, help: "Decoupled (AdamW) weight decay.") public var weightDecay = 0.0
    @Option(name: .long, help: "Adam beta1.") public var beta1 = 0.9
    @Option(name: .long, help: "Adam beta2 (default: 0.95 for pretraining and SFT; 0.999 for GRPO and reward models, TRL's).") public var beta2: Double?
    @Option(name: .long, help: "Global gradient-norm limit (0 disables clipping).") public var maxGradNorm = 1.0
    @Option(name: .long, help: "Micro-batches accumulated per optimizer step (pretraining and SFT).")
    public var gradientAccumulationSteps = 1
    @Option(name: .long, help: "Save a checkpoint every this many steps (and at the end).") public var saveEvery = 100
    @Option(name: .long, help: "Checkpoints kept.") public var keepCheckpoints = 2
    @Option(name: .long, help: "Seed for data order and sampling.") public var seed: UInt64 = 0
    @Option(
        name: .long,
        help: "Training compute dtype: float32, or bfloat16 (bfloat16 weights and gradients; float32 master weights and optimizer state)."
    )
    public var dtype: TrainingDType = .float32

    public init() {}

    /// These options with the learning rate and Adam beta2 the flags left unset taken from `defaults`.
    public func resolved(_ defaults: OptimizerDefaults) -> TrainingOptions {
        var o = self
        o.learningRate = learningRate ?? defaults.learningRate
        o.beta2 = beta2 ?? defaults.beta2
        return o
    }

    /// The peak learning rate (pretraining's default when unset and not resolved).
    public var peakLearningRate: Double { learningRate ?? OptimizerDefaults.pretraining.learningRate }
    /// Adam beta2 (pretraining's default when unset and not resolved).
    public var adamBeta2: Double { beta2 ?? OptimizerDefaults.pretraining.beta2 }

    public var schedule: LearningRateSchedule {
        LearningRateSchedule(
            peak: peakLearningRate, warmupSteps: warmupSteps, totalSteps: steps, decay: decay, minimumRatio: minimumLearningRateRatio)
    }

    public func validate() throws {
        if steps < 1 { throw TrainingError.invalidConfiguration("steps = \(steps) must be at least 1") }
        if let learningRate, !(learningRate > 0) {
            throw TrainingError.invalidConfiguration("learningRate = \(learningRate) must be positive")
        }
        if let beta2, !(beta2 >= 0 && beta2 < 1) { throw TrainingError.invalidConfiguration("beta2 = \(beta2) must be in [0, 1)") }
        if gradientAccumulationSteps < 1 { throw TrainingError.invalidConfiguration("gradientAccumulationSteps must be at least 1") }
        if saveEvery < 1 { throw TrainingError.invalidConfiguration("saveEvery must be at least 1") }
    }
}

/// The learning rate and Adam beta2 a trainer uses when the flags leave them unset.
public struct OptimizerDefaults: Sendable {
    public var learningRate: Double
    public var beta2: Double

    /// Pretraining and SFT: 3e-4, β2 0.95.
    public static let pretraining = OptimizerDefaults(learningRate: 3e-4, beta2: 0.95)
    /// Reinforcement learning: TRL's GRPOConfig defaults, 1e-6 and β2 0.999 (a pretraining rate wrecks a real model
    /// in a few RL steps).
    public static let reinforcement = OptimizerDefaults(learningRate: 1e-6, beta2: 0.999)
}

/// Low-rank adaptation from the command line (PEFT's `LoraConfig` names); `--lora-r 0` trains every weight.
public struct LoRAOptions: ParsableArguments, Sendable {
    @Option(name: .long, help: "LoRA rank (0: no adapters, train every weight).") public var loraR = 0
    @Option(name: .long, help: "LoRA alpha: updates are scaled by alpha / r.") public var loraAlpha = 16.0
    @Option(name: .long, help: "Dropout on the adapters' input while training.") public var loraDropout = 0.0
    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Projections to adapt: q_proj k_proj v_proj o_proj gate_proj up_proj down_proj.")
    public var loraTargetModules: [String] = ["q_proj", "k_proj", "v_proj", "o_proj"]

    public init() {}

    /// The adapter settings, or `nil` without LoRA.
    public var settings: LoRA.Settings? {
        loraR > 0 ? LoRA.Settings(r: loraR, alpha: loraAlpha, dropout: loraDropout, targetModules: loraTargetModules) : nil
    }

    /// Attaches fresh adapters to `model` when LoRA is on and it has none (a resumed run then restores them).
    public func apply(to model: CausalLM, seed: UInt64) throws {
        guard let settings, model.adapters == nil else { return }
        try model.addAdapters(settings, seed: seed)
    }
}

/// A trainer's configuration: its knobs, the shared training options, and the optimizer defaults it fills in.
public protocol TrainerConfiguration: ParsableArguments {
    var training: TrainingOptions { get set }
    /// The learning rate and Adam beta2 used when the flags leave them unset.
    static var optimizerDefaults: OptimizerDefaults { get }
}

extension TrainerConfiguration {
    /// This configuration with the optimizer defaults filled in (what a trainer runs and `config.json` records).
    public var resolved: Self {
        var c = self
        c.training = training.resolved(Self.optimizerDefaults)
        return c
    }
}

/// The dtypes training computes in.
public enum TrainingDType: String, Sendable, CaseIterable, ExpressibleByArgument {
    case float32, bfloat16

    public var dtype: DType { self == .float32 ? .float32 : .bfloat16 }
}

extension LearningRateSchedule.Decay: ExpressibleByArgument {}

/// What a trainer saves with each checkpoint besides weights and optimizer state.
public struct TrainerState: Codable, Sendable, Equatable {
    /// Optimizer steps completed.
    public var step: Int
    /// Trainer-specific cursor (data position, RNG) as named integers.
    public var cursor: [String: UInt64]
    /// Trainer name, for checking a resume points at the right kind of run.
    public var trainer: String
}

/// Progress of a training run, reported after each step.
public struct StepReport: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var metrics: OrderedDictionary<String, Double>
    public var elapsed: Double
}

/// Stops a run between steps when Ctrl-C (SIGINT) or SIGTERM arrives, after saving a checkpoint.
public final class InterruptFlag: @unchecked Sendable {
    private let flag = Atomic<Bool>(false)
    /// Signal sources kept alive with the flag (set once, before the flag is shared).
    private var sources: [DispatchSourceSignal] = []

    /// A flag with no signal handling (tests set it by hand).
    public init() {}

    /// Whether a stop was requested.
    public var isSet: Bool { flag.load(ordering: .relaxed) }
    /// Requests a stop.
    public func set() { flag.store(true, ordering: .relaxed) }

    /// A flag set by SIGINT and SIGTERM.
    public static func onSignals() -> InterruptFlag {
        let f = InterruptFlag()
        var made: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { f.set() }
            source.resume()
            made.append(source)
        }
        f.sources = made
        return f
    }
}

/// The one optimisation loop every trainer runs (pretraining, SFT, GRPO): optimizer set-up, resume, interruption,
/// gradient clipping, the learning-rate schedule, metric logging and checkpoints. A trainer supplies only its step.
struct TrainingLoop {
    let model: CausalLM
    let run: RunDirectory
    let options: TrainingOptions
    let trainerName: String
    let tokenizerFiles: [URL]
    let interrupt: InterruptFlag
    let logger: Logger
    let onStep: (StepReport) -> Void
    /// The ranks training together (rank 0 logs and saves).
    var parallel: DataParallel = .single

    /// What a trainer plugs into the loop.
    struct Hooks {
        /// The data position to save with a checkpoint.
        var cursor: () -> [String: UInt64] = { [:] }
        /// Sets the data position back on resume.
        var restoreCursor: ([String: UInt64]) throws -> Void = { _ in }
        /// Writes trainer state beyond weights, optimizer and cursor into a checkpoint directory being saved (GRPO:
        /// the generation batch, when the checkpoint falls inside one).
        var saveExtra: (URL) throws -> Void = { _ in }
        /// Reads what `saveExtra` wrote, on resume.
        var restoreExtra: (URL) throws -> Void = { _ in }
        /// Computes the gradients of step `step` (backward already run) and returns its metrics.
        var step: (Int) async throws -> OrderedDictionary<String, Double>
        /// Called after each optimizer update (GRPO tells its sampler about the new weights).
        var afterUpdate: (Int) async throws -> Void = { _ in }
        /// With several ranks: whether gradients are averaged across ranks (each rank's loss is the mean over its
        /// equal share) or summed (each rank's loss is already divided by the global count).
        var averageGradients = false
        /// With several ranks: metrics added across ranks (already divided by global counts); others are averaged,
        /// or take the extreme when named `…min` / `…max`.
        var summedMetrics: Set<String> = []
    }

    /// Runs until `options.steps`; returns the last completed step.
    func train(resume: Bool, _ hooks: Hooks) async throws -> Int {
        try options.validate()
        let optimizer = AdamW(
            parameters: model.prepareForTraining(),
            configuration: .init(
                learningRate: options.peakLearningRate, beta1: options.beta1, beta2: options.adamBeta2, weightDecay: options.weightDecay),
            masterWeights: model.dtype != .float32)
        var start = 0
        if resume, let latest = run.checkpoints().last {
            let state = try RunDirectory.loadState(TrainerState.self, from: latest.url)
            guard state.trainer == trainerName else {
                throw TrainingError.badCheckpoint(path: latest.url.path, reason: "it was written by \(state.trainer), not \(trainerName)")
            }
            try RunDirectory.restore(model: model, optimizer: optimizer, from: latest.url)
            try hooks.restoreCursor(state.cursor)
            try hooks.restoreExtra(latest.url)
            if parallel.isMain { try run.truncateLogs(afterStep: state.step) }
            start = state.step
            logger.info("resumed from \(latest.url.path) at step \(start)")
        }
        if parallel.size > 1 {
            // Every rank reads the checkpoint itself (the run directory is shared); they must agree on where they are.
            let starts = try parallel.gather([Double(start)])
            guard Set(starts).count == 1 else {
                throw TrainingError.invalidConfiguration(
                    "the ranks would resume from different steps (\(starts.map { Int($0) }) by rank): every rank must see the same run directory \(run.url.path)"
                )
            }
            // Rank 0's weights everywhere: the model's (a frozen base included), the adapters, and the float32
            // masters of mixed precision.
            let masters = optimizer.parameters.keys.compactMap { optimizer.masterWeight($0) }
            try parallel.broadcast(
                Array(model.parameters.tensors.values) + (model.adapters.map { Array($0.store.tensors.values) } ?? []) + masters)
        }
        let schedule = options.schedule
        let began = Date()
        var step = start
        func save() throws {
            guard let group = parallel.group else {
                try run.saveCheckpoint(
                    step: step, model: model, optimizer: optimizer, state: TrainerState(step: step, cursor: hooks.cursor(), trainer: trainerName),
                    tokenizerFiles: tokenizerFiles, keep: options.keepCheckpoints, extra: hooks.saveExtra)
                return
            }
            // Weights and optimizer state are the same on every rank; what differs (GRPO's share of a generation
            // batch) is staged by each rank and moved into rank 0's checkpoint before it is renamed into place.
            let fm = FileManager.default
            func staging(_ rank: Int) -> URL { run.checkpointsURL.appendingPathComponent(".step-\(step).rank-\(rank)") }
            if !parallel.isMain {
                try? fm.removeItem(at: staging(group.rank))
                try fm.createDirectory(at: staging(group.rank), withIntermediateDirectories: true)
                try hooks.saveExtra(staging(group.rank))
            }
            try group.barrier()
            if parallel.isMain {
                try run.saveCheckpoint(
                    step: step, model: model, optimizer: optimizer, state: TrainerState(step: step, cursor: hooks.cursor(), trainer: trainerName),
                    tokenizerFiles: tokenizerFiles, keep: options.keepCheckpoints,
                    extra: { dir in
                        try hooks.saveExtra(dir)
                        for rank in 1..<group.size {
                            for name in try fm.contentsOfDirectory(atPath: staging(rank).path) {
                                try fm.moveItem(at: staging(rank).appendingPathComponent(name), to: dir.appendingPathComponent(name))
                            }
                            try fm.removeItem(at: staging(rank))
                        }
                    })
            }
            try group.barrier()
        }
        while step < options.steps {
            // A stop requested on any rank stops them all at the same step.
            if try parallel.max([interrupt.isSet ? 1 : 0])[0] > 0 {
                try save()
                logger.notice("interrupted: saved checkpoint at step \(step)")
                return step
            }
            let t0 = Date()
            var metrics = try await hooks.step(step)
            if let group = parallel.group {
                // The barrier separates waiting for the slowest rank from the all-reduce itself.
                let c0 = Date()
                try group.barrier()
                let c1 = Date()
                let bytes = try group.allReduceGradients(
                    of: Array(optimizer.parameters.values), bucketBytes: parallel.bucketBytes, average: hooks.averageGradients)
                let c2 = Date()
                metrics = try parallel.reduce(metrics, sums: hooks.summedMetrics)
                metrics["time/waiting"] = c1.timeIntervalSince(c0)
                metrics["time/communication"] = c2.timeIntervalSince(c1)
                metrics["communication_bytes"] = Double(bytes)
            }
            metrics["grad_norm"] = options.maxGradNorm > 0 ? clipGradNorm(optimizer.parameters.values, maxNorm: options.maxGradNorm) : 0
            let lr = schedule.rate(at: step)
            optimizer.configuration.learningRate = lr
            optimizer.step()
            optimizer.zeroGrad()
            // The step's freed activations go back to the system before the next phase allocates (GRPO's sampler
            // repacks its decode weights there): without it the resident peak grows by them from the second step on.
            HostMemory.trim()
            step += 1
            try await hooks.afterUpdate(step)
            metrics["learning_rate"] = lr
            metrics["step_time"] = Date().timeIntervalSince(t0)
            if parallel.isMain {
                var line: [String: Any] = ["step": step]
                for (k, v) in metrics where v.isFinite { line[k] = v }
                try run.appendLine(line, to: run.metricsURL)
                onStep(StepReport(step: step, totalSteps: options.steps, metrics: metrics, elapsed: Date().timeIntervalSince(began)))
            }
            if step % options.saveEvery == 0 || step == options.steps { try save() }
        }
        return step
    }

    /// A gradient-accumulation step of equal-sized micro-batches (pretraining: every window has the same number of
    /// tokens, so the mean of micro-batch means is the token mean): `options.gradientAccumulationSteps` micro-batches,
    /// each loss scaled by 1/accumulation and back-propagated; metrics are the micro-batch means. SFT normalises by
    /// the step's completion tokens instead (`SFTTrainer.gradients(step:)`).
    static func accumulate(
        _ options: TrainingOptions, step: Int, microLoss: (Int, Int) throws -> (Tensor, [String: Double])
    ) throws -> OrderedDictionary<String, Double> {
        let n = Double(options.gradientAccumulationSteps)
        var lossSum = 0.0
        var extra: [String: Double] = [:]
        for micro in 0..<options.gradientAccumulationSteps {
            let (loss, metrics) = try microLoss(step, micro)
            (loss / n).backward()
            lossSum += loss.item()
            for (k, v) in metrics { extra[k, default: 0] += v / n }
        }
        var out: OrderedDictionary<String, Double> = ["loss": lossSum / n]
        for (k, v) in extra.sorted(by: { $0.key < $1.key }) { out[k] = v }
        return out
    }
}
