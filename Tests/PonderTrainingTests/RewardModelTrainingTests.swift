import Foundation
import PonderCore
import PonderModels
import PonderSearch
import PonderTasks
import PonderTokenizers
import Torch
import XCTest

@testable import PonderTraining

/// Reward-model losses against TRL (scripts/fixtures/make_reward_model_fixtures.py, make_prm_rows.py), metrics, the
/// data builders, and training end to end.
final class RewardModelParityTests: XCTestCase {
    static let tensors = try! Safetensors.read(Bundle.module.url(forResource: "Fixtures/reward_parity", withExtension: "safetensors")!)
    nonisolated(unsafe) static let info =
        try! JSONSerialization.jsonObject(
            with: Data(contentsOf: Bundle.module.url(forResource: "Fixtures/reward_parity", withExtension: "json")!)) as! [String: Any]
    nonisolated(unsafe) static let prmRows =
        try! JSONSerialization.jsonObject(
            with: Data(contentsOf: Bundle.module.url(forResource: "Fixtures/prm_rows", withExtension: "json")!)) as! [String: Any]
    static let gradKeys = ["score.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight"]

    func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        (a.to(.float64) - b.to(.float64)).abs().max().item() / Swift.max(b.to(.float64).abs().max().item(), 1e-12)
    }

    /// The tiny-qwen2 decoder under `head`, with the head weights TRL's run used.
    func model(_ head: ModelHead, _ prefix: String) throws -> CausalLM {
        let m = try ModelDirectory.load(fixtureModel).withHead(head, padTokenId: 0, seed: 0)
        // Copies: gradients accumulate on the tensor, and the fixture's tensors are shared between cases.
        m.parameters["score.weight"] = Self.tensors["\(prefix).score.weight"]!.clone()
        if let bias = Self.tensors["\(prefix).score.bias"] { m.parameters["score.bias"] = bias.clone() }
        m.bindWeights()
        m.parameters.setRequiresGrad(true)
        return m
    }

    func testBradleyTerryLossAndGradientsMatchTRLRewardTrainer() throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: "<|im_end|>")
        let rows = (Self.info["rows"] as! [[String: String]])
        let margins = Self.info["margins"] as! [Double]
        let cases = Self.info["cases"] as! [String: [String: Any]]
        for (name, withMargin) in [("plain", false), ("margin", true)] {
            let c = cases[name]!
            let pairs = rows.enumerated().map { i, r in
                PreferencePair(prompt: r["prompt"]!, chosen: r["chosen"]!, rejected: r["rejected"]!, margin: withMargin ? margins[i] : nil)
            }
            // The data path: TRL's tokenization (EOS appended) gives the same ids.
            for (i, p) in pairs.enumerated() {
                XCTAssertEqual(
                    encoder.outcomeIDs(prompt: p.prompt, completion: p.chosen), (c["chosen_ids"] as! [[Int]])[i], "\(name) chosen \(i)")
                XCTAssertEqual(
                    encoder.outcomeIDs(prompt: p.prompt, completion: p.rejected), (c["rejected_ids"] as! [[Int]])[i],
                    "\(name) rejected \(i)")
            }
            var configuration = RewardModelTrainer.Configuration.defaults
            configuration.centerRewardsCoefficient = Self.info["center_rewards_coefficient"] as? Double
            configuration.evalFraction = 0
            let network = try model(.sequenceClassification(labels: 1), "orm")
            let trainer = try RewardModelTrainer(configuration: configuration, model: network, encoder: encoder, data: .pairs(pairs))
            let (loss, _) = trainer.loss(trainer.train)
            loss.backward()
            XCTAssertEqual(loss.item(), c["loss"] as! Double, accuracy: 1e-5, name)
            for key in Self.gradKeys {
                XCTAssertLessThanOrEqual(
                    relativeError(network.parameters[key]!.grad!, Self.tensors["\(name).grad.\(key)"]!), 1e-4, "\(name) \(key)")
            }
        }
    }

    func testStepLayoutMatchesTRLPRMTrainerAndLossMatchesTransformers() throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: nil, stepSeparator: Self.prmRows["step_separator"] as! String)
        let rows = Self.prmRows["rows"] as! [[String: Any]]
        var examples: [StepExample] = []
        for r in rows {
            let steps = r["completions"] as! [String]
            let labels = (r["step_labels"] as! [Bool]).map { $0 ? 1.0 : 0.0 }
            let (ids, ends) = encoder.stepIDs(prompt: r["prompt"] as! String, steps: steps)
            XCTAssertEqual(ids, r["input_ids"] as! [Int], "TRL 0.19.1 tokenize_row ids")
            let trlLabels = r["labels"] as! [Int]
            XCTAssertEqual(trlLabels.indices.filter { trlLabels[$0] != -100 }, ends, "labelled positions")
            XCTAssertEqual(ends.map { Double(trlLabels[$0]) }, labels)
            examples.append(StepExample(prompt: r["prompt"] as! String, completions: steps, labels: labels))
        }
        var configuration = RewardModelTrainer.Configuration.defaults
        configuration.evalFraction = 0
        configuration.classifierDropout = 0  // the oracle ran in eval mode
        let network = try model(.tokenClassification(labels: 2, bias: true), "prm")
        let trainer = try RewardModelTrainer(configuration: configuration, model: network, encoder: encoder, data: .steps(examples))
        let (loss, _) = trainer.loss(trainer.train)
        loss.backward()
        let expected = (Self.info["prm"] as! [String: Double])["loss"]!
        XCTAssertEqual(loss.item(), expected, accuracy: 1e-5)
        for key in Self.gradKeys + ["score.bias"] {
            XCTAssertLessThanOrEqual(relativeError(network.parameters[key]!.grad!, Self.tensors["prm.grad.\(key)"]!), 1e-4, key)
        }
    }

    func testLossFormulas() {
        let c = Tensor([Float(2), -1], shape: [2])
        let r = Tensor([Float(0), 1], shape: [2])
        // −log σ(2) and −log σ(−2), then the centring term 0.1 · mean(2², 0²).
        let expected = (log1p(exp(-2.0)) + log1p(exp(2.0))) / 2 + 0.1 * 2
        XCTAssertEqual(RewardLoss.bradleyTerry(chosen: c, rejected: r, centerRewardsCoefficient: 0.1).item(), expected, accuracy: 1e-6)
        // Large differences stay finite.
        XCTAssertEqual(
            RewardLoss.bradleyTerry(chosen: Tensor([Float(-200)], shape: [1]), rejected: Tensor([Float(0)], shape: [1])).item(), 200,
            accuracy: 1e-3)
        let bce = RewardLoss.pointwise(logits: Tensor([Float(0), 3], shape: [2]), labels: Tensor([Float(1), 0], shape: [2])).item()
        XCTAssertEqual(bce, (log(2.0) + log1p(exp(3.0))) / 2, accuracy: 1e-6)
    }

    func testMetrics() {
        XCTAssertEqual(RewardMetrics.rocAUC([0.9, 0.8, 0.3, 0.1], [true, true, false, false]), 1)
        XCTAssertEqual(RewardMetrics.rocAUC([0.1, 0.8, 0.3, 0.9], [true, true, false, false]), 0.25, "one of four pairs ordered")
        XCTAssertEqual(RewardMetrics.rocAUC([0.5, 0.5], [true, false]), 0.5, "ties count half")
        XCTAssertNil(RewardMetrics.rocAUC([0.5, 0.7], [true, true]))
        // Two bins used: p 0.95 with labels (1, 1) → |1 − 0.95|; p 0.25 with labels (1, 0) → |0.5 − 0.25|.
        XCTAssertEqual(RewardMetrics.ece([0.95, 0.95, 0.25, 0.25], [true, true, true, false]), 0.5 * 0.05 + 0.5 * 0.25, accuracy: 1e-12)
        let m = RewardMetrics.of(probabilities: [0.9, 0.2, 0.6], labels: [true, false, false])
        XCTAssertEqual(m.accuracy, 2.0 / 3, accuracy: 1e-12)
    }
}

