import ArgumentParser
import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import PonderTokenizers
import Torch

/// Generalized knowledge distillation (Agarwal et al. 2024), as TRL's GKDTrainer runs it: at each optimizer step,
/// with probability `lmbda` the student samples completions for the step's prompts (on-policy); otherwise the data
/// set's completions are used (or, with `seqKD`, the teacher's samples). The teacher scores every completion token and
/// the loss is the ``GeneralizedJSD`` between the student's and teacher's next-token distributions on the completion
/// tokens, summed over the step's tokens and divided by their number (TRL's `num_items_in_batch`).
///
/// The teacher must share the student's tokenizer (its logits are over the same ids); the trainer refuses teachers
/// whose vocabulary differs. Samplers are ``RolloutSource``s, so a student or teacher behind a server plugs in: the
/// student's sampler gets the new weights before each on-policy step (shared tensors, or a model directory it
/// reloads). As in TRL, the loss is computed at temperature 1; `temperature` is the sampling temperature.
public struct GKDTrainer {
    /// GKD settings, TRL's `GKDConfig` knobs as flags.
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @OptionGroup public var lora: LoRAOptions
        @Option(name: .long, help: "Generalized JSD interpolation: 0 = forward KL(teacher ‖ student), 1 = reverse KL.") public var beta =
            0.5
        @Option(name: .long, help: "Fraction of steps trained on the student's own samples (on-policy).") public var lmbda = 0.5
        @Option(name: .long, help: "Sampling temperature of on-policy and teacher samples.") public var temperature = 0.9
        @Option(name: .long, help: "Most new tokens per sampled completion.") public var maxNewTokens = 128
        @Flag(name: .long, help: "Off-policy steps train on the teacher's samples instead of the data's completions (sequence-level KD).")
        public var seqKD = false
        @Option(name: .long, help: "Prompts per micro-batch.") public var batchSize = 8
        @Option(name: .long, help: "Prompt + completion is cut to this many tokens (prompt first).") public var maxLength = 1024

        public init() {}

        /// TRL's SFT-family defaults: learning rate 2e-5, Adam beta2 0.999.
        public static var optimizerDefaults: OptimizerDefaults { OptimizerDefaults(learningRate: 2e-5, beta2: 0.999) }

