import Foundation
import OrderedCollections
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import Torch
import XCTest

@testable import PonderTraining

/// Ponder's GRPO against TRL's GRPOTrainer on the same tiny Qwen2, inputs and rewards
/// (scripts/fixtures/make_grpo_fixtures.py).
final class GRPOParityTests: XCTestCase {
    static let fixture = Bundle.module.url(forResource: "Fixtures/grpo_parity", withExtension: "safetensors")!
    nonisolated(unsafe) static let info =
        try! JSONSerialization.jsonObject(
            with: Data(contentsOf: Bundle.module.url(forResource: "Fixtures/grpo_parity", withExtension: "json")!)) as! [String: Any]
    static let modelURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("PonderModelsTests/Fixtures/tiny-qwen2")

    func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let diff = (a.to(.float64) - b.to(.float64)).abs().max().item()
        return diff / Swift.max(b.to(.float64).abs().max().item(), 1e-12)
    }

    func testAdvantagesMatchTRL() throws {
        let f = try Safetensors.read(Self.fixture)
        let raw = f["rewards_per_func"]!.toArray(Double.self)
        let rows = stride(from: 0, to: raw.count, by: 2).map { i in [raw[i], raw[i + 1]].map { $0.isNaN ? nil : $0 } as [Double?] }
        for scaling in RewardScaling.allCases {
            let a = GroupAdvantages(
                rewardsPerFunction: rows, weights: f["reward_weights"]!.toArray(Double.self), groupSize: 4, scaling: scaling)
            let expected = f["advantages_\(scaling.rawValue)"]!.toArray(Double.self)
            for (x, y) in zip(a.advantages, expected) { XCTAssertEqual(x, y, accuracy: 1e-5 * Swift.max(1, Swift.abs(y)), "\(scaling)") }
        }
    }

    func testLossAndGradientsMatchTRL() throws {
        let f = try Safetensors.read(Self.fixture)
        let temperature = Self.info["temperature"] as! Double
        let promptLength = Self.info["prompt_length"] as! Int
        let gradKeys = Self.info["grad_keys"] as! [String]
        let prompt = f["prompt_ids"]!
        let completion = f["completion_ids"]!
        let mask = f["completion_mask"]!.to(.float32)
        let ids = concatenated([prompt, completion], axis: 1)
        for case let c as [String: Any] in Self.info["cases"] as! [Any] where c["batch"] == nil {
            let name = c["name"] as! String
            let model = try ModelDirectory.load(Self.modelURL)
            model.parameters.setRequiresGrad(true)
            var objective = Self.objective(c)
            objective.maxCompletionLength = completion.size(1)
            let scale = c["scale_rewards"] as? String ?? "group"
            let (logps, entropies) = TokenLogProbs.compute(
                ids: ids, completionLength: completion.size(1), temperature: temperature, chunkRows: 3
            ) { model($0) }
            XCTAssertEqual(logps.shape, [8, completion.size(1)])
            let result = objective.loss(
                logps: logps, oldLogps: (c["old"] as? Bool ?? false) ? f["old_logps"] : nil,
                refLogps: objective.beta != 0 ? f["ref_logps"] : nil, advantages: f["advantages_\(scale)"]!, mask: mask)
            result.loss.backward()
            let expectedLoss = f["\(name).loss"]!.item()
            XCTAssertEqual(result.loss.item(), expectedLoss, accuracy: 1e-5 * Swift.max(1, Swift.abs(expectedLoss)), name)
            for key in gradKeys {
                let got = model.parameters[key]!.grad!
                XCTAssertLessThanOrEqual(relativeError(got, f["\(name).grad.\(key)"]!), 1e-4, "\(name) \(key)")
            }
            let metrics = c["metrics"] as! [String: Double]
            if let e = metrics["entropy"] {
                XCTAssertEqual((entropies * mask).sum().item() / mask.sum().item(), e, accuracy: 1e-4, "\(name) entropy")
            }
            if let kl = metrics["kl"] { XCTAssertEqual(result.kl, kl, accuracy: 1e-5, "\(name) kl") }
            for (key, value) in [
                ("clip_ratio/low_mean", result.clipLow), ("clip_ratio/high_mean", result.clipHigh),
                ("clip_ratio/region_mean", result.clipRegion), ("clip_ratio/low_min", result.clipLowMin),
                ("clip_ratio/high_max", result.clipHighMax),
            ] {
                if let e = metrics[key] { XCTAssertEqual(value, e, accuracy: 1e-6, "\(name) \(key)") }
            }
            _ = promptLength

            // The same loss in row chunks with the batch's normalisers, each back-propagated alone (as the trainer
            // does to bound memory), adds up to the same value and gradients.
            let chunked = try ModelDirectory.load(Self.modelURL)
            chunked.parameters.setRequiresGrad(true)
            var total = 0.0
            for start in stride(from: 0, to: 8, by: 3) {
                let n = Swift.min(3, 8 - start)
                func rows(_ t: Tensor?) -> Tensor? { t?.narrow(axis: 0, start: start, length: n) }
                let (lp, _) = TokenLogProbs.compute(ids: rows(ids)!, completionLength: completion.size(1), temperature: temperature) {
                    chunked($0)
                }
                let part = objective.loss(
                    logps: lp, oldLogps: (c["old"] as? Bool ?? false) ? rows(f["old_logps"]) : nil,
                    refLogps: objective.beta != 0 ? rows(f["ref_logps"]) : nil, advantages: rows(f["advantages_\(scale)"])!,
                    mask: rows(mask)!,
                    activeTokens: mask.sum().item(), sequenceCount: 8)
                part.loss.backward()
                total += part.loss.item()
            }
            XCTAssertEqual(total, expectedLoss, accuracy: 1e-5 * Swift.max(1, Swift.abs(expectedLoss)), "\(name) chunked")
            for key in gradKeys {
                XCTAssertLessThanOrEqual(
                    relativeError(chunked.parameters[key]!.grad!, f["\(name).grad.\(key)"]!), 1e-4, "\(name) chunked \(key)")
            }
        }
    }

    /// The objective a fixture case names (TRL's GRPOConfig defaults for what it leaves out).
    static func objective(_ c: [String: Any]) -> GRPOObjective {
        var objective = GRPOObjective()
        objective.lossType = GRPOLossType(rawValue: c["loss_type"] as! String)!
        objective.epsilon = c["epsilon"] as? Double ?? 0.2
        objective.epsilonHigh = c["epsilon_high"] as? Double
        objective.beta = c["beta"] as? Double ?? 0
        objective.importanceSamplingLevel = ImportanceSamplingLevel(rawValue: c["importance_sampling_level"] as? String ?? "token")!
        objective.useBiasCorrectionKL = c["use_bias_correction_kl"] as? Bool ?? true
        objective.delta = c["delta"] as? Double
        if let m = c["max_completion_length"] as? Int { objective.maxCompletionLength = m }
        return objective
    }

    static func fixtureCase(_ name: String) -> [String: Any] {
        (info["cases"] as! [[String: Any]]).first { $0["name"] as? String == name }!
    }

    /// Ponder's own clip ratios, for the iterated case (old log-probabilities from another policy), equal TRL's and
    /// are not 0: the clipped branch of the objective is what the gradient parity above exercised.
    func testClippingFiresInTheIteratedCase() throws {
        let f = try Safetensors.read(Self.fixture)
        let c = Self.fixtureCase("dapo_iter2")
        let expected = c["metrics"] as! [String: Double]
        let completion = f["completion_ids"]!
        let ids = concatenated([f["prompt_ids"]!, completion], axis: 1)
        let model = try ModelDirectory.load(Self.modelURL)
        var objective = Self.objective(c)
        objective.maxCompletionLength = completion.size(1)
        let result = withNoGrad {
            let (logps, _) = TokenLogProbs.compute(
                ids: ids, completionLength: completion.size(1), temperature: Self.info["temperature"] as! Double
            ) { model($0) }
            return objective.loss(
                logps: logps, oldLogps: f["old_logps"], refLogps: nil, advantages: f["advantages_group"]!,
                mask: f["completion_mask"]!.to(.float32))
        }
        for (key, value) in [
            ("clip_ratio/low_mean", result.clipLow), ("clip_ratio/high_mean", result.clipHigh),
            ("clip_ratio/region_mean", result.clipRegion), ("clip_ratio/high_max", result.clipHighMax),
        ] {
            XCTAssertGreaterThan(value, 0, "Ponder's \(key) in the iterated case")
            XCTAssertEqual(value, expected[key]!, accuracy: 1e-6, key)
        }
        // And the same through the trainer on the padded batch, with two-sided clipping.
        let padded = try paddedRun("padded_dapo_delta")
        XCTAssertGreaterThan(padded.metrics["clip_ratio/region_mean"]!, 0)
        XCTAssertGreaterThan(padded.metrics["clip_ratio/high_max"]!, 0)
    }

    /// Runs a padded-batch fixture case through the trainer: `makeBatch` lays out the groups (prompts of different
    /// lengths left-padded, completions right-padded, the truncated row masked), `logps` scores them with positions
    /// and an attention mask for the padding, and `backward` accumulates the chunked gradients. Returns the loss
    /// `objective.loss` gives on `logps` (the trainer logs no loss), the metrics `backward` returns and the policy.
    func paddedRun(_ name: String) throws
        -> (loss: GRPOLossResult, entropy: Double, metrics: OrderedDictionary<String, Double>, policy: CausalLM)
    {
        let f = try Safetensors.read(Self.fixture)
        let c = Self.fixtureCase(name)
        let promptIds = f["padded.prompt_ids"]!.toArray(Int.self)
        let promptMask = f["padded.prompt_mask"]!.toArray(Int.self)
        let completionIds = f["padded.completion_ids"]!
        let completionMask = f["padded.completion_mask"]!
        let (rows, p, t) = (completionIds.size(0), f["padded.prompt_ids"]!.size(1), completionIds.size(1))
        let ids = completionIds.toArray(Int.self)
        let maskRows = completionMask.toArray(Int.self)
        let advantages = f["padded.advantages"]!.toArray(Double.self)
        let g = 4
        let policy = try ModelDirectory.load(Self.modelURL)
        policy.parameters.setRequiresGrad(true)
        let objective = Self.objective(c)
        var configuration = GRPOTrainer.Configuration.defaults
        configuration.numGenerations = g
        configuration.promptsPerStep = rows / g
        configuration.temperature = Self.info["temperature"] as! Double
        configuration.lossType = objective.lossType
        configuration.epsilon = objective.epsilon
        configuration.epsilonHigh = objective.epsilonHigh
        configuration.beta = objective.beta
        configuration.importanceSamplingLevel = objective.importanceSamplingLevel
        configuration.useBiasCorrectionKL = objective.useBiasCorrectionKL
        configuration.delta = objective.delta
        configuration.maxCompletionLength = objective.maxCompletionLength
        configuration.maskTruncatedCompletions = true
        configuration.chunkRows = 3
        let trainer = try GRPOTrainer(
            configuration: configuration, policy: policy,
            rollouts: Engine(
                model: policy, tokenizer: try Tokenizer.load(directory: Self.modelURL), template: nil, name: "policy",
                options: .init(prefixCacheBytes: 0)),
            task: TaskFormat(name: "test", style: .plain), problems: grpoProblems, rewards: [WeightedReward(DigitShareReward())],
            reference: objective.beta != 0 ? policy : nil)
        let groups = (0..<(rows / g)).map { k in
            let r0 = k * g
            let prompt = (0..<p).filter { promptMask[r0 * p + $0] == 1 }.map { promptIds[r0 * p + $0] }
            let completions = (r0..<(r0 + g)).map { r in
                let tokens = (0..<t).map { ids[r * t + $0] }.filter { $0 != 0 }
                // A row with no active token is a truncated completion that mask_truncated_completions masks.
                let masked = (0..<t).allSatisfy { maskRows[r * t + $0] == 0 }
                return Completion(text: "", tokens: tokens, stop: masked ? .length(inThinking: false) : .endOfSequence(token: 0))
            }
            return GRPOTrainer.Group(
                problem: grpoProblems[k], prompt: prompt, completions: completions, rewardsPerFunction: [],
                advantages: Array(advantages[r0..<(r0 + g)]))
        }
        var batch = trainer.makeBatch(groups)
        XCTAssertEqual(batch.ids.toArray(Int.self), concatenated([f["padded.prompt_ids"]!, completionIds], axis: 1).toArray(Int.self))
        XCTAssertEqual(batch.mask.toArray(Double.self), completionMask.to(.float32).toArray(Double.self))
        XCTAssertEqual(batch.completionLength, t)
        XCTAssertLessThan(t, objective.maxCompletionLength, "T below max_completion_length: Dr. GRPO's normaliser is not B × T")
        batch.oldLogps = (c["old"] as? Bool ?? false) ? f["padded.old_logps"] : nil
        batch.refLogps = objective.beta != 0 ? f["padded.ref_logps"] : nil
        var lossObjective = trainer.configuration.objective
        lossObjective.epsilonHigh = lossObjective.epsilonHigh ?? lossObjective.epsilon
        let (loss, entropy) = withNoGrad { () -> (GRPOLossResult, Double) in
            let (logps, entropies) = trainer.logps(policy, batch)
            let result = lossObjective.loss(
                logps: logps, oldLogps: batch.oldLogps, refLogps: batch.refLogps, advantages: batch.advantages, mask: batch.mask)
            return (result, (entropies * batch.mask).sum().item() / batch.mask.sum().item())
        }
        let metrics = try trainer.backward(batch)
        return (loss, entropy, metrics, policy)
    }

    /// The padded batch (left-padded prompts of different lengths, T below max_completion_length, a fully masked row)
    /// through the trainer's own path, for every case: loss, metrics and gradients equal TRL's.
    func testPaddedBatchThroughTheTrainerMatchesTRL() throws {
        let f = try Safetensors.read(Self.fixture)
        let gradKeys = Self.info["grad_keys"] as! [String]
        let names = (Self.info["cases"] as! [[String: Any]]).filter { $0["batch"] as? String == "padded" }.map { $0["name"] as! String }
        XCTAssertGreaterThanOrEqual(names.count, 5)
        for name in names {
            let run = try paddedRun(name)
            let expectedLoss = f["\(name).loss"]!.item()
            XCTAssertEqual(run.loss.loss.item(), expectedLoss, accuracy: 1e-5 * Swift.max(1, Swift.abs(expectedLoss)), name)
            for key in gradKeys {
                let error = relativeError(run.policy.parameters[key]!.grad!, f["\(name).grad.\(key)"]!)
                XCTAssertLessThanOrEqual(error, 1e-4, "\(name) \(key)")
            }
            let expected = Self.fixtureCase(name)["metrics"] as! [String: Double]
            XCTAssertEqual(run.entropy, expected["entropy"]!, accuracy: 1e-4, "\(name) entropy")
            XCTAssertEqual(run.metrics["entropy"]!, expected["entropy"]!, accuracy: 1e-4, "\(name) trainer entropy")
            if let kl = expected["kl"] {
                XCTAssertEqual(run.loss.kl, kl, accuracy: 1e-5, "\(name) kl")
                XCTAssertEqual(run.metrics["kl"]!, kl, accuracy: 1e-5, "\(name) trainer kl")
            }
            for (key, value) in [
                ("clip_ratio/low_mean", run.loss.clipLow), ("clip_ratio/high_mean", run.loss.clipHigh),
                ("clip_ratio/region_mean", run.loss.clipRegion), ("clip_ratio/low_min", run.loss.clipLowMin),
                ("clip_ratio/high_max", run.loss.clipHighMax),
            ] {
                guard let e = expected[key] else { continue }
                XCTAssertEqual(value, e, accuracy: 1e-6, "\(name) \(key)")
                XCTAssertEqual(run.metrics[key]!, e, accuracy: 1e-6, "\(name) trainer \(key)")
            }
        }
    }

    func testPretrainingStepMatchesPyTorch() throws {
        let f = try Safetensors.read(Self.fixture)
        let model = try ModelDirectory.load(Self.modelURL)
        model.parameters.setRequiresGrad(true)
        let ids = f["pretrain.ids"]!
        let t = ids.size(1)
        let logits = model(ids.narrow(axis: 1, start: 0, length: t - 1))
        let loss = crossEntropy(
            logits: logits.reshaped(-1, logits.size(-1)), target: ids.narrow(axis: 1, start: 1, length: t - 1).reshaped(-1))
        loss.backward()
        XCTAssertEqual(loss.item(), f["pretrain.loss"]!.item(), accuracy: 1e-5)
        for key in Self.info["grad_keys"] as! [String] {
            XCTAssertLessThanOrEqual(relativeError(model.parameters[key]!.grad!, f["pretrain.grad.\(key)"]!), 1e-4, key)
        }
    }
}