/// A policy that answers "Compute 2+3." from scripts: fresh samples alternate a right and a wrong first step; from a
/// prefix with the right step, even completions reach 5 and odd ones say 4; from the wrong step, always 6.
final class ArithmeticRollouts: RolloutSource, @unchecked Sendable {
    let name = "scripted"
    let weightSync = WeightSync.shared
    private let lock = NSLock()
    private(set) var requests: [CompletionRequest] = []

    func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        lock.withLock { self.requests += requests }
        return requests.map { r in
            let texts = (0..<r.parameters.n).map { k -> String in
                if r.continuation.isEmpty {
                    return k % 2 == 0 ? "2 + 3 = 5\n\nso it is 5\n\n<answer>5</answer>" : "2 + 3 = 6\n\n<answer>6</answer>"
                }
                if r.continuation.contains("= 6") { return "<answer>6</answer>" }
                return k % 2 == 0 ? "<answer>5</answer>" : "<answer>4</answer>"
            }
            return CompletionResponse(completions: texts.map { Completion(text: $0, stop: .endOfSequence(token: 0)) }, usage: Usage())
        }
    }

    func weightsUpdated(directory: String?) async throws {}
}

final class RewardDataTests: XCTestCase {
    let problem = Problem(id: "p1", prompt: "Compute 2+3.", answer: "5")
    let task = TaskFormat(name: "arithmetic", style: .tagged)

