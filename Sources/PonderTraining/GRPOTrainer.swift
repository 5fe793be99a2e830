import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import PonderVerifiers
import Torch

/// Group Relative Policy Optimization (Shao et al. 2024) with the DAPO, Dr. GRPO, GSPO, CISPO and SAPO variants,
/// named and computed as TRL's GRPOTrainer does.
public struct GRPOTrainer {
    /// GRPO settings (TRL's names in Swift spelling).
    public struct Configuration: Sendable, Codable, Equatable {
        public var training: TrainingOptions
        public var objective = GRPOObjective()
        /// Completions sampled per prompt (the group).
        public var numGenerations = 8
        /// Prompts per generation batch.
        public var promptsPerStep = 8
        /// Sampling temperature; log-probabilities are of logits / temperature, as TRL computes them.
        public var temperature = 1.0
        public var topP = 1.0
        public var topK: Int?
        /// Optimizer steps per generation batch (old log-probabilities are stored and reused; ratios move off 1).
        public var numIterations = 1
        public var scaleRewards = RewardScaling.group
        /// One weight per reward function (default: all 1).
        public var rewardWeights: [Double]?
        /// Completions cut by the length limit contribute no loss.
        public var maskTruncatedCompletions = false
        /// DAPO dynamic sampling: drop groups whose rewards have no spread and sample more prompts, at most
        /// `maxRefills` extra rounds per step.
        public var dynamicSampling = false
        public var maxRefills = 3
        /// DAPO overlong shaping: within `overlongBuffer` tokens of the limit the reward falls linearly to
        /// −`overlongPenalty` (0 disables).
        public var overlongBuffer = 0
        public var overlongPenalty = 1.0
        /// Rows per forward pass when computing log-probabilities (bounds the logits held at once).
        public var chunkRows = 8
        /// Write sampled completions to completions.jsonl every this many steps.
        public var logCompletionsEvery = 1

        public init(training: TrainingOptions) { self.training = training }

        public func validate() throws {
            try training.validate()
            if numGenerations < 2 { throw TrainingError.invalidConfiguration("numGenerations = \(numGenerations): a group needs at least 2 completions") }
            if promptsPerStep < 1 { throw TrainingError.invalidConfiguration("promptsPerStep must be at least 1") }
            if numIterations < 1 { throw TrainingError.invalidConfiguration("numIterations must be at least 1") }
            if !(temperature > 0) { throw TrainingError.invalidConfiguration("temperature = \(temperature) must be positive for GRPO sampling") }
        }
    }

    public let configuration: Configuration
    /// The policy (its weights are updated in place).
    public let policy: CausalLM
    /// Samples from the policy; it must be built over `policy` with the prefix cache disabled.
    public let engine: Engine
    public let rewards: [any RewardFunction]
    public let problems: [Problem]
    /// Frozen reference policy, required when `objective.beta` is not 0.
    public let reference: CausalLM?
    /// Turns a problem into the prompt the policy sees.
    public let makePrompt: @Sendable (Problem) -> Prompt

    public init(
        configuration: Configuration, policy: CausalLM, engine: Engine, rewards: [any RewardFunction], problems: [Problem],
        reference: CausalLM? = nil, makePrompt: @escaping @Sendable (Problem) -> Prompt = { .text($0.prompt) }
    ) throws {
        try configuration.validate()
        guard !problems.isEmpty else { throw TrainingError.invalidConfiguration("no problems to train on") }
        guard !rewards.isEmpty else { throw TrainingError.invalidConfiguration("no reward functions") }
        if let w = configuration.rewardWeights, w.count != rewards.count {
            throw TrainingError.invalidConfiguration("rewardWeights has \(w.count) entries for \(rewards.count) reward functions")
        }
        if configuration.objective.beta != 0 && reference == nil {
            throw TrainingError.invalidConfiguration("beta = \(configuration.objective.beta) needs a reference model")
        }
        guard engine.model === policy, engine.generator.prefixCache == nil else {
            throw TrainingError.invalidConfiguration("the engine must run the policy itself, with prefixCacheBytes 0 (weights change every step)")
        }
        self.configuration = configuration
        self.policy = policy
        self.engine = engine
        self.rewards = rewards
        self.problems = problems
        self.reference = reference
        self.makePrompt = makePrompt
    }

