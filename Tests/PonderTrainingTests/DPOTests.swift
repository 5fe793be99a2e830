import Foundation
import OrderedCollections
import PonderCore
import PonderModels
import PonderTokenizers
import Torch
import XCTest

@testable import PonderTraining

/// Ponder's DPO against TRL 1.16's DPOTrainer (scripts/fixtures/make_dpo_fixtures.py), and the trainer end to end.
final class DPOTests: XCTestCase {
    static let fixture = Bundle.module.url(forResource: "Fixtures/dpo_parity", withExtension: "safetensors")!
    nonisolated(unsafe) static let info =
        try! JSONSerialization.jsonObject(
            with: Data(contentsOf: Bundle.module.url(forResource: "Fixtures/dpo_parity", withExtension: "json")!)) as! [String: Any]

    func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let diff = (a.to(.float64) - b.to(.float64)).abs().max().item()
        return diff / Swift.max(b.to(.float64).abs().max().item(), 1e-12)
    }

    static func objective(_ c: [String: Any]) -> DPOObjective {
        var o = DPOObjective()
        o.lossType = DPOLossType(rawValue: c["loss_type"] as! String)!
        o.beta = c["beta"] as! Double
        o.labelSmoothing = c["label_smoothing"] as? Double ?? 0
        return o
    }

    /// The fixture's pairs as token ids, read back from TRL's collated rows.
    static func fixturePairs(_ f: OrderedDictionary<String, Tensor>) -> [DPOTrainer.EncodedPair] {
        let b = info["pairs"] as! Int
        let ids = f["input_ids"]!.toArray(Int.self)
        let attention = f["attention_mask"]!.toArray(Int.self)
        let completion = f["completion_mask"]!.toArray(Int.self)
        let width = f["input_ids"]!.size(1)
        func row(_ r: Int) -> (prompt: [Int], completion: [Int]) {
            let range = (r * width)..<((r + 1) * width)
            let real = range.filter { attention[$0] == 1 }
            return (real.filter { completion[$0] == 0 }.map { ids[$0] }, real.filter { completion[$0] == 1 }.map { ids[$0] })
        }
        return (0..<b).map { i in
            let (p, c) = row(i)
            let (p2, r) = row(b + i)
            precondition(p == p2)
            return DPOTrainer.EncodedPair(prompt: p, chosen: c, rejected: r)
        }
    }

    func testLossOnGivenLogProbabilitiesMatchesTRL() throws {
        let f = try Safetensors.read(Self.fixture)
        let b = Self.info["pairs"] as! Int
        let mask = f["completion_mask"]!.to(.float32)
        let counts = mask.sum(axis: 1)
        for case let c as [String: Any] in Self.info["cases"] as! [Any] where (c["mode"] as! String) == "given" {
            let name = c["name"] as! String
            let given = f["given_token_logps"]!.to(.float32).clone()
            given.requiresGrad = true
            // As the trainer does: only positions whose next token is a completion token count.
            let shifted = mask.narrow(axis: 1, start: 1, length: mask.size(1) - 1)
            let sums = (given * shifted).sum(axis: 1)
            let result = Self.objective(c).loss(
                chosenLogps: sums.narrow(axis: 0, start: 0, length: b), rejectedLogps: sums.narrow(axis: 0, start: b, length: b),
                refChosenLogps: f["ref_chosen_logps"]!, refRejectedLogps: f["ref_rejected_logps"]!,
                chosenTokens: counts.narrow(axis: 0, start: 0, length: b), rejectedTokens: counts.narrow(axis: 0, start: b, length: b))
            result.loss.backward()
            let expected = f["\(name).loss"]!.item()
            XCTAssertEqual(result.loss.item(), expected, accuracy: 1e-5 * Swift.max(1, abs(expected)), name)
            XCTAssertLessThanOrEqual(relativeError(given.grad!, f["\(name).grad.token_logps"]!), 1e-5, name)
            for (k, v) in c["metrics"] as! [String: Double] {
                XCTAssertEqual(result.metrics[k]!, v, accuracy: 1e-5 * Swift.max(1, abs(v)), "\(name) \(k)")
            }
        }
    }

    func testLossAndGradientsOnTheTinyModelMatchTRL() throws {
        let f = try Safetensors.read(Self.fixture)
        let pairs = Self.fixturePairs(f)
        let gradKeys = Self.info["grad_keys"] as! [String]
        for case let c as [String: Any] in Self.info["cases"] as! [Any] where (c["mode"] as! String) == "model" {
            let name = c["name"] as! String
            let model = try ModelDirectory.load(fixtureModel)
            model.parameters.setRequiresGrad(true)
            let trainer = DPOTrainer(configuration: .defaults, policy: model, pairs: pairs, reference: nil)
            let s = trainer.sequenceLogps(model, Array(pairs.indices))
            let result = Self.objective(c).loss(
                chosenLogps: s.chosen, rejectedLogps: s.rejected, refChosenLogps: f["ref_chosen_logps"]!,
                refRejectedLogps: f["ref_rejected_logps"]!, chosenTokens: s.chosenTokens, rejectedTokens: s.rejectedTokens)
            result.loss.backward()
            let expected = f["\(name).loss"]!.item()
            XCTAssertEqual(result.loss.item(), expected, accuracy: 1e-5 * Swift.max(1, abs(expected)), name)
            for key in gradKeys {
                XCTAssertLessThanOrEqual(relativeError(model.parameters[key]!.grad!, f["\(name).grad.\(key)"]!), 1e-4, "\(name) \(key)")
            }
            for (k, v) in c["metrics"] as! [String: Double] {
                XCTAssertEqual(result.metrics[k]!, v, accuracy: 1e-4 * Swift.max(1, abs(v)), "\(name) \(k)")
            }
        }
    }

    func testConfigurationErrorsNameTheKnob() {
        var o = DPOObjective()
        o.labelSmoothing = 0.1
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0.localizedDescription)".contains("robust")) }
        o.lossType = .robust
        XCTAssertNoThrow(try o.validate())
        o.labelSmoothing = 0.5
        XCTAssertThrowsError(try o.validate())
        o.lossType = .exoPair
        o.labelSmoothing = 0
        XCTAssertThrowsError(try o.validate())
        o = DPOObjective()
        o.beta = 0
        XCTAssertThrowsError(try o.validate())
    }

    func testPreferenceFileFormatsAndErrors() throws {
        let dir = temporaryDirectory("prefs")
        let good = dir.appendingPathComponent("good.jsonl")
        try """
        {"prompt": "What is 2+2?", "chosen": " 4", "rejected": " 5"}
        {"prompt": [{"role": "user", "content": "Hi"}], "chosen": [{"role": "assistant", "content": "Hello"}], "rejected": [{"role": "assistant", "content": "Go away"}]}
        """.write(to: good, atomically: true, encoding: .utf8)
        let pairs = try PreferenceExample.load(good)
        XCTAssertEqual(pairs[0], PreferenceExample(prompt: .text("What is 2+2?"), chosen: " 4", rejected: " 5"))
        XCTAssertEqual(pairs[1], PreferenceExample(prompt: .chat([.user("Hi")]), chosen: "Hello", rejected: "Go away"))
        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"prompt\": \"a\", \"chosen\": \"b\"}\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try PreferenceExample.load(bad)) {
            let message = $0.localizedDescription
            XCTAssertTrue(message.contains("bad.jsonl:1") && message.contains("\"rejected\""), message)
        }
    }

    /// A tiny policy learns to prefer the chosen completions; metrics carry TRL's names; a precomputed reference
    /// survives an interruption, and the resumed run ends with the uninterrupted run's weights.
    func testTrainingPrefersChosenAndResumesExactly() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = (0..<8).map {
            PreferenceExample(
                prompt: .text("Question \($0): what is \($0) + 1?"), chosen: " The answer is \($0 + 1).", rejected: " No idea.")
        }
        var c = DPOTrainer.Configuration.defaults
        c.training.steps = 6
        c.training.learningRate = 3e-3
        c.training.decay = .constant
        c.training.saveEvery = 3
        c.batchSize = 4
        c.precomputeRefLogProbs = true
        func trainer() throws -> DPOTrainer {
            let policy = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 3)
            return try DPOTrainer(configuration: c, policy: policy, tokenizer: tokenizer, template: nil, examples: examples, endToken: 0)
        }
        let straight = try RunDirectory(temporaryDirectory("dpo-straight"))
        var reports: [StepReport] = []
        _ = try await trainer().train(run: straight) { reports.append($0) }
        for key in [
            "loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen", "logps/rejected",
        ] {
            XCTAssertNotNil(reports.last!.metrics[key], key)
        }
        // At step 1 the policy is the reference: every reward is 0 and the sigmoid loss is log 2.
        XCTAssertEqual(reports[0].metrics["loss"]!, log(2), accuracy: 1e-5)
        XCTAssertEqual(reports[0].metrics["rewards/margins"]!, 0, accuracy: 1e-6)
        XCTAssertGreaterThan(reports.last!.metrics["rewards/margins"]!, 0.05)
        XCTAssertLessThan(reports.last!.metrics["loss"]!, log(2) - 0.02)
        XCTAssertTrue(FileManager.default.fileExists(atPath: straight.url.appendingPathComponent("ref_logps.json").path))

        let broken = try RunDirectory(temporaryDirectory("dpo-broken"))
        let interrupt = InterruptFlag()
        _ = try await trainer().train(run: broken, interrupt: interrupt) { if $0.step == 3 { interrupt.set() } }
        let finished = try await trainer().train(run: broken, resume: true)
        XCTAssertEqual(finished, 6)
        let a = try Data(contentsOf: straight.checkpointsURL.appendingPathComponent("step-6/model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-6/model.safetensors"))
        XCTAssertEqual(a, b, "resumed weights equal uninterrupted weights")
    }

    func testReferenceModelEqualsPrecomputedReference() throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = (0..<3).map { PreferenceExample(prompt: .text("Q\($0)?"), chosen: " yes \($0)", rejected: " no") }
        let config = try ModelDirectory.configuration(at: fixtureModel)
        var c = DPOTrainer.Configuration.defaults
        c.batchSize = 2
        let withModel = try DPOTrainer(
            configuration: c, policy: try CausalLM(configuration: config, seed: 1), tokenizer: tokenizer, template: nil, examples: examples,
            endToken: 0, reference: try CausalLM(configuration: config, seed: 1))
        let precomputed = withModel.precomputeReferenceLogps()
        XCTAssertEqual(precomputed.count, 3)
        let (chosen, rejected) = withModel.referenceLogps([2, 0], precomputed: nil)
        XCTAssertEqual(chosen.toArray(Double.self)[0], precomputed[2][0], accuracy: 1e-4)
        XCTAssertEqual(rejected.toArray(Double.self)[1], precomputed[0][1], accuracy: 1e-4)
        XCTAssertThrowsError(
            try DPOTrainer(
                configuration: .defaults, policy: try CausalLM(configuration: config, seed: 1), tokenizer: tokenizer, template: nil,
                examples: examples, endToken: 0))
    }
}