    func testMathShepherdHardAndSoftStepLabels() async throws {
        let rollouts = ArithmeticRollouts()
        let builder = RewardDataBuilder(rollouts: rollouts, task: task, parameters: SamplingParameters(), samples: 2, completionsPerStep: 4)
        let records = try await builder.stepLabels(for: problem)
        XCTAssertEqual(records.count, 2)
        XCTAssertEqual(records[0].completions, ["2 + 3 = 5", "so it is 5", "<answer>5</answer>"])
        XCTAssertEqual(records[0].softLabels, [0.5, 0.5, 1], "half the completions from each right prefix reach 5")
        XCTAssertEqual(records[0].labels, [true, true, true])
        XCTAssertEqual(records[1].completions, ["2 + 3 = 6", "<answer>6</answer>"])
        XCTAssertEqual(records[1].labels, [false, false])
        XCTAssertEqual(records[0].prompt, task.prompt(for: problem).rewardModelText)
        // One sampling request, then one batch of step prefixes (each ending with the delimiter), N completions each.
        let prefixes = rollouts.requests.dropFirst().map(\.continuation)
        XCTAssertEqual(prefixes, ["2 + 3 = 5\n\n", "2 + 3 = 5\n\nso it is 5\n\n", "2 + 3 = 6\n\n"])
        XCTAssertEqual(Set(rollouts.requests.dropFirst().map(\.parameters.n)), [4])
        // The TRL stepwise layout round-trips through the reader.
        let url = temporaryDirectory("prm-data").appendingPathComponent("steps.jsonl")
        let lines = try records.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        guard case .steps(let hard) = try RewardData.read(url, layout: .steps),
            case .steps(let soft) = try RewardData.read(url, layout: .steps, softLabels: true)
        else { return XCTFail("not steps") }
        XCTAssertEqual(hard[0].labels, [1, 1, 1])
        XCTAssertEqual(soft[0].labels, [0.5, 0.5, 1])
    }

    func testStepLabelsNeedAReference() async throws {
        let builder = RewardDataBuilder(rollouts: ArithmeticRollouts(), task: task, parameters: SamplingParameters())
        do {
            _ = try await builder.stepLabels(for: Problem(id: "q", prompt: "Compute 2+3.", answer: nil))
            XCTFail("no error")
        } catch { XCTAssertTrue(error.localizedDescription.contains("q"), error.localizedDescription) }
    }

    func testPreferencesPairVerifiedWithFailedSamples() async throws {
        let builder = RewardDataBuilder(rollouts: ArithmeticRollouts(), task: task, parameters: SamplingParameters(), samples: 5)
        let graded = try await builder.outcomes(for: problem)
        XCTAssertEqual(graded.map(\.label), [true, false, true, false, true])
        let pairs = RewardDataBuilder.preferences(from: graded)
        XCTAssertEqual(pairs.count, 2)
        for p in pairs {
            XCTAssertTrue(p.chosen.hasSuffix("<answer>5</answer>"))
            XCTAssertTrue(p.rejected.hasSuffix("<answer>6</answer>"))
        }
        XCTAssertTrue(RewardDataBuilder.preferences(from: graded.filter(\.label)).isEmpty, "no failed sample, no pair")
    }

    func testBadDataFilesNameTheLine() throws {
        let url = temporaryDirectory("rm-bad").appendingPathComponent("steps.jsonl")
        try #"{"prompt": "q", "completions": ["a", "b"], "labels": [true]}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RewardData.read(url, layout: .steps)) {
            XCTAssertTrue($0.localizedDescription.contains(":1"), $0.localizedDescription)
        }
        try #"{"prompt": "q", "chosen": "a"}"#.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RewardData.read(url, layout: .pairs)) {
            XCTAssertTrue($0.localizedDescription.contains("rejected"), $0.localizedDescription)
        }
    }
}