    /// One scored group of completions for a prompt.
    struct Group {
        let problem: Problem
        let prompt: [Int]
        let completions: [Completion]
        var rewardsPerFunction: [[Double?]]
        var advantages: [Double] = []
        var oldLogps: Tensor?
        var refLogps: Tensor?
    }

    /// The problem index for prompt slot `k` of generation `round` (seeded order, every problem once per epoch).
    func problemIndex(_ k: Int) -> Int {
        Pretrainer.permutation(count: problems.count, seed: configuration.training.seed &+ UInt64(k / problems.count))[k % problems.count]
    }
}

extension GRPOTrainer {
    /// Trains; returns the last completed step. Progress and metrics go to `onStep` and `run`.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.grpo"), onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        try run.writeJSON(configuration, to: "config.json")
        let c = configuration
        policy.parameters.setRequiresGrad(true)
        let optimizer = AdamW(
            parameters: policy.parameters.trainable,
            configuration: .init(learningRate: c.training.learningRate, beta1: c.training.beta1, beta2: c.training.beta2, weightDecay: c.training.weightDecay))
        var step = 0
        var promptCursor = 0
        if resume, let latest = run.checkpoints().last {
            let state = try RunDirectory.loadState(TrainerState.self, from: latest.url)
            guard state.trainer == "grpo" else { throw TrainingError.badCheckpoint(path: latest.url.path, reason: "written by \(state.trainer), not grpo") }
            try RunDirectory.restore(model: policy, optimizer: optimizer, from: latest.url)
            step = state.step
            promptCursor = Int(state.cursor["prompt_cursor"] ?? 0)
            try run.truncateLogs(afterStep: step)
            logger.info("resumed from \(latest.url.path) at step \(step)")
        }
        func save() throws {
            try run.saveCheckpoint(
                step: step, model: policy, optimizer: optimizer,
                state: TrainerState(step: step, cursor: ["prompt_cursor": UInt64(promptCursor)], trainer: "grpo"),
                tokenizerFiles: tokenizerFiles, keep: c.training.keepCheckpoints)
        }
        let schedule = c.training.schedule
        let began = Date()
        var batch: [Group] = []
        var generationMetrics: OrderedDictionary<String, Double> = [:]
        // A resumed run regenerates its batch: a checkpoint is only written at generation boundaries.
        while step < c.training.steps {
            if interrupt.isSet {
                try save()
                logger.notice("interrupted: saved checkpoint at step \(step)")
                return step
            }
            let t0 = Date()
            var timings: [String: Double] = [:]
            if step % c.numIterations == 0 {
                (batch, generationMetrics, promptCursor) = try await generate(step: step, cursor: promptCursor, timings: &timings)
                if step % c.logCompletionsEvery == 0 { try logCompletions(batch, step: step + 1, run: run) }
            }
            let t1 = Date()
            let (lossMetrics, gradNorm) = try update(batch, optimizer: optimizer, learningRate: schedule.rate(at: step))
            timings["time/training"] = Date().timeIntervalSince(t1)
            step += 1
            var metrics = generationMetrics
            for (k, v) in lossMetrics { metrics[k] = v }
            metrics["grad_norm"] = gradNorm
            metrics["learning_rate"] = schedule.rate(at: step - 1)
            for (k, v) in timings.sorted(by: { $0.key < $1.key }) { metrics[k] = v }
            metrics["step_time"] = Date().timeIntervalSince(t0)
            var line: [String: Any] = ["step": step]
            for (k, v) in metrics where v.isFinite { line[k] = v }
            try run.appendLine(line, to: run.metricsURL)
            onStep(StepReport(step: step, totalSteps: c.training.steps, metrics: metrics, elapsed: Date().timeIntervalSince(began)))
            // Checkpoints fall on generation boundaries so a resumed run never needs a lost batch.
            if (step % c.training.saveEvery == 0 && step % c.numIterations == 0) || step == c.training.steps { try save() }
        }
        return step
    }

    /// Samples, scores and (optionally) filters one generation batch.
    func generate(step: Int, cursor: Int, timings: inout [String: Double]) async throws -> ([Group], OrderedDictionary<String, Double>, Int) {
        let c = configuration
        var cursor = cursor
        var kept: [Group] = []
        var all: [Group] = []
        var rounds = 0
        var generationTime = 0.0, scoringTime = 0.0
        while kept.count < c.promptsPerStep {
            let want = c.promptsPerStep - kept.count
            let picked = (0..<want).map { problems[problemIndex(cursor + $0)] }
            cursor += want
            let t0 = Date()
            let requests = picked.enumerated().map { i, p in
                CompletionRequest(prompt: makePrompt(p), parameters: SamplingParameters(
                    maxTokens: c.objective.maxCompletionLength, temperature: c.temperature, topK: c.topK, topP: c.topP,
                    seed: c.training.seed &* 1_000_003 &+ UInt64(cursor - want + i), n: c.numGenerations, logprobs: true))
            }
            let responses = try engine.completeBatch(requests)
            generationTime += Date().timeIntervalSince(t0)
            let t1 = Date()
            var groups: [Group] = []
            for (i, (problem, response)) in zip(picked, responses).enumerated() {
                let texts = response.completions.map(\.text)
                var perFunction: [[Double?]] = Array(repeating: [], count: texts.count)
                for reward in rewards {
                    let scores = try await reward.rewards(for: texts, problem: problem)
                    for (k, s) in scores.enumerated() { perFunction[k].append(s) }
                }
                if c.overlongBuffer > 0 {
                    for (k, completion) in response.completions.enumerated() {
                        perFunction[k].append(Self.overlongPenalty(length: completion.tokens.count, limit: c.objective.maxCompletionLength, buffer: c.overlongBuffer, penalty: c.overlongPenalty))
                    }
                }
                let prompt = try engine.tokenizer.encode(engine.promptText(requests[i]), addSpecialTokens: { if case .text = requests[i].prompt { true } else { false } }())
                groups.append(Group(problem: problem, prompt: prompt, completions: response.completions, rewardsPerFunction: perFunction))
            }
            scoringTime += Date().timeIntervalSince(t1)
            let weights = rewardWeights
            all += groups
            rounds += 1
            if c.dynamicSampling && rounds <= c.maxRefills {
                kept += groups.filter { g in
                    let r = g.rewardsPerFunction.map { row in zip(row, weights).reduce(0.0) { $0 + ($1.0 ?? 0) * $1.1 } }
                    return Set(r).count > 1
                }
            } else {
                kept += groups
            }
            if !c.dynamicSampling { break }
            if rounds > c.maxRefills { break }
        }
        kept = Array(kept.prefix(c.promptsPerStep))
        // Advantages over the kept batch (group or batch scaling, as configured).
        let weights = rewardWeights
        let batchAdvantages = GroupAdvantages(
            rewardsPerFunction: kept.flatMap(\.rewardsPerFunction), weights: weights, groupSize: c.numGenerations, scaling: c.scaleRewards)
        for g in kept.indices {
            kept[g].advantages = Array(batchAdvantages.advantages[(g * c.numGenerations)..<((g + 1) * c.numGenerations)])
        }
        // Old log-probabilities (only needed when the batch is reused) and reference log-probabilities.
        for g in kept.indices {
            if c.numIterations > 1 { kept[g].oldLogps = withNoGrad { logps(policy, kept[g]).0 } }
            if c.objective.beta != 0, let reference { kept[g].refLogps = withNoGrad { logps(reference, kept[g]).0 } }
        }
        timings["time/generation"] = generationTime
        timings["time/scoring"] = scoringTime
        return (kept, metrics(kept, all: all), cursor)
    }

    /// Weights of the reward functions, plus the overlong shaping term when enabled.
    var rewardWeights: [Double] {
        (configuration.rewardWeights ?? Array(repeating: 1, count: rewards.count)) + (configuration.overlongBuffer > 0 ? [1] : [])
    }

    /// Names of the reward terms, as metrics name them.
    var rewardNames: [String] { rewards.map(\.name) + (configuration.overlongBuffer > 0 ? ["overlong"] : []) }

    /// DAPO's soft overlong punishment: 0 up to limit − buffer, then linear down to −penalty at the limit.
    static func overlongPenalty(length: Int, limit: Int, buffer: Int, penalty: Double) -> Double {
        let start = limit - buffer
        guard length > start else { return 0 }
        return -penalty * Double(Swift.min(length, limit) - start) / Double(buffer)
    }

    /// Completion ids (G, T), right-padded, and the loss mask (G, T).
    func completionTensors(_ g: Group) -> (ids: Tensor, mask: Tensor) {
        let t = Swift.max(1, g.completions.map(\.tokens.count).max()!)
        var ids: [Int64] = [], mask: [Float] = []
        for completion in g.completions {
            let n = completion.tokens.count
            ids += completion.tokens.map(Int64.init) + Array(repeating: 0, count: t - n)
            let counts: Float = configuration.maskTruncatedCompletions && completion.finishReason == .length ? 0 : 1
            mask += Array(repeating: counts, count: n) + Array(repeating: 0, count: t - n)
        }
        return (Tensor(ids, shape: [g.completions.count, t]), Tensor(mask, shape: [g.completions.count, t]))
    }

    /// Per-token log-probabilities and entropies of a group's completions under `model`.
    func logps(_ model: CausalLM, _ g: Group) -> (Tensor, Tensor) {
        let (completion, _) = completionTensors(g)
        let prompt = Tensor(g.prompt.map(Int64.init), shape: [1, g.prompt.count]).expanded([completion.size(0), g.prompt.count])
        let ids = concatenated([prompt, completion], axis: 1)
        return TokenLogProbs.compute(ids: ids, completionLength: completion.size(1), temperature: configuration.temperature, chunkRows: configuration.chunkRows) { model($0) }
    }

    /// One optimizer step over the generation batch, one group per micro-batch.
    func update(_ batch: [Group], optimizer: AdamW, learningRate: Double) throws -> (OrderedDictionary<String, Double>, Double) {
        let c = configuration
        var objective = c.objective
        objective.epsilonHigh = objective.epsilonHigh ?? objective.epsilon
        let active = batch.reduce(0.0) { $0 + completionTensors($1).mask.sum().item() }
        var kl = 0.0, entropy = 0.0, low = 0.0, high = 0.0, region = 0.0
        for g in batch {
            let (_, mask) = completionTensors(g)
            let (logps, entropies) = logps(policy, g)
            let result = objective.loss(
                logps: logps, oldLogps: g.oldLogps, refLogps: g.refLogps, advantages: Tensor(g.advantages), mask: mask, activeTokens: active)
            // Sum-normalised losses (dapo, cispo) already divide by the whole batch's tokens; the others are means
            // per micro-batch, averaged over micro-batches as gradient accumulation does.
            let scale = objective.lossType == .dapo || objective.lossType == .cispo ? 1.0 : 1.0 / Double(batch.count)
            (result.loss * scale).backward()
            let share = mask.sum().item() / Swift.max(active, 1)
            kl += result.kl * share
            entropy += (entropies * mask).sum().item() / Swift.max(active, 1)
            low += result.clipLow * share
            high += result.clipHigh * share
            region += result.clipRegion * share
        }
        let norm = c.training.maxGradNorm > 0 ? clipGradNorm(optimizer.parameters.values, maxNorm: c.training.maxGradNorm) : 0
        optimizer.configuration.learningRate = learningRate
        optimizer.step()
        optimizer.zeroGrad()
        var m: OrderedDictionary<String, Double> = ["entropy": entropy, "clip_ratio/low_mean": low, "clip_ratio/high_mean": high, "clip_ratio/region_mean": region]
        if objective.beta != 0 { m["kl"] = kl }
        return (m, norm)
    }
}
