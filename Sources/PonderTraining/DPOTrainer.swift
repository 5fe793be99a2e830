import ArgumentParser
import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import PonderTokenizers
import Torch

/// Direct Preference Optimization on preference pairs, named and computed as TRL's DPOTrainer (1.16) does: each
/// completion's log-probability is summed over its tokens, the reference's is subtracted, and the `lossType`
/// objective of ``DPOObjective`` is averaged over the pairs.
///
/// The reference is a frozen model (by default a copy of the initial policy; with LoRA the base model, adapters
/// off), or its log-probabilities precomputed once before the first step (`precomputeRefLogProbs`) and stored in the
/// run directory, so a resumed run uses the same ones and no second model stays in memory.
///
/// What differs from TRL: a completion is tokenized on its own and followed by the end-of-sequence token (TRL
/// tokenizes prompt + completion as one text and finds where it diverges from the prompt's tokens), as Ponder's SFT does;
/// a completion marked incomplete (``PreferenceExample/chosenComplete``: a step of a step-level pair) gets no end token.
public struct DPOTrainer {
    /// DPO settings, TRL's `DPOConfig` knobs as flags.
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @OptionGroup public var lora: LoRAOptions
        @Option(name: .long, help: "How far the policy may move from the reference (IPO's tau).") public var beta = 0.1
        @Option(name: .long, help: "sigmoid, hinge, ipo, robust or exo_pair.") public var lossType: DPOLossType = .sigmoid
        @Option(name: .long, help: "Robust DPO's label-flip probability, or EXO's epsilon (other losses: 0).") public var labelSmoothing =
            0.0
        @Option(name: .long, help: "Preference pairs per micro-batch.") public var batchSize = 8
        @Option(name: .long, help: "Prompt + completion is cut to this many tokens (prompt first, TRL's keep_start).")
        public var maxLength = 1024
        @Flag(
            name: .long,
            help:
                "Compute the reference log-probabilities once before training (stored in the run directory) instead of keeping a reference model."
        )
        public var precomputeRefLogProbs = false

        public init() {}

        /// TRL's DPOConfig defaults: learning rate 1e-6, Adam beta2 0.999.
        public static var optimizerDefaults: OptimizerDefaults { .reinforcement }

        /// The objective these knobs define.
        public var objective: DPOObjective {
            var o = DPOObjective()
            o.lossType = lossType
            o.beta = beta
            o.labelSmoothing = labelSmoothing
            return o
        }

