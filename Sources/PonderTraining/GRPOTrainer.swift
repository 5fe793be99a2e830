import ArgumentParser
import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import PonderTasks
import PonderVerifiers
import Torch

/// Group Relative Policy Optimization (Shao et al. 2024) with the DAPO, Dr. GRPO, GSPO, CISPO and SAPO variants,
/// named and computed as TRL's GRPOTrainer does.
///
/// The data path: the task turns problems into prompts; the ``RolloutSource`` samples them and returns rollout records
/// (prompt ids, completion ids, log-probabilities, the sampled/forced mask, the stop); rewards read the decoded text;
/// advantages, the loss and the update read the ids. Nothing is tokenized twice, and tokens the sampler forced in
/// (budget forcing) get no policy-gradient loss.
public struct GRPOTrainer {
    /// GRPO settings, TRL's `GRPOConfig` knobs as flags (`--num-generations`, `--loss-type`, ...).
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @OptionGroup public var lora: LoRAOptions
        @Option(name: .long, help: "Completions sampled per prompt (the group).") public var numGenerations = 8
        @Option(name: .long, help: "Prompts per generation batch.") public var promptsPerStep = 8
        @Option(name: .long, help: "Longest completion in tokens (also Dr. GRPO's normaliser).") public var maxCompletionLength = 256
        @Option(name: .long, help: "Sampling temperature; log-probabilities are of logits / temperature, as TRL computes them.")
        public var temperature = 1.0
        @Option(name: .long, help: "Nucleus sampling threshold for rollouts.") public var topP = 1.0
        @Option(name: .long, help: "Keep the k most likely tokens in rollouts (default: all).") public var topK: Int?
        @Option(name: .long, help: "grpo, bnpo, dr_grpo, dapo, cispo or sapo.") public var lossType: GRPOLossType = .dapo
        @Option(name: .long, help: "Lower clip range: ratios below 1 − epsilon are clipped.") public var epsilon = 0.2
        @Option(name: .long, help: "Upper clip range (clip-higher; default: epsilon). For CISPO, the cap on the ratio.")
        public var epsilonHigh: Double?
        @Option(name: .long, help: "Weight of the k3 KL estimate against the reference model (0 loads no reference).")
        public var beta = 0.0
        @Option(name: .long, help: "token, or sequence (GSPO).") public var importanceSamplingLevel: ImportanceSamplingLevel = .token
        @Flag(
            name: .long, inversion: .prefixedNo,
            help: "Multiply the KL term by the importance ratio (TRL's use_bias_correction_kl).")
        public var useBiasCorrectionKL = true
        @Option(name: .long, help: "Two-sided clipping: cap ratios at delta (default: off).") public var delta: Double?
        @Option(name: .long, help: "SAPO gate temperature for positive advantages.") public var sapoTemperaturePositive = 1.0
        @Option(name: .long, help: "SAPO gate temperature for negative advantages.") public var sapoTemperatureNegative = 1.05
        @Option(name: .long, help: "Optimizer steps per generation batch (old log-probabilities are kept; ratios move off 1).")
        public var numIterations = 1
        @Option(
            name: .long,
            help:
                "Optimizer steps per generation batch, each on an equal share of its groups (TRL's steps_per_generation; old log-probabilities are kept, so later shares are importance-weighted).")
        public var stepsPerGeneration = 1
        @Option(name: .long, help: "Advantage scaling: group, batch or none (Dr. GRPO).") public var scaleRewards: RewardScaling = .group
        @Option(name: .long, parsing: .upToNextOption, help: "One weight per reward function (default: the task's weights).")
        public var rewardWeights: [Double] = []
        @Flag(name: .long, inversion: .prefixedNo, help: "Completions cut by the length limit contribute no loss.")
        public var maskTruncatedCompletions = false
        @Flag(name: .long, inversion: .prefixedNo, help: "DAPO dynamic sampling: drop groups without reward spread and refill.")
        public var dynamicSampling = false
        @Option(name: .long, help: "Most extra sampling rounds per step for dynamic sampling.") public var maxRefills = 3
        @Option(name: .long, help: "DAPO overlong shaping: tokens before the limit where the penalty starts (0 disables).")
        public var overlongBuffer = 0
        @Option(name: .long, help: "DAPO overlong shaping: the penalty at the limit.") public var overlongPenalty = 1.0
        @Option(
            name: .long,
            help:
                "Rows per forward and backward pass in the update (peak memory: one chunk's activations plus about 12 × rows × T × V bytes of logits)."
        )
        public var chunkRows = 16
        @Flag(
            name: .long, inversion: .prefixedNo,
            help:
                "Truncated importance sampling: weight each token's policy loss by min(π_old / π_sampler, cap), for samplers whose numerics differ from training (bf16, a remote server); needs the sampler's log-probabilities and costs a forward pass when numIterations is 1 (TRL's vllm_importance_sampling_correction).")
        public var importanceSamplingCorrection = false
        @Option(name: .long, help: "The cap of the truncated importance weight (TRL's vllm_importance_sampling_cap).")
        public var importanceSamplingCap = 2.0
        @Option(
            name: .long,
            help:
                "Only tokens whose entropy is in this top fraction of the batch's get policy-gradient loss (TRL's top_entropy_quantile; 1 = all, 0.2 as in Wang et al. 2025). The threshold is taken over the generation batch at sampling time.")
        public var topEntropyQuantile = 1.0
        @Flag(name: .long, inversion: .prefixedNo, help: "Log the KL to the reference (`kl`) even when beta is 0.")
        public var logKL = false
        @Option(name: .long, help: "Write sampled completions to completions.jsonl every this many steps.") public var logCompletionsEvery = 1

