import ArgumentParser
import Foundation
import Logging
import OrderedCollections
import PonderCore
import PonderModels
import Torch

/// A preference pair in TRL's RewardTrainer / DPO format: the prompt, a chosen and a rejected completion, and an
/// optional margin by which the chosen should win.
public struct PreferencePair: Sendable, Codable, Equatable {
    public var prompt: String
    public var chosen: String
    public var rejected: String
    public var margin: Double?

    public init(prompt: String, chosen: String, rejected: String, margin: Double? = nil) {
        (self.prompt, self.chosen, self.rejected, self.margin) = (prompt, chosen, rejected, margin)
    }
}

/// A solution and whether it was verified correct (pointwise outcome training).
public struct OutcomeExample: Sendable, Codable, Equatable {
    public var prompt: String
    public var completion: String
    public var label: Bool

    public init(prompt: String, completion: String, label: Bool) {
        (self.prompt, self.completion, self.label) = (prompt, completion, label)
    }
}

/// A solution split into steps with a label per step, in TRL's stepwise (PRMTrainer) format. Labels are 0/1 (hard:
/// some completion from the step reached the answer) or fractions (Math-Shepherd's soft estimate).
public struct StepExample: Sendable, Codable, Equatable {
    public var prompt: String
    public var completions: [String]
    public var labels: [Double]

    public init(prompt: String, completions: [String], labels: [Double]) {
        (self.prompt, self.completions, self.labels) = (prompt, completions, labels)
    }
}

/// What a reward model trains on.
public enum RewardData: Sendable {
    /// Bradley–Terry on preference pairs (an outcome model).
    case pairs([PreferencePair])
    /// Binary cross-entropy on verified outcomes (an outcome model).
    case outcomes([OutcomeExample])
    /// Per-step classification (a process model).
    case steps([StepExample])

    var count: Int {
        switch self {
        case .pairs(let p): p.count
        case .outcomes(let o): o.count
        case .steps(let s): s.count
        }
    }
}

extension RewardModelKind: ExpressibleByArgument {}

/// Trains an outcome or process reward model (TRL's RewardTrainer and PRMTrainer semantics) in the shared
/// ``TrainingLoop``: resumable checkpoints that are complete Hugging Face reward-model directories, held-out metrics in
/// `eval.json` (accuracy, ROC AUC, expected calibration error).
public struct RewardModelTrainer {
    /// Reward-model settings.
    public struct Configuration: TrainerConfiguration, Sendable {
        @OptionGroup public var training: TrainingOptions
        @Option(name: .long, help: "Examples (pairs, outcomes or step lists) per micro-batch.") public var batchSize = 8
        @Option(name: .long, help: "Longer inputs are cut to this many tokens (TRL's max_length).") public var maxLength = 512
        @Option(
            name: .long,
            help: "Weight of TRL's reward-centring term mean((r_chosen + r_rejected)^2) in the Bradley–Terry loss (unset: none).")
        public var centerRewardsCoefficient: Double?
        @Option(name: .long, help: "Text appended after each step (TRL's step_separator).") public var stepSeparator = "\n"
        @Option(name: .long, help: "Fraction of the examples held out for the metrics in eval.json.") public var evalFraction = 0.1
        @Option(
            name: .long,
            help:
                "Dropout on the hidden states before a process model's score head while training (transformers' *ForTokenClassification default, 0.1)."
        )
        public var classifierDropout = 0.1

        public init() {}

        /// TRL's RewardConfig learning rate (1e-4) and AdamW's β2.
        public static var optimizerDefaults: OptimizerDefaults { OptimizerDefaults(learningRate: 1e-4, beta2: 0.999) }

        public func validate() throws {
            if batchSize < 1 { throw TrainingError.invalidConfiguration("batchSize = \(batchSize) must be at least 1") }
            if maxLength < 2 { throw TrainingError.invalidConfiguration("maxLength = \(maxLength) must be at least 2") }
            if stepSeparator.isEmpty { throw TrainingError.invalidConfiguration("stepSeparator must not be empty") }
            if !(classifierDropout >= 0 && classifierDropout < 1) {
                throw TrainingError.invalidConfiguration("classifierDropout = \(classifierDropout) must be in [0, 1)")
            }
            if !(evalFraction >= 0 && evalFraction < 1) {
                throw TrainingError.invalidConfiguration("evalFraction = \(evalFraction) must be in [0, 1)")
            }
        }
    }

    /// One encoded example.
    enum Row {
        case pair(chosen: [Int], rejected: [Int], margin: Double?)
        case outcome(ids: [Int], label: Double)
        case steps(ids: [Int], ends: [Int], labels: [Double])
    }