/// Training end to end on separable synthetic data: a fresh tiny model learns to prefer the right texts, its
/// checkpoints are reward-model directories, and the search scorer over it ranks right above wrong.
final class RewardModelTrainingTests: XCTestCase {
    func tinyBase() throws -> CausalLM {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let c = ModelConfiguration(
            family: .llama, vocabularySize: tokenizer.vocabularySize, hiddenSize: 32, intermediateSize: 64, layerCount: 1, headCount: 2,
            maxPositionEmbeddings: 128, tieWordEmbeddings: true, eosTokenIds: [2])
        return try CausalLM(configuration: c, seed: 5)
    }

    func configuration(steps: Int) -> RewardModelTrainer.Configuration {
        var c = RewardModelTrainer.Configuration.defaults
        c.training.steps = steps
        c.training.learningRate = 3e-3
        c.training.warmupSteps = 0
        c.training.saveEvery = steps
        c.batchSize = 8
        c.evalFraction = 0.25
        return c
    }

    func testOutcomeModelLearnsToPreferRightAnswersAndScoresThemHigher() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: "<|im_end|>")
        let pairs = (0..<32).map { i in
            PreferencePair(prompt: "Question \(i): what is \(i) + 1? ", chosen: "The answer is right.", rejected: "The answer is wrong.")
        }
        let network = try tinyBase().withHead(.sequenceClassification(labels: 1), padTokenId: 0, seed: 1)
        let trainer = try RewardModelTrainer(configuration: configuration(steps: 30), model: network, encoder: encoder, data: .pairs(pairs))
        let before = trainer.evaluate()!
        let run = try RunDirectory(temporaryDirectory("orm-run"))
        let last = try await trainer.train(
            run: run,
            tokenizerFiles: [
                fixtureModel.appendingPathComponent("tokenizer.json"), fixtureModel.appendingPathComponent("tokenizer_config.json"),
            ])
        XCTAssertEqual(last, 30)
        let after = trainer.evaluate()!
        XCTAssertEqual(after.accuracy, 1, "held-out pairs ordered (before: \(before.accuracy))")
        XCTAssertLessThan(after.loss, before.loss)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.url.appendingPathComponent("eval.json").path))
        // The last checkpoint is a reward-model directory the scorer loads; it never sees the reference (nil here).
        let checkpoint = run.checkpoints().last!.url
        let loaded = try RewardModel.load(checkpoint)
        XCTAssertEqual(loaded.kind, .outcome)
        let scorer = RewardModelScorer(model: loaded)
        let context = ScoringContext(
            question: Question(id: "new", prompt: "what is 40 + 1?"), prompt: .text("Question 40: what is 40 + 1? "))
        let scores = try await scorer.scoreOutcomes(["The answer is wrong.", "The answer is right."], in: context).scores
        XCTAssertGreaterThan(scores[1], scores[0])
    }

    func testProcessModelFindsTheBadStep() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: nil, stepSeparator: "\n")
        let examples = (0..<32).map { i in
            i % 2 == 0
                ? StepExample(prompt: "Question \(i)\n", completions: ["good step", "good step", "good step"], labels: [1, 1, 1])
                : StepExample(prompt: "Question \(i)\n", completions: ["good step", "bad step", "good step"], labels: [1, 0, 0])
        }
        let network = try tinyBase().withHead(.tokenClassification(labels: 2, bias: true), padTokenId: 0, seed: 1)
        let trainer = try RewardModelTrainer(
            configuration: configuration(steps: 30), model: network, encoder: encoder, data: .steps(examples))
        let run = try RunDirectory(temporaryDirectory("prm-run"))
        _ = try await trainer.train(
            run: run,
            tokenizerFiles: [
                fixtureModel.appendingPathComponent("tokenizer.json"), fixtureModel.appendingPathComponent("tokenizer_config.json"),
            ])
        let metrics = trainer.evaluate()!
        XCTAssertGreaterThan(metrics.rocAUC ?? 0, 0.9)
        let loaded = try RewardModel.load(run.checkpoints().last!.url)
        XCTAssertEqual(loaded.kind, .process)
        XCTAssertEqual(loaded.encoder.stepSeparator, "\n", "reward_model.json carries the separator")
        let context = ScoringContext(question: Question(id: "new", prompt: "Question 99"), prompt: .text("Question 99\n"))
        for aggregation in [StepAggregation.min, .product, .mean] {
            let scorer = RewardModelScorer(model: loaded, delimiter: "\n\n", aggregation: aggregation)
            let scores = try await scorer.scoreOutcomes(
                ["good step\n\ngood step\n\ngood step", "good step\n\nbad step\n\ngood step"], in: context
            ).scores
            XCTAssertGreaterThan(scores[0], scores[1], "\(aggregation)")
        }
        let prefixScores = try await RewardModelScorer(model: loaded).scorePrefixes(
            ["good step\n\n", "good step\n\nbad step\n\n"], in: context
        ).scores
        XCTAssertGreaterThan(prefixScores[0], prefixScores[1])
    }
}