        public init() {}

        public static var optimizerDefaults: OptimizerDefaults { .reinforcement }

        /// The objective these knobs define.
        public var objective: GRPOObjective {
            var o = GRPOObjective()
            o.lossType = lossType
            o.epsilon = epsilon
            o.epsilonHigh = epsilonHigh
            o.beta = beta
            o.importanceSamplingLevel = importanceSamplingLevel
            o.useBiasCorrectionKL = useBiasCorrectionKL
            o.delta = delta
            o.sapoTemperaturePositive = sapoTemperaturePositive
            o.sapoTemperatureNegative = sapoTemperatureNegative
            o.maxCompletionLength = maxCompletionLength
            return o
        }

        public func validate() throws {
            try training.validate()
            if numGenerations < 2 {
                throw TrainingError.invalidConfiguration("numGenerations = \(numGenerations): a group needs at least 2 completions")
            }
            if promptsPerStep < 1 { throw TrainingError.invalidConfiguration("promptsPerStep must be at least 1") }
            if numIterations < 1 { throw TrainingError.invalidConfiguration("numIterations must be at least 1") }
            if stepsPerGeneration < 1 || promptsPerStep % stepsPerGeneration != 0 {
                throw TrainingError.invalidConfiguration(
                    "stepsPerGeneration = \(stepsPerGeneration) must be at least 1 and divide promptsPerStep (\(promptsPerStep)): each optimizer step takes whole groups")
            }
            if maxCompletionLength < 1 { throw TrainingError.invalidConfiguration("maxCompletionLength must be at least 1") }
            if !(topEntropyQuantile > 0 && topEntropyQuantile <= 1) {
                throw TrainingError.invalidConfiguration("topEntropyQuantile = \(topEntropyQuantile) must be in (0, 1]")
            }
            if training.gradientAccumulationSteps != 1 {
                // TRL's default (steps_per_generation = gradient_accumulation_steps) is one optimizer step per
                // generation batch over micro-batches: exactly what chunkRows does here.
                throw TrainingError.invalidConfiguration(
                    "gradientAccumulationSteps = \(training.gradientAccumulationSteps): GRPO already accumulates over each optimizer step's rows (--chunk-rows rows per backward pass); use --chunk-rows to bound memory, --prompts-per-step for the batch and --steps-per-generation for several optimizer steps per batch")
            }
            if !(temperature > 0) {
                throw TrainingError.invalidConfiguration("temperature = \(temperature) must be positive for GRPO sampling")
            }
        }
    }

    public let configuration: Configuration
    /// The policy (its weights are updated in place).
    public let policy: CausalLM
    /// Samples the policy. With `.shared` weight sync it must compute with `policy`'s own tensors.
    public let rollouts: any RolloutSource
    /// Gives each problem its prompt.
    public let task: any ReasoningTask
    /// The reward functions and their weights (`configuration.rewardWeights` overrides the weights).
    public let rewards: [WeightedReward]
    public let problems: [Problem]
    /// Frozen reference policy, required when `beta` is not 0 (or `logKL` is set).
    public let reference: CausalLM?

    /// A trainer. `rewards` defaults to the task's.
    public init(
        configuration: Configuration, policy: CausalLM, rollouts: any RolloutSource, task: any ReasoningTask, problems: [Problem],
        rewards: [WeightedReward]? = nil, reference: CausalLM? = nil
    ) throws {
        try configuration.validate()
        let rewards = rewards ?? task.rewards
        guard !problems.isEmpty else { throw TrainingError.invalidConfiguration("no problems to train on") }
        guard !rewards.isEmpty else { throw TrainingError.invalidConfiguration("no reward functions") }
        let w = configuration.rewardWeights
        if !w.isEmpty && w.count != rewards.count {
            throw TrainingError.invalidConfiguration("rewardWeights has \(w.count) entries for \(rewards.count) reward functions")
        }
        try configuration.lora.apply(to: policy, seed: configuration.training.seed)
        if (configuration.beta != 0 || configuration.logKL) && reference == nil && policy.adapters == nil {
            throw TrainingError.invalidConfiguration(
                "beta = \(configuration.beta) (or logKL) needs a reference model (with LoRA the base model, adapters off, is the reference)")
        }
        self.configuration = configuration.resolved
        self.policy = policy
        self.rollouts = rollouts
        self.task = task
        self.rewards = rewards
        self.problems = problems
        self.reference = reference
    }

    /// One scored group of completions for a prompt.
    struct Group {
        let problem: Problem
        /// The prompt's token ids, from the rollout record.
        let prompt: [Int]
        let completions: [Completion]
        var rewardsPerFunction: [[Double?]]
        var advantages: [Double] = []
        /// The group's place in the whole generation batch (across ranks), 0 ..< promptsPerStep.
        var position = 0
    }

    /// A generation batch as tensors: left-padded prompts followed by right-padded completions.
    struct Batch {
        var groups: [Group]
        /// (N, P + T) token ids.
        let ids: Tensor
        /// Leading pad tokens of each row.
        let padding: [Int]
        /// (N, T) 1 for completion tokens that count: sampled (not forced), not padding, not a masked truncation.
        let mask: Tensor
        /// (N) advantages.
        let advantages: Tensor
        let completionLength: Int
        var oldLogps: Tensor?
        var refLogps: Tensor?
        /// (N, T) per-token weights of the policy loss: truncated importance weights min(π_old / π_sampler, cap) with
        /// importance sampling correction, times the high-entropy mask with `topEntropyQuantile` < 1.
        var samplerWeights: Tensor?
        /// Each group's place in the whole generation batch across ranks (one per `numGenerations` rows); empty for
        /// a batch saved before positions were recorded (then the rows are the whole batch, in order).
        var groupPositions: [Int] = []
    }

    /// The problem index for prompt slot `k` (seeded order, every problem once per epoch).
    func problemIndex(_ k: Int) -> Int {
        Pretrainer.permutation(count: problems.count, seed: configuration.training.seed &+ UInt64(k / problems.count))[k % problems.count]
    }
}

