import ArgumentParser
import Foundation
import PonderTraining
import Torch

/// Flags every training command shares; each overrides the same field of `--config`.
struct TrainingFlags: ParsableArguments {
    @Option(name: .long, help: "Run directory (metrics, completions, checkpoints).") var run: String
    @Option(name: .long, help: "A JSON file with the configuration; flags given here override its fields.") var config: String?
    @Flag(name: .long, help: "Continue from the run's latest checkpoint.") var resume = false
    @Option(name: .long, help: "Optimizer steps.") var steps: Int?
    @Option(name: .long, help: "Peak learning rate.") var learningRate: Double?
    @Option(name: .long, help: "Linear warmup steps.") var warmupSteps: Int?
    @Option(name: .long, help: "constant, linear or cosine.") var decay: LearningRateSchedule.Decay?
    @Option(name: .long, help: "Decoupled weight decay.") var weightDecay: Double?
    @Option(name: .long, help: "Gradient-norm clip (0 = off).") var maxGradNorm: Double?
    @Option(name: .long, help: "Micro-batches per optimizer step.") var gradientAccumulationSteps: Int?
    @Option(name: .long, help: "Checkpoint every N steps.") var saveEvery: Int?
    @Option(name: .long, help: "Checkpoints kept.") var keepCheckpoints: Int?
    @Option(name: .long, help: "Seed for data order and sampling.") var seed: UInt64?
    @Option(
        name: .long, help: "Compute dtype for training: float32 (default) or bfloat16 (weights, gradients and optimizer state in bfloat16)."
    )
    var dtype = "float32"

    func validate() throws {
        guard computeDType != nil else { throw ValidationError("--dtype \(dtype): training computes in float32 or bfloat16") }
    }

    /// The training compute dtype.
    var computeDType: DType? { ["float32": DType.float32, "bfloat16": .bfloat16][dtype] }

    /// The base configuration from `--config`, or `fallback`.
    func base<C: Decodable>(_ type: C.Type, fallback: C) throws -> C {
        guard let config else { return fallback }
        do { return try JSONDecoder().decode(C.self, from: Data(contentsOf: URL(fileURLWithPath: config))) } catch {
            throw ValidationError("\(config): \(error)")
        }
    }

    /// Applies the flags given to `options`.
    func apply(to options: inout TrainingOptions) {
        if let steps { options.steps = steps }
        if let learningRate { options.learningRate = learningRate }
        if let warmupSteps { options.warmupSteps = warmupSteps }
        if let decay { options.decay = decay }
        if let weightDecay { options.weightDecay = weightDecay }
        if let maxGradNorm { options.maxGradNorm = maxGradNorm }
        if let gradientAccumulationSteps { options.gradientAccumulationSteps = gradientAccumulationSteps }
        if let saveEvery { options.saveEvery = saveEvery }
        if let keepCheckpoints { options.keepCheckpoints = keepCheckpoints }
        if let seed { options.seed = seed }
    }
}

extension LearningRateSchedule.Decay: ExpressibleByArgument {}
