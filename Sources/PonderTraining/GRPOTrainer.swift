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
        /// Rows per forward and backward pass in the update. Peak memory is one chunk's activations plus its
        /// (rows × completion length × vocabulary) float32 logits, log-probabilities and their gradients, about
        /// 12 × chunkRows × T × V bytes on top of the weights, gradients and optimizer state (4 × 4 bytes per parameter).
        public var chunkRows = 16
        /// Log the KL to the reference model (`kl`) even when `beta` is 0 (needs a reference; costs a forward pass).
        public var logKL = false
        /// Write sampled completions to completions.jsonl every this many steps.
        public var logCompletionsEvery = 1

        public init(training: TrainingOptions) { self.training = training }

        public func validate() throws {
            try training.validate()
            if numGenerations < 2 {
                throw TrainingError.invalidConfiguration("numGenerations = \(numGenerations): a group needs at least 2 completions")
            }
            if promptsPerStep < 1 { throw TrainingError.invalidConfiguration("promptsPerStep must be at least 1") }
            if numIterations < 1 { throw TrainingError.invalidConfiguration("numIterations must be at least 1") }
            if !(temperature > 0) {
                throw TrainingError.invalidConfiguration("temperature = \(temperature) must be positive for GRPO sampling")
            }
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
        if (configuration.objective.beta != 0 || configuration.logKL) && reference == nil {
            throw TrainingError.invalidConfiguration("beta = \(configuration.objective.beta) (or logKL) needs a reference model")
        }
        guard engine.model === policy, engine.generator.prefixCache == nil else {
            throw TrainingError.invalidConfiguration(
                "the engine must run the policy itself, with prefixCacheBytes 0 (weights change every step)")
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
    }

    /// A generation batch as tensors: left-padded prompts followed by right-padded completions.
    struct Batch {
        var groups: [Group]
        /// (N, P + T) token ids.
        let ids: Tensor
        /// Leading pad tokens of each row.
        let padding: [Int]
        /// (N, T) 1 for completion tokens that count.
        let mask: Tensor
        /// (N) advantages.
        let advantages: Tensor
        let completionLength: Int
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
            configuration: .init(
                learningRate: c.training.learningRate, beta1: c.training.beta1, beta2: c.training.beta2, weightDecay: c.training.weightDecay
            ))
        var step = 0
        var promptCursor = 0
        if resume, let latest = run.checkpoints().last {
            let state = try RunDirectory.loadState(TrainerState.self, from: latest.url)
            guard state.trainer == "grpo" else {
                throw TrainingError.badCheckpoint(path: latest.url.path, reason: "written by \(state.trainer), not grpo")
            }
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
        var batch = makeBatch([])
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
                if step % c.logCompletionsEvery == 0 { try logCompletions(batch.groups, step: step + 1, run: run) }
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
    func generate(step: Int, cursor: Int, timings: inout [String: Double]) async throws -> (Batch, OrderedDictionary<String, Double>, Int) {
        let c = configuration
        var cursor = cursor
        var kept: [Group] = []
        var all: [Group] = []
        var rounds = 0
        var generationTime = 0.0
        var scoringTime = 0.0
        while kept.count < c.promptsPerStep {
            let want = c.promptsPerStep - kept.count
            let picked = (0..<want).map { problems[problemIndex(cursor + $0)] }
            cursor += want
            let t0 = Date()
            let requests = picked.enumerated().map { i, p in
                CompletionRequest(
                    prompt: makePrompt(p),
                    parameters: SamplingParameters(
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
                        perFunction[k].append(
                            Self.overlongPenalty(
                                length: completion.tokens.count, limit: c.objective.maxCompletionLength, buffer: c.overlongBuffer,
                                penalty: c.overlongPenalty))
                    }
                }
                let prompt = try engine.tokenizer.encode(
                    engine.promptText(requests[i]), addSpecialTokens: { if case .text = requests[i].prompt { true } else { false } }())
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
        var batch = makeBatch(kept)
        // Old log-probabilities (only needed when the batch is reused) and reference log-probabilities.
        if c.numIterations > 1 { batch.oldLogps = withNoGrad { logps(policy, batch).0 } }
        if c.objective.beta != 0 || c.logKL, let reference { batch.refLogps = withNoGrad { logps(reference, batch).0 } }
        timings["time/generation"] = generationTime
        timings["time/scoring"] = scoringTime
        return (batch, metrics(kept, all: all), cursor)
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
                mask += Array(repeating: counts, count: n) + Array(repeating: 0, count: t - n)
                advantages.append(g.advantages[k])
            }
        }
        let rows = padding.count
        return Batch(
            groups: groups, ids: Tensor(ids, shape: [rows, p + t]), padding: padding, mask: Tensor(mask, shape: [rows, t]),
            advantages: Tensor(advantages), completionLength: t)
    }

    /// Per-token log-probabilities and entropies of the batch's completions under `model`, in row chunks.
    func logps(_ model: CausalLM, _ batch: Batch) -> (Tensor, Tensor) {
        TokenLogProbs.compute(
            ids: batch.ids, completionLength: batch.completionLength, temperature: configuration.temperature,
            chunkRows: configuration.chunkRows
        ) { rows, range in
            let pads = Array(batch.padding[range])
            guard pads.contains(where: { $0 > 0 }) else { return model(rows) }
            // Left padding: positions start at each row's first real token; padded keys are masked out (a padded
            // query also sees itself, so no softmax row is empty).
            let (n, l) = (rows.size(0), rows.size(1))
            let padTensor = Tensor(pads.map(Int64.init), shape: [n, 1])
            let positions = (Tensor.arange(0, l).unsqueezed(axis: 0) - padTensor).clamped(min: 0)
            let keys = Tensor.arange(0, l).reshaped(1, 1, 1, l)
            let queries = Tensor.arange(0, l).reshaped(1, 1, l, 1)
            let mask = ((keys .<= queries) .&& (keys .>= padTensor.reshaped(n, 1, 1, 1))) .|| (keys .== queries)
            return model(rows, positions: positions, mask: mask)
        }
    }

    /// One optimizer step over the generation batch, in row chunks whose losses add up to the batch's loss.
    func update(_ batch: Batch, optimizer: AdamW, learningRate: Double) throws -> (OrderedDictionary<String, Double>, Double) {
        let c = configuration
        var objective = c.objective
        objective.epsilonHigh = objective.epsilonHigh ?? objective.epsilon
        let rows = batch.ids.size(0)
        let active = Swift.max(batch.mask.sum().item(), 1)
        // Each chunk's loss uses the whole batch's normalisers and is back-propagated at once, so the gradients add
        // up to the batch's while only one chunk's activations and (rows × T × V) logits are alive at a time.
        var kl = 0.0
        var entropy = 0.0
        var low = 0.0
        var high = 0.0
        var region = 0.0
        let sequenceLevel = objective.importanceSamplingLevel == .sequence
        for start in stride(from: 0, to: rows, by: c.chunkRows) {
            let n = Swift.min(c.chunkRows, rows - start)
            let part = Batch(
                groups: [], ids: batch.ids.narrow(axis: 0, start: start, length: n), padding: Array(batch.padding[start..<(start + n)]),
                mask: batch.mask.narrow(axis: 0, start: start, length: n),
                advantages: batch.advantages.narrow(axis: 0, start: start, length: n),
                completionLength: batch.completionLength, oldLogps: batch.oldLogps?.narrow(axis: 0, start: start, length: n),
                refLogps: batch.refLogps?.narrow(axis: 0, start: start, length: n))
            let (logps, entropies) = logps(policy, part)
            let result = objective.loss(
                logps: logps, oldLogps: part.oldLogps, refLogps: part.refLogps, advantages: part.advantages, mask: part.mask,
                activeTokens: active, sequenceCount: rows)
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
        }
        let norm = c.training.maxGradNorm > 0 ? clipGradNorm(optimizer.parameters.values, maxNorm: c.training.maxGradNorm) : 0
        optimizer.configuration.learningRate = learningRate
        optimizer.step()
        optimizer.zeroGrad()
        var m: OrderedDictionary<String, Double> = [
            "entropy": entropy, "clip_ratio/low_mean": low, "clip_ratio/high_mean": high, "clip_ratio/region_mean": region,
        ]
        if objective.beta != 0 || batch.refLogps != nil { m["kl"] = kl }
        return (m, norm)
    }
}
