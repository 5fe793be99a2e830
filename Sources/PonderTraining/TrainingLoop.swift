import Dispatch
import Foundation
import Logging
import OrderedCollections
import PonderModels
import Synchronization
import Torch

/// Settings shared by every trainer.
public struct TrainingOptions: Sendable, Codable, Equatable {
    /// Optimizer steps to run in total.
    public var steps: Int
    /// Peak learning rate.
    public var learningRate: Double = 3e-4
    public var warmupSteps: Int = 0
    public var decay: LearningRateSchedule.Decay = .cosine
    public var minimumLearningRateRatio: Double = 0.1
    public var weightDecay: Double = 0.0
    public var beta1: Double = 0.9
    public var beta2: Double = 0.95
    /// Global gradient-norm limit (0 disables clipping).
    public var maxGradNorm: Double = 1.0
    /// Micro-batches accumulated per optimizer step.
    public var gradientAccumulationSteps: Int = 1
    /// Save a checkpoint every this many steps (and at the end).
    public var saveEvery: Int = 100
    /// Checkpoints kept.
    public var keepCheckpoints: Int = 2
    /// Seed for data order and sampling.
    public var seed: UInt64 = 0

    /// Makes options.
    public init(steps: Int) { self.steps = steps }

    public var schedule: LearningRateSchedule {
        LearningRateSchedule(
            peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps, decay: decay, minimumRatio: minimumLearningRateRatio)
    }

    public func validate() throws {
        if steps < 1 { throw TrainingError.invalidConfiguration("steps = \(steps) must be at least 1") }
        if !(learningRate > 0) { throw TrainingError.invalidConfiguration("learningRate = \(learningRate) must be positive") }
        if gradientAccumulationSteps < 1 { throw TrainingError.invalidConfiguration("gradientAccumulationSteps must be at least 1") }
        if saveEvery < 1 { throw TrainingError.invalidConfiguration("saveEvery must be at least 1") }
    }
}

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

/// The optimisation loop shared by pretraining and SFT: gradient accumulation, clipping, schedule, metrics,
/// checkpoints, resume and interruption.
struct TrainingLoop {
    let model: CausalLM
    let run: RunDirectory
    let options: TrainingOptions
    let trainerName: String
    let tokenizerFiles: [URL]
    let interrupt: InterruptFlag
    let logger: Logger
    let onStep: (StepReport) -> Void

    /// Runs until `options.steps`. `microLoss(step, micro)` returns the loss of one micro-batch and extra metrics;
    /// `cursor()` names the data position to save; `restoreCursor` sets it back on resume.
    func train(
        resume: Bool, cursor: () -> [String: UInt64], restoreCursor: ([String: UInt64]) throws -> Void,
        microLoss: (Int, Int) throws -> (Tensor, [String: Double])
    ) throws -> Int {
        try options.validate()
        model.parameters.setRequiresGrad(true)
        let optimizer = AdamW(
            parameters: model.parameters.trainable,
            configuration: .init(
                learningRate: options.learningRate, beta1: options.beta1, beta2: options.beta2, weightDecay: options.weightDecay))
        var start = 0
        if resume, let latest = run.checkpoints().last {
            let state = try RunDirectory.loadState(TrainerState.self, from: latest.url)
            guard state.trainer == trainerName else {
                throw TrainingError.badCheckpoint(path: latest.url.path, reason: "it was written by \(state.trainer), not \(trainerName)")
            }
            try RunDirectory.restore(model: model, optimizer: optimizer, from: latest.url)
            try restoreCursor(state.cursor)
            try run.truncateLogs(afterStep: state.step)
            start = state.step
            logger.info("resumed from \(latest.url.path) at step \(start)")
        }
        let schedule = options.schedule
        let began = Date()
        var step = start
        func save() throws {
            try run.saveCheckpoint(
                step: step, model: model, optimizer: optimizer, state: TrainerState(step: step, cursor: cursor(), trainer: trainerName),
                tokenizerFiles: tokenizerFiles, keep: options.keepCheckpoints)
        }
        while step < options.steps {
            if interrupt.isSet {
                try save()
                logger.notice("interrupted: saved checkpoint at step \(step)")
                return step
            }
            let t0 = Date()
            var lossSum = 0.0
            var extra: [String: Double] = [:]
            for micro in 0..<options.gradientAccumulationSteps {
                let (loss, metrics) = try microLoss(step, micro)
                (loss / Double(options.gradientAccumulationSteps)).backward()
                lossSum += loss.item()
                for (k, v) in metrics { extra[k, default: 0] += v / Double(options.gradientAccumulationSteps) }
            }
            let gradNorm = options.maxGradNorm > 0 ? clipGradNorm(optimizer.parameters.values, maxNorm: options.maxGradNorm) : 0
            let lr = schedule.rate(at: step)
            optimizer.configuration.learningRate = lr
            optimizer.step()
            optimizer.zeroGrad()
            step += 1
            var metrics: OrderedDictionary<String, Double> = [
                "loss": lossSum / Double(options.gradientAccumulationSteps), "grad_norm": gradNorm, "learning_rate": lr,
                "step_time": Date().timeIntervalSince(t0),
            ]
            for (k, v) in extra.sorted(by: { $0.key < $1.key }) { metrics[k] = v }
            var line: [String: Any] = ["step": step]
            for (k, v) in metrics { line[k] = v.isFinite ? v : nil }
            try run.appendLine(line, to: run.metricsURL)
            onStep(StepReport(step: step, totalSteps: options.steps, metrics: metrics, elapsed: Date().timeIntervalSince(began)))
            if step % options.saveEvery == 0 || step == options.steps { try save() }
        }
        return step
    }
}