/// What a GRPO run carries from step to step.
private final class GRPOState {
    var promptCursor = 0
    /// Prompt and completion tokens sampled so far (TRL's cumulative `num_tokens`).
    var tokensSeen = 0.0
    var batch: GRPOTrainer.Batch?
    var generationMetrics: OrderedDictionary<String, Double> = [:]
}

extension GRPOTrainer {
    /// Trains; returns the last completed step. Progress and metrics go to `onStep` and `run`.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.grpo"), parallel: DataParallel = .single, onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        if parallel.isMain { try run.writeConfiguration(configuration) }
        let c = configuration
        if c.lossType == .cispo && c.epsilonHigh == nil {
            logger.warning(
                "cispo without epsilonHigh caps the importance weight at 1 + epsilon (\(1 + c.epsilon)); MiniMax-M1 and TRL's examples set a high cap (e.g. --epsilon-high 5)"
            )
        }
        let state = GRPOState()
        var loop = TrainingLoop(
            model: policy, run: run, options: c.training, trainerName: "grpo", tokenizerFiles: tokenizerFiles, interrupt: interrupt,
            logger: logger, onStep: onStep)
        loop.parallel = parallel
        // Each rank saves and restores its own share of a generation batch.
        let batchFile = Self.batchFile(rank: parallel.rank)
        // A checkpoint inside a generation batch (numIterations > 1) carries the batch with its old and reference
        // log-probabilities, so a resumed run finishes the same batch; one at a boundary carries none.
        var step = 0
        // Optimizer steps per generation batch.
        let period = c.numIterations * c.stepsPerGeneration
        var hooks = TrainingLoop.Hooks(
            cursor: { ["prompt_cursor": UInt64(state.promptCursor), "num_tokens": UInt64(state.tokensSeen)] },
            restoreCursor: {
                state.promptCursor = Int($0["prompt_cursor"] ?? 0)
                state.tokensSeen = Double($0["num_tokens"] ?? 0)
            },
            saveExtra: { dir in
                if let batch = state.batch, step % period != 0 {
                    try Self.save(batch, metrics: state.generationMetrics, to: dir.appendingPathComponent(batchFile))
                }
            },
            restoreExtra: { dir in
                let file = dir.appendingPathComponent(batchFile)
                guard FileManager.default.fileExists(atPath: file.path) else { return }
                (state.batch, state.generationMetrics) = try Self.loadBatch(file)
            },
            step: { current in
                step = current
                var timings: [String: Double] = [:]
                if current % period == 0 || state.batch == nil {
                    var (batch, metrics, cursor) = try await generate(cursor: state.promptCursor, timings: &timings, parallel: parallel)
                    state.tokensSeen += metrics["num_tokens"] ?? 0
                    metrics["num_tokens"] = state.tokensSeen
                    (state.batch, state.generationMetrics, state.promptCursor) = (batch, metrics, cursor)
                    if current % c.logCompletionsEvery == 0 && parallel.isMain {
                        try logCompletions(batch.groups, step: current + 1, run: run)
                    }
                }
                let t1 = Date()
                var metrics = state.generationMetrics
                // Within a period: numIterations passes over the batch, each over its stepsPerGeneration shares.
                let share = (current % period) % c.stepsPerGeneration
                let part = Self.share(state.batch!, share, of: c.stepsPerGeneration, prompts: c.promptsPerStep, groupSize: c.numGenerations)
                for (k, v) in try backward(part, parallel: parallel) { metrics[k] = v }
                timings["time/training"] = Date().timeIntervalSince(t1)
                for (k, v) in timings.sorted(by: { $0.key < $1.key }) { metrics[k] = v }
                return metrics
            },
            afterUpdate: { completed in
                step = completed
                // The next step samples: the sampler must see the new weights.
                if completed % period == 0 { try await syncWeights(run: run, rank: parallel.rank) }
            })
        // The update's statistics are divided by the whole batch's active tokens or sequences on every rank.
        hooks.summedMetrics = ["entropy", "clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean", "kl"]
        return try await loop.train(resume: resume, hooks)
    }

    static let batchFile = "grpo_batch.safetensors"

    /// The file holding rank `rank`'s share of a generation batch inside a checkpoint.
    static func batchFile(rank: Int) -> String { rank == 0 ? batchFile : "grpo_batch.rank-\(rank).safetensors" }

    /// Writes a generation batch (ids, mask, advantages, old and reference log-probabilities) and its generation
    /// metrics.
    static func save(_ batch: Batch, metrics: OrderedDictionary<String, Double>, to url: URL) throws {
        var tensors: OrderedDictionary<String, Tensor> = [
            "ids": batch.ids, "mask": batch.mask, "advantages": batch.advantages,
            "padding": Tensor(batch.padding.map(Int64.init), shape: [batch.padding.count]),
        ]
        if let old = batch.oldLogps { tensors["old_logps"] = old.detached() }
        if let ref = batch.refLogps { tensors["ref_logps"] = ref.detached() }
        if let w = batch.samplerWeights { tensors["sampler_weights"] = w.detached() }
        if !batch.groupPositions.isEmpty {
            tensors["group_positions"] = Tensor(batch.groupPositions.map(Int64.init), shape: [batch.groupPositions.count])
        }
        let names = Array(metrics.keys)
        let values = Array(metrics.values)
        let meta = String(decoding: try JSONSerialization.data(withJSONObject: ["names": names, "values": values]), as: UTF8.self)
        try Safetensors.write(tensors, metadata: ["completion_length": "\(batch.completionLength)", "metrics": meta], to: url)
    }

    /// Reads what ``save(_:metrics:to:)`` wrote.
    static func loadBatch(_ url: URL) throws -> (Batch, OrderedDictionary<String, Double>) {
        let file = try SafetensorsFile(url: url)
        let t = try file.tensors()
        guard let ids = t["ids"], let mask = t["mask"], let advantages = t["advantages"], let padding = t["padding"],
            let length = file.metadata["completion_length"].flatMap(Int.init),
            let meta = file.metadata["metrics"].flatMap({ try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }),
            let names = meta["names"] as? [String], let values = meta["values"] as? [Double]
        else {
            throw TrainingError.badCheckpoint(path: url.path, reason: "the saved generation batch is incomplete")
        }
        let batch = Batch(
            groups: [], ids: ids, padding: padding.toArray(Int.self), mask: mask, advantages: advantages, completionLength: length,
            oldLogps: t["old_logps"], refLogps: t["ref_logps"], samplerWeights: t["sampler_weights"],
            groupPositions: t["group_positions"]?.toArray(Int.self) ?? [])
        return (batch, OrderedDictionary(uniqueKeysWithValues: zip(names, values)))
    }

    /// Tells the sampler the weights changed (writing them first when it reloads from a directory).
    func syncWeights(run: RunDirectory, rank: Int = 0) async throws {
        switch rollouts.weightSync {
        case .shared: try await rollouts.weightsUpdated(directory: nil)
        case .reloadFromDirectory:
            let dir = run.url.appendingPathComponent(rank == 0 ? "rollout-weights" : "rollout-weights-rank-\(rank)")
            try ModelDirectory.save(policy, to: dir)
            try await rollouts.weightsUpdated(directory: dir.path)
        }
    }

    /// Samples, scores and (optionally) filters one generation batch.
    ///
    /// With several ranks (`parallel`), each round's prompt slots are split into contiguous shares, one per rank, so
    /// every group stays whole on the rank that sampled it; which groups dynamic sampling keeps, the advantages
    /// (batch scaling's statistics) and the token count are decided over every rank's groups, in slot order, so the
    /// ranks together hold the batch one process would have built.
    func generate(cursor: Int, timings: inout [String: Double], parallel: DataParallel = .single) async throws -> (
        Batch, OrderedDictionary<String, Double>, Int
    ) {
        let c = configuration
        var cursor = cursor
        var kept: [Group] = []
        var keptCount = 0  // across ranks
        var all: [Group] = []
        var rounds = 0
        var generationTime = 0.0
        var scoringTime = 0.0
        let weights = rewardWeights
        while keptCount < c.promptsPerStep {
            let want = c.promptsPerStep - keptCount
            let slots = parallel.shard(of: want)
            let picked = slots.map { problems[problemIndex(cursor + $0)] }
            let t0 = Date()
            let requests = zip(slots, picked).map { slot, p in
                CompletionRequest(
                    prompt: task.prompt(for: p),
                    parameters: SamplingParameters(
                        maxTokens: c.maxCompletionLength, temperature: c.temperature, topK: c.topK, topP: c.topP,
                        seed: c.training.seed &* 1_000_003 &+ UInt64(cursor + slot), n: c.numGenerations, logprobs: true))
            }
            cursor += want
            let responses = requests.isEmpty ? [] : try await rollouts.rollouts(requests)
            generationTime += Date().timeIntervalSince(t0)
            guard responses.count == requests.count else {
                throw TrainingError.invalidConfiguration(
                    "rollout source \(rollouts.name) returned \(responses.count) records for \(requests.count) requests")
            }
            let t1 = Date()
            var groups: [Group] = []
            for (problem, response) in zip(picked, responses) {
                guard !response.promptTokens.isEmpty, response.completions.count == c.numGenerations else {
                    throw TrainingError.invalidConfiguration(
                        "rollout source \(rollouts.name) returned \(response.completions.count) completions and \(response.promptTokens.count) prompt ids for problem \(problem.id); GRPO needs \(c.numGenerations) completions and the prompt's token ids"
                    )
                }
                let texts = response.completions.map(\.text)
                var perFunction: [[Double?]] = Array(repeating: [], count: texts.count)
                for reward in rewards.map(\.reward) {
                    let scores = try await reward.rewards(for: texts, problem: problem)
                    guard scores.count == texts.count else {
                        throw TrainingError.invalidConfiguration(
                            "reward \(reward.name) returned \(scores.count) scores for \(texts.count) completions of problem \(problem.id)")
                    }
                    for (k, s) in scores.enumerated() { perFunction[k].append(s) }
                }
                if c.overlongBuffer > 0 {
                    // Shaping, not a score: a completion no reward function could score stays unscorable.
                    for (k, completion) in response.completions.enumerated() {
                        let scored = perFunction[k].contains { $0 != nil }
                        perFunction[k].append(
                            scored
                                ? Self.overlongPenalty(
                                    length: completion.tokens.count, limit: c.maxCompletionLength, buffer: c.overlongBuffer,
                                    penalty: c.overlongPenalty) : nil)
                    }
                }
                groups.append(Group(problem: problem, prompt: response.promptTokens, completions: response.completions, rewardsPerFunction: perFunction))
            }
            scoringTime += Date().timeIntervalSince(t1)
            all += groups
            rounds += 1
            let filtering = c.dynamicSampling && rounds <= c.maxRefills
            let keep = groups.map { filtering ? !Self.hasZeroSpread($0, weights: weights) : true }
            // Every rank's verdicts, in slot order (the shares are contiguous and in rank order); the first
            // promptsPerStep kept groups, counted across rounds and ranks, make the batch.
            let verdicts = try parallel.gatherVariable(keep.map { $0 ? 1 : 0 })
            for (slot, verdict) in verdicts.enumerated() where verdict > 0 {
                if slots.contains(slot) && keptCount < c.promptsPerStep {
                    var g = groups[slot - slots.lowerBound]
                    g.position = keptCount
                    kept.append(g)
                }
                keptCount += 1
            }
            if !c.dynamicSampling || rounds > c.maxRefills { break }
        }
        // Advantages over the kept batch of every rank (group or batch scaling, as configured).
        let functions = weights.count
        let width = 1 + c.numGenerations * functions
        let gathered = try parallel.gatherVariable(
            kept.flatMap { g in [Double(g.position)] + g.rewardsPerFunction.flatMap { $0.map { $0 ?? .nan } } })
        let everyGroup = stride(from: 0, to: gathered.count, by: width).map { Array(gathered[$0..<($0 + width)]) }.sorted { $0[0] < $1[0] }
        let everyReward: [[Double?]] = everyGroup.flatMap { row in
            (0..<c.numGenerations).map { k in (0..<functions).map { f in row[1 + k * functions + f].isNaN ? nil : row[1 + k * functions + f] } }
        }
        let batchAdvantages = GroupAdvantages(
            rewardsPerFunction: everyReward, weights: weights, groupSize: c.numGenerations, scaling: c.scaleRewards)
        for g in kept.indices {
            let p = kept[g].position
            kept[g].advantages = Array(batchAdvantages.advantages[(p * c.numGenerations)..<((p + 1) * c.numGenerations)])
        }
        var batch = makeBatch(kept)
        // Old log-probabilities (only needed when the batch is reused) and reference log-probabilities.
        var entropies: Tensor?
        if c.numIterations > 1 || c.stepsPerGeneration > 1 || c.importanceSamplingCorrection || c.topEntropyQuantile < 1 {
            let (old, ent) = withNoGrad { logps(policy, batch) }
            batch.oldLogps = old
            entropies = ent
        }
        if c.beta != 0 || c.logKL {
            let t2 = Date()
            defer { timings["time/reference"] = Date().timeIntervalSince(t2) }
            if let reference {
                batch.refLogps = withNoGrad { referenceLogps(reference, batch) }
            } else if policy.adapters != nil {
                // LoRA: the frozen base is the reference; no second copy of the model is needed.
                batch.refLogps = withNoGrad { policy.withoutAdapters { referenceLogps(policy, batch) } }
            }
        }
        var m = metrics(kept, all: all)
        if parallel.size > 1 {
            // The whole batch's reward statistics and token count; the rest are averaged over ranks at the step.
            let (mean, std) = RewardCombination.meanAndStd(batchAdvantages.rewards)
            m["reward"] = mean
            m["reward_std"] = std.isNaN ? 0 : std
            for (k, name) in rewardNames.enumerated() {
                let (fm, fs) = RewardCombination.meanAndStd(everyReward.map { $0[k] })
                m["rewards/\(name)/mean"] = fm
                m["rewards/\(name)/std"] = fs.isNaN ? 0 : fs
            }
            m["num_tokens"] = try parallel.sum([m["num_tokens"] ?? 0])[0]
        }
        if c.importanceSamplingCorrection, let old = batch.oldLogps {
            let sampler = try samplerLogps(kept, width: batch.completionLength)
            let (weights, stats) = withNoGrad { () -> (Tensor, [(String, Double)]) in
                let difference = (old - sampler) * batch.mask
                let ratio = difference.exp().clamped(max: c.importanceSamplingCap)
                let active = Swift.max(batch.mask.sum().item(), 1)
                let big = Tensor.full(ratio.shape, value: 1e9)
                return (
                    ratio,
                    [
                        ("sampling/sampling_logp_difference/mean", difference.abs().sum().item() / active),
                        ("sampling/sampling_logp_difference/max", difference.abs().max().item()),
                        ("sampling/importance_sampling_ratio/mean", (ratio * batch.mask).sum().item() / active),
                        ("sampling/importance_sampling_ratio/min", `where`(batch.mask .> 0.0, ratio, big).min().item()),
                        ("sampling/importance_sampling_ratio/max", (ratio * batch.mask).max().item()),
                    ]
                )
            }
            batch.samplerWeights = weights
            for (k, v) in stats { m[k] = v }
        }
        if c.topEntropyQuantile < 1, let entropies {
            // The high-entropy "forking" tokens: at or above the (1 − ρ) quantile of the active tokens' entropies
            // (linear interpolation, as torch.quantile).
            let values = entropies.toArray(Double.self)
            let flags = batch.mask.toArray(Double.self)
            // Over the whole generation batch: every rank's active tokens.
            let active = try parallel.gatherVariable(zip(values, flags).filter { $0.1 > 0 }.map(\.0)).sorted()
            let keep = withNoGrad { () -> Tensor in
                guard !active.isEmpty else { return batch.mask }
                let position = (1 - c.topEntropyQuantile) * Double(active.count - 1)
                let (lo, hi) = (Int(position.rounded(.down)), Int(position.rounded(.up)))
                let threshold = active[lo] + (active[hi] - active[lo]) * (position - Double(lo))
                return (entropies .>= threshold).to(.float32) * batch.mask
            }
            batch.samplerWeights = batch.samplerWeights.map { $0 * keep } ?? keep
            m["entropy/kept_fraction"] = keep.sum().item() / Swift.max(batch.mask.sum().item(), 1)
        }
        timings["time/generation"] = generationTime
        timings["time/scoring"] = scoringTime
        return (batch, m, cursor)
    }

    /// The sampler's log-probabilities of the batch's completion tokens, (N, T), right-padded with 0.
    func samplerLogps(_ groups: [Group], width: Int) throws -> Tensor {
        var values: [Float] = []
        for g in groups {
            for c in g.completions {
                guard let lp = c.logprobs, lp.count == c.tokens.count else {
                    throw TrainingError.invalidConfiguration(
                        "importance sampling correction needs the sampler's log-probabilities; \(rollouts.name) returned none for problem \(g.problem.id)")
                }
                values += lp.map(Float.init) + Array(repeating: 0, count: width - lp.count)
            }
        }
        return Tensor(values, shape: [values.count / Swift.max(width, 1), width])
    }

    /// Share `index` of `count` of a generation batch: the groups whose place in the whole batch (across ranks) is
    /// in `index × P/count ..< (index + 1) × P/count` for `prompts` P (whole groups; `count` divides P). A rank's
    /// groups are in increasing place, so its part of a share is a run of consecutive rows, possibly empty.
    static func share(_ batch: Batch, _ index: Int, of count: Int, prompts: Int, groupSize: Int) -> Batch {
        guard count > 1 else { return batch }
        let start: Int
        let rows: Int
        if batch.groupPositions.isEmpty {
            rows = batch.ids.size(0) / count
            start = index * rows
        } else {
            let (lo, hi) = (index * prompts / count, (index + 1) * prompts / count)
            let mine = batch.groupPositions.indices.filter { lo <= batch.groupPositions[$0] && batch.groupPositions[$0] < hi }
            start = (mine.first ?? 0) * groupSize
            rows = mine.count * groupSize
        }
        func cut(_ t: Tensor?) -> Tensor? { t?.narrow(axis: 0, start: start, length: rows) }
        return Batch(
            groups: [], ids: cut(batch.ids)!, padding: Array(batch.padding[start..<(start + rows)]), mask: cut(batch.mask)!,
            advantages: cut(batch.advantages)!, completionLength: batch.completionLength, oldLogps: cut(batch.oldLogps),
            refLogps: cut(batch.refLogps), samplerWeights: cut(batch.samplerWeights))
    }

    /// Whether a group's weighted rewards carry no learning signal (``RewardCombination/hasZeroSpread(_:)``).
    static func hasZeroSpread(_ group: Group, weights: [Double]) -> Bool {
        RewardCombination.hasZeroSpread(group.rewardsPerFunction.map { RewardCombination.weightedSum($0, weights: weights) })
    }

    /// Weights of the reward functions, plus the overlong shaping term when enabled.
    var rewardWeights: [Double] {
        (configuration.rewardWeights.isEmpty ? rewards.map(\.weight) : configuration.rewardWeights)
            + (configuration.overlongBuffer > 0 ? [1] : [])
    }

    /// Names of the reward terms, as metrics name them.
    var rewardNames: [String] { rewards.map(\.reward.name) + (configuration.overlongBuffer > 0 ? ["overlong"] : []) }

    /// DAPO's soft overlong punishment: 0 up to limit − buffer, then linear down to −penalty at the limit.
    static func overlongPenalty(length: Int, limit: Int, buffer: Int, penalty: Double) -> Double {
        let start = limit - buffer
        guard length > start else { return 0 }
        return -penalty * Double(Swift.min(length, limit) - start) / Double(buffer)
    }

    /// Lays the groups out as one batch: prompts left-padded to a common length, completions right-padded.
    func makeBatch(_ groups: [Group]) -> Batch {
        let p = groups.map(\.prompt.count).max() ?? 1
        let t = Swift.max(1, groups.flatMap(\.completions).map(\.tokens.count).max() ?? 1)
        var ids: [Int64] = []
        var mask: [Float] = []
        var padding: [Int] = []
        var advantages: [Double] = []
        for g in groups {
            for (k, completion) in g.completions.enumerated() {
                let n = completion.tokens.count
                padding.append(p - g.prompt.count)
                ids += Array(repeating: 0, count: p - g.prompt.count) + g.prompt.map(Int64.init)
                ids += completion.tokens.map(Int64.init) + Array(repeating: 0, count: t - n)
                let counts: Float = configuration.maskTruncatedCompletions && completion.finishReason == .length ? 0 : 1
                mask += (0..<n).map { completion.isSampled($0) ? counts : 0 } + Array(repeating: 0, count: t - n)
                advantages.append(g.advantages[k])
            }
        }
        let rows = padding.count
        return Batch(
            groups: groups, ids: Tensor(ids, shape: [rows, p + t]), padding: padding, mask: Tensor(mask, shape: [rows, t]),
            advantages: Tensor(advantages), completionLength: t, groupPositions: groups.map(\.position))
    }

    /// Per-token log-probabilities and entropies of the batch's completions under `model`, in row chunks. Only the
    /// last `T + 1` positions go through the output layer (TRL's `logits_to_keep`).
    func logps(_ model: CausalLM, _ batch: Batch) -> (Tensor, Tensor) {
        TokenLogProbs.compute(
            ids: batch.ids, completionLength: batch.completionLength, temperature: configuration.temperature,
            chunkRows: configuration.chunkRows, forward: forward(model, batch))
    }

    /// The log-probabilities alone (the reference's: no entropies).
    func referenceLogps(_ model: CausalLM, _ batch: Batch) -> Tensor {
        TokenLogProbs.logProbabilities(
            ids: batch.ids, completionLength: batch.completionLength, temperature: configuration.temperature,
            chunkRows: configuration.chunkRows, forward: forward(model, batch))
    }

    /// `model`'s logits for a chunk of `batch`'s rows, from the last prompt token on (TRL's `logits_to_keep`).
    private func forward(_ model: CausalLM, _ batch: Batch) -> (Tensor, Range<Int>) -> Tensor {
        let keep = batch.completionLength + 1
        return { rows, range in
            let pads = Array(batch.padding[range])
            let (n, l) = (rows.size(0), rows.size(1))
            var hidden: Tensor
            if pads.contains(where: { $0 > 0 }) {
                // Left padding: positions start at each row's first real token; padded keys are masked out (a padded
                // query also sees itself, so no softmax row is empty).
                let padTensor = Tensor(pads.map(Int64.init), shape: [n, 1])
                let positions = (Tensor.arange(0, l).unsqueezed(axis: 0) - padTensor).clamped(min: 0)
                let keys = Tensor.arange(0, l).reshaped(1, 1, 1, l)
                let queries = Tensor.arange(0, l).reshaped(1, 1, l, 1)
                let mask = ((keys .<= queries) .&& (keys .>= padTensor.reshaped(n, 1, 1, 1))) .|| (keys .== queries)
                hidden = model.hiddenStates(rows, positions: positions, mask: mask)
            } else {
                hidden = model.hiddenStates(rows)
            }
            if keep < l { hidden = hidden.narrow(axis: 1, start: l - keep, length: keep) }
            return model.logits(hidden)
        }
    }

    /// The gradients of the generation batch's loss, in row chunks whose losses add up to the batch's loss (the
    /// training loop then clips and steps).
    ///
    /// With several ranks the normalisers (active tokens, sequences) are the whole batch's, summed across ranks
    /// before the loss, so the ranks' gradients add up to one process's.
    func backward(_ batch: Batch, parallel: DataParallel = .single) throws -> OrderedDictionary<String, Double> {
        let c = configuration
        var objective = c.objective
        objective.epsilonHigh = objective.epsilonHigh ?? objective.epsilon
        let localRows = batch.ids.size(0)
        let totals = try parallel.sum([batch.mask.sum().item(), Double(localRows)])
        let active = Swift.max(totals[0], 1)
        let rows = Int(totals[1])
        // Each chunk's loss uses the whole batch's normalisers and is back-propagated at once, so the gradients add
        // up to the batch's while only one chunk's activations and (rows × T × V) logits are alive at a time.
        var kl = 0.0
        var entropy = 0.0
        var low = 0.0
        var high = 0.0
        var region = 0.0
        var lowMin = Double.infinity
        var highMax = -Double.infinity
        let sequenceLevel = objective.importanceSamplingLevel == .sequence
        for start in stride(from: 0, to: localRows, by: c.chunkRows) {
            let n = Swift.min(c.chunkRows, localRows - start)
            let part = Batch(
                groups: [], ids: batch.ids.narrow(axis: 0, start: start, length: n), padding: Array(batch.padding[start..<(start + n)]),
                mask: batch.mask.narrow(axis: 0, start: start, length: n),
                advantages: batch.advantages.narrow(axis: 0, start: start, length: n),
                completionLength: batch.completionLength, oldLogps: batch.oldLogps?.narrow(axis: 0, start: start, length: n),
                refLogps: batch.refLogps?.narrow(axis: 0, start: start, length: n),
                samplerWeights: batch.samplerWeights?.narrow(axis: 0, start: start, length: n))
            let (logps, entropies) = logps(policy, part)
            let result = objective.loss(
                logps: logps, oldLogps: part.oldLogps, refLogps: part.refLogps, advantages: part.advantages, mask: part.mask,
                activeTokens: active, sequenceCount: rows, samplerWeights: part.samplerWeights)
            result.loss.backward()
            let tokens = part.mask.sum().item()
            if objective.beta == 0, let ref = part.refLogps {
                // Logged only: the k3 estimate of KL(π ‖ π_ref) over active tokens.
                let d = withNoGrad { ref - logps.detached() }
                kl += withNoGrad { ((d.exp() - d - 1) * part.mask).sum().item() } / active
            }
            let share = sequenceLevel ? Double(n) / Double(rows) : tokens / active
            if objective.beta != 0 { kl += result.kl * (tokens / active) }
            entropy += (entropies * part.mask).sum().item() / active
            low += result.clipLow * share
            high += result.clipHigh * share
            region += result.clipRegion * share
            if !result.clipLowMin.isNaN { lowMin = Swift.min(lowMin, result.clipLowMin) }
            if !result.clipHighMax.isNaN { highMax = Swift.max(highMax, result.clipHighMax) }
        }
        var m: OrderedDictionary<String, Double> = [
            // low_min and high_max are over sequences (TRL gathers per-sequence fractions); 0 when no row counts.
            "entropy": entropy, "clip_ratio/low_mean": low, "clip_ratio/low_min": lowMin.isFinite ? lowMin : 0,
            "clip_ratio/high_mean": high, "clip_ratio/high_max": highMax.isFinite ? highMax : 0, "clip_ratio/region_mean": region,
        ]
        if objective.beta != 0 || batch.refLogps != nil { m["kl"] = kl }
        return m
    }
}