        public func validate() throws {
            try training.validate()
            try objective.validate()
            if batchSize < 1 { throw TrainingError.invalidConfiguration("batchSize must be at least 1") }
            if maxLength < 2 { throw TrainingError.invalidConfiguration("maxLength = \(maxLength) must be at least 2") }
        }
    }

    /// One tokenized pair.
    struct EncodedPair {
        var prompt: [Int]
        var chosen: [Int]
        var rejected: [Int]
    }

    public let configuration: Configuration
    public let policy: CausalLM
    /// The frozen reference model, when there is one.
    public let reference: CausalLM?
    let pairs: [EncodedPair]

    /// A trainer over `examples`. Chat prompts go through `template`; each completion ends with `endToken`.
    /// `reference` is the frozen reference model; it may be `nil` with LoRA (the base model is the reference) or with
    /// `precomputeRefLogProbs` (the initial policy's log-probabilities are computed before the first step).
    public init(
        configuration: Configuration, policy: CausalLM, tokenizer: Tokenizer, template: PromptTemplate?, examples: [PreferenceExample],
        endToken: Int, reference: CausalLM? = nil
    ) throws {
        try configuration.validate()
        guard !examples.isEmpty else { throw TrainingError.invalidConfiguration("no preference pairs") }
        try configuration.lora.apply(to: policy, seed: configuration.training.seed)
        if reference == nil && policy.adapters == nil && !configuration.precomputeRefLogProbs {
            throw TrainingError.invalidConfiguration(
                "DPO needs a reference: pass a reference model (the CLI loads a copy of the initial policy), train LoRA adapters, or set precomputeRefLogProbs"
            )
        }
        let limit = configuration.maxLength
        let pairs = try examples.enumerated().map { i, e in
            let prompt: [Int]
            switch e.prompt {
            case .text(let t): prompt = tokenizer.encode(t, addSpecialTokens: true)
            case .chat(let messages):
                guard let template else {
                    throw TrainingError.invalidConfiguration("pair \(i) has a chat prompt but the model has no chat template")
                }
                prompt = tokenizer.encode(try template.render(messages, addGenerationPrompt: true), addSpecialTokens: false)
            }
            guard !prompt.isEmpty else {
                throw TrainingError.invalidConfiguration("pair \(i): the prompt is empty (no token to condition on)")
            }
            guard prompt.count < limit else {
                throw TrainingError.invalidConfiguration(
                    "pair \(i): the prompt (\(prompt.count) tokens) fills maxLength = \(limit); raise --max-length")
            }
            let room = limit - prompt.count
            // A completion that does not end the answer (a step of a step-level pair) gets no end token.
            let chosen = Array((tokenizer.encode(e.chosen, addSpecialTokens: false) + (e.chosenComplete ? [endToken] : [])).prefix(room))
            let rejected = Array(
                (tokenizer.encode(e.rejected, addSpecialTokens: false) + (e.rejectedComplete ? [endToken] : [])).prefix(room))
            guard !chosen.isEmpty, !rejected.isEmpty else {
                throw TrainingError.invalidConfiguration(
                    "pair \(i): an empty completion that does not end the answer has no token to train on")
            }
            return EncodedPair(prompt: prompt, chosen: chosen, rejected: rejected)
        }
        self.init(configuration: configuration, policy: policy, pairs: pairs, reference: reference)
    }

    /// A trainer over pairs already tokenized (tests feed fixture ids this way).
    init(configuration: Configuration, policy: CausalLM, pairs: [EncodedPair], reference: CausalLM?) {
        self.configuration = configuration.resolved
        self.policy = policy
        self.reference = reference
        self.pairs = pairs
    }

    /// Pair indices of micro-batch (step, micro), in a seeded order per epoch.
    func batch(step: Int, micro: Int) -> [Int] {
        let perStep = configuration.batchSize * configuration.training.gradientAccumulationSteps
        let first = step * perStep + micro * configuration.batchSize
        return (first..<(first + configuration.batchSize)).map { i in
            Pretrainer.permutation(count: pairs.count, seed: configuration.training.seed &+ UInt64(i / pairs.count))[i % pairs.count]
        }
    }

    /// Summed completion log-probabilities of pairs `indices` under `model`: chosen (B) and rejected (B), with the
    /// completion token counts. Rows are prompt + completion, right-padded (a causal model's real tokens never see the
    /// padding after them), chosen rows first as in TRL's collator.
    func sequenceLogps(_ model: CausalLM, _ indices: [Int]) -> (
        chosen: Tensor, rejected: Tensor, chosenTokens: Tensor, rejectedTokens: Tensor
    ) {
        let rows = indices.map { (pairs[$0].prompt, pairs[$0].chosen) } + indices.map { (pairs[$0].prompt, pairs[$0].rejected) }
        let width = rows.map { $0.0.count + $0.1.count }.max()!
        var ids: [Int64] = []
        var mask: [Float] = []
        for (prompt, completion) in rows {
            let n = prompt.count + completion.count
            ids += (prompt + completion).map(Int64.init) + Array(repeating: 0, count: width - n)
            // Position p predicts token p + 1: the mask marks positions whose next token is a completion token.
            mask +=
                Array(repeating: 0, count: prompt.count - 1) + Array(repeating: 1, count: completion.count)
                + Array(repeating: 0, count: width - n)
        }
        let b = indices.count
        let input = Tensor(ids, shape: [2 * b, width])
        let positionMask = Tensor(mask, shape: [2 * b, width - 1])
        let logits = model(input).narrow(axis: 1, start: 0, length: width - 1).to(.float32)  // (2B, L−1, V)
        let targets = input.narrow(axis: 1, start: 1, length: width - 1).unsqueezed(axis: -1)
        let tokenLogps = logits.logSoftmax(axis: -1).gather(axis: -1, index: targets).squeezed(axis: -1) * positionMask
        let sums = tokenLogps.sum(axis: 1)  // (2B)
        let counts = positionMask.sum(axis: 1)
        return (
            sums.narrow(axis: 0, start: 0, length: b), sums.narrow(axis: 0, start: b, length: b),
            counts.narrow(axis: 0, start: 0, length: b),
            counts.narrow(axis: 0, start: b, length: b)
        )
    }

    /// Reference log-probabilities of pairs `indices`: from `precomputed` when given, else from the reference model
    /// (or the policy with its adapters off).
    func referenceLogps(_ indices: [Int], precomputed: [[Double]]?) -> (Tensor, Tensor) {
        if let precomputed {
            return (Tensor(indices.map { Float(precomputed[$0][0]) }), Tensor(indices.map { Float(precomputed[$0][1]) }))
        }
        return withNoGrad {
            let r = reference.map { sequenceLogps($0, indices) } ?? policy.withoutAdapters { sequenceLogps(policy, indices) }
            return (r.chosen, r.rejected)
        }
    }

    /// Reference log-probabilities of every pair, `[chosen, rejected]` each, under the reference model or, without one,
    /// the policy as it is now (before training: the initial policy; with LoRA, adapters off).
    public func precomputeReferenceLogps() -> [[Double]] {
        var out: [[Double]] = []
        for start in stride(from: 0, to: pairs.count, by: configuration.batchSize) {
            let indices = Array(start..<Swift.min(start + configuration.batchSize, pairs.count))
            let (c, r) = withNoGrad {
                let s = reference.map { sequenceLogps($0, indices) } ?? policy.withoutAdapters { sequenceLogps(policy, indices) }
                return (s.chosen.toArray(Double.self), s.rejected.toArray(Double.self))
            }
            out += zip(c, r).map { [$0, $1] }
        }
        return out
    }

    /// The file in the run directory holding precomputed reference log-probabilities.
    static let referenceFile = "ref_logps.json"

    /// Trains, writing to `run`; returns the last completed step.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.dpo"), onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        try run.writeConfiguration(configuration)
        var precomputed: [[Double]]?
        if configuration.precomputeRefLogProbs {
            let file = run.url.appendingPathComponent(Self.referenceFile)
            if FileManager.default.fileExists(atPath: file.path) {
                let stored = try JSONDecoder().decode([[Double]].self, from: Data(contentsOf: file))
                guard stored.count == pairs.count, stored.allSatisfy({ $0.count == 2 }) else {
                    throw TrainingError.badCheckpoint(
                        path: file.path,
                        reason: "it holds reference log-probabilities for \(stored.count) pairs, the data has \(pairs.count)")
                }
                precomputed = stored
            } else {
                if resume && !run.checkpoints().isEmpty {
                    throw TrainingError.badCheckpoint(
                        path: file.path,
                        reason:
                            "the run has checkpoints but no precomputed reference log-probabilities (the policy is no longer the reference)"
                    )
                }
                logger.info("precomputing reference log-probabilities of \(pairs.count) pairs")
                precomputed = precomputeReferenceLogps()
                try run.writeJSON(precomputed, to: Self.referenceFile)
            }
        }
        let objective = configuration.objective
        let loop = TrainingLoop(
            model: policy, run: run, options: configuration.training, trainerName: "dpo", tokenizerFiles: tokenizerFiles,
            interrupt: interrupt,
            logger: logger, onStep: onStep)
        return try await loop.train(
            resume: resume,
            TrainingLoop.Hooks(step: { step in
                // TRL's loss is the mean over a micro-batch's pairs; accumulation averages the micro-batches.
                try TrainingLoop.accumulate(configuration.training, step: step) { step, micro in
                    let indices = batch(step: step, micro: micro)
                    let (refChosen, refRejected) = referenceLogps(indices, precomputed: precomputed)
                    let s = sequenceLogps(policy, indices)
                    let result = objective.loss(
                        chosenLogps: s.chosen, rejectedLogps: s.rejected, refChosenLogps: refChosen, refRejectedLogps: refRejected,
                        chosenTokens: s.chosenTokens, rejectedTokens: s.rejectedTokens)
                    return (result.loss, Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.key, $0.value) }))
                }
            }))
    }
}