        public func validate() throws {
            try training.validate()
            if !(0...1).contains(beta) { throw TrainingError.invalidConfiguration("beta = \(beta) must be in [0, 1]") }
            if !(0...1).contains(lmbda) { throw TrainingError.invalidConfiguration("lmbda = \(lmbda) must be in [0, 1]") }
            if !(temperature > 0) { throw TrainingError.invalidConfiguration("temperature = \(temperature) must be positive") }
            if maxNewTokens < 1 { throw TrainingError.invalidConfiguration("maxNewTokens must be at least 1") }
            if batchSize < 1 { throw TrainingError.invalidConfiguration("batchSize must be at least 1") }
        }
    }

    public let configuration: Configuration
    public let student: CausalLM
    public let teacher: CausalLM
    /// Samples the student (on-policy steps).
    public let studentSampler: any RolloutSource
    /// Samples the teacher (`seqKD`); any source speaking the tokenizer of both models.
    public let teacherSampler: (any RolloutSource)?
    let examples: [SFTExample]
    /// Per example: prompt ids and the data set's completion ids (with the end token).
    let encoded: [(prompt: [Int], completion: [Int])]

    public init(
        configuration: Configuration, student: CausalLM, teacher: CausalLM, studentSampler: any RolloutSource,
        teacherSampler: (any RolloutSource)? = nil, tokenizer: Tokenizer, template: PromptTemplate?, examples: [SFTExample], endToken: Int
    ) throws {
        try configuration.validate()
        guard !examples.isEmpty else { throw TrainingError.invalidConfiguration("no distillation prompts") }
        let (sv, tv) = (student.configuration.vocabularySize, teacher.configuration.vocabularySize)
        guard sv == tv else {
            throw TrainingError.invalidConfiguration(
                "the teacher's vocabulary (\(tv) tokens) differs from the student's (\(sv)): token-level distillation needs one shared tokenizer"
            )
        }
        if configuration.seqKD && teacherSampler == nil {
            throw TrainingError.invalidConfiguration("seqKD needs a teacher sampler")
        }
        try configuration.lora.apply(to: student, seed: configuration.training.seed)
        self.configuration = configuration.resolved
        self.student = student
        self.teacher = teacher
        self.studentSampler = studentSampler
        self.teacherSampler = teacherSampler
        self.examples = examples
        encoded = try examples.enumerated().map { i, e in
            let prompt: [Int]
            switch e.prompt {
            case .text(let t): prompt = tokenizer.encode(t, addSpecialTokens: true)
            case .chat(let messages):
                guard let template else {
                    throw TrainingError.invalidConfiguration("example \(i) is a chat but the model has no chat template")
                }
                prompt = tokenizer.encode(try template.render(messages, addGenerationPrompt: true), addSpecialTokens: false)
            }
            guard !prompt.isEmpty, prompt.count < configuration.maxLength else {
                throw TrainingError.invalidConfiguration(
                    "example \(i): the prompt has \(prompt.count) tokens; it must be in 1..<maxLength (\(configuration.maxLength))")
            }
            return (prompt, tokenizer.encode(e.completion, addSpecialTokens: false) + [endToken])
        }
    }

    /// Whether step `step` is on-policy: a seeded uniform draw ≤ lmbda (TRL draws `random.random() <= lmbda`).
    func isOnPolicy(step: Int) -> Bool {
        guard configuration.lmbda > 0 else { return false }
        var rng = SeededRandom(seed: configuration.training.seed &+ 0x6B64 &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
        return Double(rng.next() >> 11) / Double(1 << 53) <= configuration.lmbda
    }

    /// Example indices of micro-batch (step, micro), in a seeded order per epoch.
    func batch(step: Int, micro: Int) -> [Int] {
        let perStep = configuration.batchSize * configuration.training.gradientAccumulationSteps
        let first = step * perStep + micro * configuration.batchSize
        return (first..<(first + configuration.batchSize)).map { i in
            Pretrainer.permutation(count: encoded.count, seed: configuration.training.seed &+ UInt64(i / encoded.count))[i % encoded.count]
        }
    }

    /// Samples `source` once per example of `indices`; rows of prompt ids (as the sampler encoded them) and completion ids.
    func sample(_ source: any RolloutSource, _ indices: [Int], step: Int, micro: Int) async throws -> [(prompt: [Int], completion: [Int])] {
        let requests = indices.enumerated().map { k, i in
            CompletionRequest(
                prompt: examples[i].prompt,
                parameters: SamplingParameters(
                    maxTokens: configuration.maxNewTokens, temperature: configuration.temperature,
                    seed: configuration.training.seed &+ UInt64(step * 1_000 + micro * 100 + k)))
        }
        let responses = try await source.rollouts(requests)
        return try zip(indices, responses).map { i, r in
            guard !r.promptTokens.isEmpty, let c = r.completions.first else {
                throw TrainingError.invalidConfiguration("\(source.name) returned no prompt ids or no completion for example \(i)")
            }
            return (r.promptTokens, Array(c.tokens.prefix(Swift.max(0, configuration.maxLength - r.promptTokens.count))))
        }
    }

    /// Rows as a right-padded id tensor and the (B, L − 1) mask of positions whose next token is a completion token.
    static func layout(_ rows: [(prompt: [Int], completion: [Int])]) -> (ids: Tensor, mask: Tensor) {
        let width = Swift.max(2, rows.map { $0.prompt.count + $0.completion.count }.max() ?? 2)
        var ids: [Int64] = []
        var mask: [Float] = []
        for (p, c) in rows {
            let n = p.count + c.count
            ids += (p + c).map(Int64.init) + Array(repeating: 0, count: width - n)
            mask += Array(repeating: 0, count: p.count - 1) + Array(repeating: 1, count: c.count) + Array(repeating: 0, count: width - n)
        }
        return (Tensor(ids, shape: [rows.count, width]), Tensor(mask, shape: [rows.count, width - 1]))
    }

    /// The step's loss over `micro` batches of rows, back-propagated; returns its value.
    func backward(_ micro: [[(prompt: [Int], completion: [Int])]]) -> Double {
        let laid = micro.map(Self.layout)
        let total = Swift.max(1, laid.reduce(0.0) { $0 + $1.mask.sum().item() })
        var sum = 0.0
        for (ids, mask) in laid {
            let l = ids.size(1)
            let studentLogits = student(ids).narrow(axis: 1, start: 0, length: l - 1)
            let teacherLogits = withNoGrad { teacher(ids).narrow(axis: 1, start: 0, length: l - 1) }
            let loss = GeneralizedJSD.loss(
                studentLogits: studentLogits, teacherLogits: teacherLogits, mask: mask, beta: configuration.beta, normaliser: total)
            loss.backward()
            sum += loss.item()
        }
        return sum
    }

    /// Tells the student's sampler about the current weights.
    func syncStudent(run: RunDirectory) async throws {
        switch studentSampler.weightSync {
        case .shared: try await studentSampler.weightsUpdated(directory: nil)
        case .reloadFromDirectory:
            let dir = run.url.appendingPathComponent("rollout-weights")
            try ModelDirectory.save(student, to: dir)
            try await studentSampler.weightsUpdated(directory: dir.path)
        }
    }

    /// Trains, writing to `run`; returns the last completed step.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.gkd"), onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        try run.writeConfiguration(configuration)
        let loop = TrainingLoop(
            model: student, run: run, options: configuration.training, trainerName: "gkd", tokenizerFiles: tokenizerFiles,
            interrupt: interrupt,
            logger: logger, onStep: onStep)
        let accumulation = configuration.training.gradientAccumulationSteps
        return try await loop.train(
            resume: resume,
            TrainingLoop.Hooks(step: { step in
                let onPolicy = isOnPolicy(step: step)
                var micro: [[(prompt: [Int], completion: [Int])]] = []
                if onPolicy { try await syncStudent(run: run) }
                for m in 0..<accumulation {
                    let indices = batch(step: step, micro: m)
                    if onPolicy {
                        micro.append(try await sample(studentSampler, indices, step: step, micro: m))
                    } else if configuration.seqKD, let teacherSampler {
                        micro.append(try await sample(teacherSampler, indices, step: step, micro: m))
                    } else {
                        micro.append(indices.map { encoded[$0] })
                    }
                }
                let loss = backward(micro)
                let lengths = micro.joined().map { Double($0.completion.count) }
                return [
                    "loss": loss, "on_policy": onPolicy ? 1 : 0,
                    "completions/mean_length": lengths.reduce(0, +) / Double(Swift.max(1, lengths.count)),
                ]
            }))
    }
}