    public let configuration: Configuration
    public let model: CausalLM
    public let encoder: RewardEncoder
    let train: [Row]
    let heldOut: [Row]

    /// Encodes `data` for `model` (which must have the head the data trains: a sequence classifier for pairs and
    /// outcomes, a token classifier for steps). The held-out examples are `evalData` when given (use problems the
    /// training data does not contain), else a seeded `evalFraction` of `data`.
    public init(configuration: Configuration, model: CausalLM, encoder: RewardEncoder, data: RewardData, evalData: RewardData? = nil) throws
    {
        try configuration.validate()
        self.configuration = configuration.resolved
        self.model = model
        self.encoder = encoder
        let rows = try Self.encode(data, model: model, encoder: encoder, maxLength: configuration.maxLength)
        guard rows.count >= 1 else { throw TrainingError.invalidConfiguration("no reward-model examples") }
        if let evalData {
            heldOut = try Self.encode(evalData, model: model, encoder: encoder, maxLength: configuration.maxLength)
            train = rows
        } else {
            let order = Pretrainer.permutation(count: rows.count, seed: configuration.training.seed ^ 0x5EED)
            let held = rows.count >= 2 ? Int((Double(rows.count) * configuration.evalFraction).rounded()) : 0
            heldOut = order.prefix(held).map { rows[$0] }
            train = order.dropFirst(held).map { rows[$0] }
        }
        guard !train.isEmpty else { throw TrainingError.invalidConfiguration("evalFraction leaves no training examples") }
    }