extension RewardModelTrainingTests {
    /// A reward-model run interrupted and resumed ends with the same weights as one run straight through.
    func testResumedRunMatchesAStraightRun() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: nil, stepSeparator: "\n")
        let examples = (0..<12).map { i in
            StepExample(
                prompt: "Question \(i)\n", completions: ["step \(i)", i % 3 == 0 ? "bad" : "good"], labels: [1, i % 3 == 0 ? 0 : 0.75])
        }
        func trainer(steps: Int) throws -> RewardModelTrainer {
            var c = configuration(steps: steps)
            c.training.saveEvery = 2
            c.batchSize = 4
            let network = try tinyBase().withHead(.tokenClassification(labels: 2, bias: true), padTokenId: 0, seed: 1)
            return try RewardModelTrainer(configuration: c, model: network, encoder: encoder, data: .steps(examples))
        }
        let straight = try trainer(steps: 4)
        _ = try await straight.train(run: try RunDirectory(temporaryDirectory("rm-straight")))
        let dir = temporaryDirectory("rm-resumed")
        let interrupt = InterruptFlag()
        let stopped = try await trainer(steps: 4).train(run: try RunDirectory(dir), interrupt: interrupt) {
            if $0.step == 2 { interrupt.set() }
        }
        XCTAssertEqual(stopped, 2)
        let resumed = try trainer(steps: 4)
        let last = try await resumed.train(run: try RunDirectory(dir), resume: true)
        XCTAssertEqual(last, 4)
        for (key, t) in straight.model.parameters.tensors {
            XCTAssertEqual((t.to(.float64) - resumed.model.parameters[key]!.to(.float64)).abs().max().item(), 0, key)
        }
    }
}

extension RewardModelTrainingTests {
    func testHeldOutDataReplacesTheSplit() throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: nil)
        let train = (0..<8).map { StepExample(prompt: "Q\($0)\n", completions: ["a", "b"], labels: [1, 0]) }
        let heldOut = [StepExample(prompt: "H\n", completions: ["a", "b", "c"], labels: [1, 0, 1])]
        let network = try tinyBase().withHead(.tokenClassification(labels: 2, bias: true), padTokenId: 0, seed: 1)
        let trainer = try RewardModelTrainer(
            configuration: configuration(steps: 1), model: network, encoder: encoder, data: .steps(train), evalData: .steps(heldOut))
        XCTAssertEqual(trainer.train.count, 8, "all of --data trains")
        XCTAssertEqual(trainer.evaluate()?.count, 3, "the three held-out steps are scored")
        // transformers' classifier dropout (0.1) acts in training only.
        let (dropped, _) = withNoGrad { trainer.loss(trainer.train, training: true) }
        let (plain, _) = withNoGrad { trainer.loss(trainer.train, training: false) }
        let (again, _) = withNoGrad { trainer.loss(trainer.train, training: false) }
        XCTAssertNotEqual(dropped.item(), plain.item())
        XCTAssertEqual(plain.item(), again.item())
    }
}

extension RewardModelTrainingTests {
    /// The bundled PRM (docs/RECIPES.md) loads as a process model and ranks a worked chain above a bare guess.
    func testBundledProcessRewardModel() async throws {
        let dir = fixtureModel.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("Models/ponder-tiny-prm")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir.appendingPathComponent("config.json").path), "\(dir.path) is absent")
        let model = try RewardModel.load(dir)
        XCTAssertEqual(model.kind, .process)
        let prompt = "Think in <think></think>, answer in <answer></answer>.\nCompute 41+12+7+14.\n"
        let context = ScoringContext(question: Question(id: "q", prompt: "Compute 41+12+7+14."), prompt: .text(prompt))
        let scorer = RewardModelScorer(model: model, delimiter: ", ", aggregation: .min)
        let scores = try await scorer.scoreOutcomes(
            ["<think>41+12=53, 53+7=60, 60+14=74</think><answer>74</answer>", "Answer: 71"], in: context
        ).scores
        XCTAssertGreaterThan(scores[0], scores[1], "\(scores)")
    }
}
