import Foundation
import OrderedCollections
import PonderModels
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
        for case let c as [String: Any] in Self.info["cases"] as! [Any] {
            let name = c["name"] as! String
            let model = try ModelDirectory.load(Self.modelURL)
            model.parameters.setRequiresGrad(true)
            var objective = GRPOObjective()
            objective.lossType = GRPOLossType(rawValue: c["loss_type"] as! String)!
            objective.epsilon = c["epsilon"] as? Double ?? 0.2
            objective.epsilonHigh = c["epsilon_high"] as? Double
            objective.beta = c["beta"] as? Double ?? 0
            objective.importanceSamplingLevel = ImportanceSamplingLevel(rawValue: c["importance_sampling_level"] as? String ?? "token")!
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
                ("clip_ratio/region_mean", result.clipRegion),
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

    func testClippingFiresInTheIteratedCase() throws {
        let cases = Self.info["cases"] as! [[String: Any]]
        let iterated = cases.first { $0["name"] as? String == "dapo_iter2" }!["metrics"] as! [String: Double]
        XCTAssertGreaterThan(iterated["clip_ratio/region_mean"]!, 0, "the fixture exercises clipping")
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