    /// Token ids and labels of `data`, cut to `maxLength` tokens.
    static func encode(_ data: RewardData, model: CausalLM, encoder: RewardEncoder, maxLength: Int) throws -> [Row] {
        let cut = { (ids: [Int]) in Array(ids.prefix(maxLength)) }
        var rows: [Row] = []
        switch (data, model.configuration.head) {
        case (.pairs(let pairs), .sequenceClassification):
            let margins = Set(pairs.map { $0.margin == nil })
            guard margins.count <= 1 else { throw TrainingError.invalidConfiguration("either every pair has a margin or none does") }
            rows = pairs.map {
                .pair(
                    chosen: cut(encoder.outcomeIDs(prompt: $0.prompt, completion: $0.chosen)),
                    rejected: cut(encoder.outcomeIDs(prompt: $0.prompt, completion: $0.rejected)), margin: $0.margin)
            }
        case (.outcomes(let outcomes), .sequenceClassification):
            rows = outcomes.map {
                .outcome(ids: cut(encoder.outcomeIDs(prompt: $0.prompt, completion: $0.completion)), label: $0.label ? 1 : 0)
            }
        case (.steps(let examples), .tokenClassification):
            for (i, e) in examples.enumerated() {
                guard e.completions.count == e.labels.count, !e.labels.isEmpty else {
                    throw TrainingError.invalidConfiguration(
                        "step example \(i): \(e.completions.count) steps but \(e.labels.count) labels (need one label per step, at least one)"
                    )
                }
                guard e.labels.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
                    throw TrainingError.invalidConfiguration("step example \(i): labels must be in [0, 1]")
                }
                let (ids, ends) = encoder.stepIDs(prompt: e.prompt, steps: e.completions)
                let kept = ends.indices.filter { ends[$0] < maxLength }
                guard !kept.isEmpty else { continue }  // TRL truncates too: a row with no labelled step is skipped
                rows.append(.steps(ids: cut(ids), ends: kept.map { ends[$0] }, labels: kept.map { e.labels[$0] }))
            }
        case (_, let head):
            throw TrainingError.invalidConfiguration(
                "the model's head is \(head); pairs and outcomes train a sequence classifier (--kind orm), steps a token classifier (--kind prm)"
            )
        }
        return rows
    }

    /// Training rows of micro-batch (step, micro), in a seeded order per epoch.
    func batch(step: Int, micro: Int) -> [Row] {
        let perStep = configuration.batchSize * configuration.training.gradientAccumulationSteps
        let first = step * perStep + micro * configuration.batchSize
        return (first..<(first + configuration.batchSize)).map { i in
            train[Pretrainer.permutation(count: train.count, seed: configuration.training.seed &+ UInt64(i / train.count))[i % train.count]]
        }
    }

    /// The loss of `rows` (all of one kind) and its metrics; `training` applies the classifier dropout.
    func loss(_ rows: [Row], training: Bool = true) -> (Tensor, [String: Double]) {
        switch rows[0] {
        case .pair:
            var chosen: [[Int]] = []
            var rejected: [[Int]] = []
            var margins: [Double] = []
            for case .pair(let c, let r, let m) in rows {
                chosen.append(c)
                rejected.append(r)
                if let m { margins.append(m) }
            }
            // One forward over chosen then rejected rows, as TRL's collator stacks them.
            let rewards = model.sequenceLogits(chosen + rejected).to(.float32).reshaped(-1)  // (2B,)
            let rc = rewards.narrow(axis: 0, start: 0, length: rows.count)
            let rr = rewards.narrow(axis: 0, start: rows.count, length: rows.count)
            let margin = margins.count == rows.count ? Tensor(margins.map(Float.init), shape: [rows.count]) : nil
            let loss = RewardLoss.bradleyTerry(
                chosen: rc, rejected: rr, margin: margin, centerRewardsCoefficient: configuration.centerRewardsCoefficient)
            let difference = (rc - rr).detached().toArray(Float.self)
            return (
                loss,
                [
                    "accuracy": Double(difference.filter { $0 > 0 }.count) / Double(rows.count),
                    "margin": Double(difference.reduce(0, +)) / Double(rows.count),
                ]
            )
        case .outcome:
            var ids: [[Int]] = []
            var labels: [Float] = []
            for case .outcome(let i, let l) in rows {
                ids.append(i)
                labels.append(Float(l))
            }
            let logits = model.sequenceLogits(ids).to(.float32).reshaped(-1)
            let p = logits.detached().sigmoid().toArray(Float.self)
            let right = zip(p, labels).filter { ($0 >= 0.5) == ($1 >= 0.5) }.count
            return (
                RewardLoss.pointwise(logits: logits, labels: Tensor(labels, shape: [rows.count])),
                ["accuracy": Double(right) / Double(rows.count)]
            )
        case .steps:
            let (logits, targets, mask) = stepTensors(rows, training: training)
            // Soft cross-entropy over the labelled positions; with 0/1 labels exactly TRL's token-classification loss.
            let logp = logits.logSoftmax(axis: -1)
            let mixed = targets * logp.select(axis: -1, index: 1) + (1.0 - targets) * logp.select(axis: -1, index: 0)
            let loss = 0.0 - (mixed * mask).sum() / mask.sum()
            let p = logits.detached().softmax(axis: -1).select(axis: -1, index: 1).toArray(Float.self)
            let m = mask.toArray(Float.self)
            let t = targets.toArray(Float.self)
            let labelled = m.indices.filter { m[$0] > 0 }
            let right = labelled.filter { (p[$0] >= 0.5) == (t[$0] >= 0.5) }.count
            return (loss, ["accuracy": Double(right) / Double(Swift.max(1, labelled.count))])
        }
    }

    /// For step rows: logits (B, T, labels) in float32, soft targets (B, T) and the labelled-position mask (B, T);
    /// `training` applies dropout to the hidden states before the head, as `*ForTokenClassification` does.
    func stepTensors(_ rows: [Row], training: Bool) -> (Tensor, Tensor, Tensor) {
        var seqs: [[Int]] = []
        var labelled: [(row: Int, position: Int, label: Double)] = []
        for case .steps(let ids, let ends, let labels) in rows {
            for (e, l) in zip(ends, labels) { labelled.append((seqs.count, e, l)) }
            seqs.append(ids)
        }
        let width = seqs.map(\.count).max()!
        let pad = model.configuration.padTokenId ?? 0
        let input = Tensor(
            seqs.flatMap { ($0 + Array(repeating: pad, count: width - $0.count)).map(Int64.init) }, shape: [seqs.count, width])
        var target = [Float](repeating: 0, count: seqs.count * width)
        var mask = [Float](repeating: 0, count: seqs.count * width)
        for l in labelled {
            target[l.row * width + l.position] = Float(l.label)
            mask[l.row * width + l.position] = 1
        }
        let dropout = training ? configuration.classifierDropout : 0
        let logits = dropout > 0 ? model.logits(model.hiddenStates(input).dropout(dropout, training: true)) : model(input)
        return (logits.to(.float32), Tensor(target, shape: [seqs.count, width]), Tensor(mask, shape: [seqs.count, width]))
    }

    /// Metrics of the model on the held-out rows (or `rows`): accuracy, ROC AUC and calibration of the probability of
    /// "correct" (for pairs: σ(reward) with chosen rows labelled 1 and rejected 0; accuracy = r_chosen > r_rejected and
    /// loss = mean −log σ(r_chosen − r_rejected), without margin or centring).
    public func evaluate() -> RewardMetrics? { heldOut.isEmpty ? nil : evaluate(heldOut) }

    func evaluate(_ rows: [Row]) -> RewardMetrics {
        withNoGrad {
            var p: [Double] = []
            var y: [Bool] = []
            var pairWins = 0
            var pairLoss = 0.0
            for start in stride(from: 0, to: rows.count, by: configuration.batchSize) {
                let chunk = Array(rows[start..<Swift.min(rows.count, start + configuration.batchSize)])
                switch chunk[0] {
                case .pair:
                    var texts: [[Int]] = []
                    for case .pair(let c, let r, _) in chunk { texts += [c, r] }
                    let rewards = model.sequenceLogits(texts).to(.float32).reshaped(-1).toArray(Float.self).map(Double.init)  // c0, r0, c1, …
                    for k in stride(from: 0, to: rewards.count, by: 2) {
                        let d = rewards[k] - rewards[k + 1]
                        if d > 0 { pairWins += 1 }
                        pairLoss += Swift.max(-d, 0) + Foundation.log1p(Foundation.exp(-Swift.abs(d)))  // −log σ(d)
                    }
                    for (i, r) in rewards.enumerated() {
                        p.append(1 / (1 + Foundation.exp(-r)))
                        y.append(i % 2 == 0)
                    }
                case .outcome:
                    var ids: [[Int]] = []
                    for case .outcome(let i, let l) in chunk {
                        ids.append(i)
                        y.append(l >= 0.5)
                    }
                    p += model.sequenceLogits(ids).to(.float32).reshaped(-1).sigmoid().toArray(Float.self).map(Double.init)
                case .steps:
                    let (logits, targets, mask) = stepTensors(chunk, training: false)
                    let q = logits.softmax(axis: -1).select(axis: -1, index: 1).toArray(Float.self)
                    let m = mask.toArray(Float.self)
                    let t = targets.toArray(Float.self)
                    for i in m.indices where m[i] > 0 {
                        p.append(Double(q[i]))
                        y.append(t[i] >= 0.5)
                    }
                }
            }
            var metrics = RewardMetrics.of(probabilities: p, labels: y)
            if case .pair = rows[0] {
                metrics.accuracy = Double(pairWins) / Double(rows.count)
                metrics.loss = pairLoss / Double(rows.count)
                metrics.count = rows.count
            }
            return metrics
        }
    }

    /// What a saved reward model records about its inputs.
    public var settings: RewardEncoder.Settings {
        RewardEncoder.Settings(
            kind: model.configuration.head.rewardKind ?? .outcome,
            endText: encoder.endText, stepSeparator: encoder.stepSeparator)
    }

    /// Trains, writing checkpoints (reward-model directories with `reward_model.json`), metrics and, at the end,
    /// `eval.json` with the held-out metrics; returns the last completed step.
    public func train(
        run: RunDirectory, resume: Bool = false, tokenizerFiles: [URL] = [], interrupt: InterruptFlag = InterruptFlag(),
        logger: Logger = Logger(label: "ponder.train-rm"), onStep: @escaping (StepReport) -> Void = { _ in }
    ) async throws -> Int {
        try run.writeConfiguration(configuration)
        let loop = TrainingLoop(
            model: model, run: run, options: configuration.training, trainerName: "reward-model", tokenizerFiles: tokenizerFiles,
            interrupt: interrupt, logger: logger, onStep: onStep)
        let settings = self.settings
        let last = try await loop.train(
            resume: resume,
            TrainingLoop.Hooks(
                saveExtra: { dir in try RewardModel.writeSettings(settings, to: dir) },
                step: { step in
                    // Dropout draws from the global generator: seeded per step, so a resumed run draws the same masks.
                    Torch.manualSeed(configuration.training.seed &+ UInt64(step))
                    return try TrainingLoop.accumulate(configuration.training, step: step) { s, m in loss(batch(step: s, micro: m)) }
                }
            ))
        if last == configuration.training.steps, let metrics = evaluate() {
            try run.writeJSON(EvaluationRecord(step: last, heldOut: metrics), to: "eval.json")
            logger.info("held-out: accuracy \(metrics.accuracy), ROC AUC \(metrics.rocAUC.map { "\($0)" } ?? "-")")
        }
        return last
    }

    /// `eval.json`: the held-out metrics after `step` steps.
    public struct EvaluationRecord: Codable, Sendable {
        public var step: Int
        public var heldOut: RewardMetrics

        enum CodingKeys: String, CodingKey {
            case step
            case heldOut = "held_out"
        }
    }
}
