import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderVerifiers
import Torch
import XCTest

@testable import PonderTraining

/// The tiny fixture model directory (random Qwen2 with a byte-level tokenizer).
let fixtureModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("PonderModelsTests/Fixtures/tiny-qwen2")

func temporaryDirectory(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-\(name)-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

let arithmeticCorpus = (0..<120).map { i in
    "Question \(i): what is \(i) + \(i % 7)? <think>\(i) + \(i % 7) = \(i + i % 7)</think> The answer is \(i + i % 7)."
}

final class TrainingTests: XCTestCase {
    /// The entropy of completion tokens, computed a few rows at a time for large vocabularies, equals −Σ p log p of
    /// the whole tensor at once; the log-probabilities equal log-softmax gathered at the tokens.
    func testTokenLogProbsInBoundedChunks() {
        let logits = Tensor.randn([5, 3, 40]) * 4
        let normaliser = logits.logSumExp(axes: [-1])
        let logp = logits.logSoftmax(axis: -1)
        let direct = -(logp.exp() * logp).sum(axis: -1)
        for chunkBytes in [1, 3 * 40 * 4 * 2, 1 << 30] {  // one row at a time, two rows, everything at once
            let chunked = TokenLogProbs.entropy(logits: logits, normaliser: normaliser, chunkBytes: chunkBytes)
            XCTAssertEqual(chunked.shape, [5, 3])
            XCTAssertLessThan((chunked - direct).abs().max().item(), 1e-5, "chunk \(chunkBytes) bytes")
        }
        let ids = Tensor((0..<20).map { Int64($0 * 7 % 40) }, shape: [5, 4])
        let (logps, entropies) = TokenLogProbs.compute(ids: ids, completionLength: 3, temperature: 0.7, chunkRows: 2) { rows, range in
            concatenated([logits.narrow(axis: 0, start: range.lowerBound, length: rows.size(0)), Tensor.zeros([rows.size(0), 1, 40])], axis: 1)
        }
        let scaled = (logits / 0.7).logSoftmax(axis: -1)
        let expected = scaled.gather(axis: -1, index: ids.narrow(axis: 1, start: 1, length: 3).unsqueezed(axis: -1)).squeezed(axis: -1)
        XCTAssertLessThan((logps - expected).abs().max().item(), 1e-5)
        XCTAssertLessThan((entropies - -(scaled.exp() * scaled).sum(axis: -1)).abs().max().item(), 1e-5)
        // The reference's path: the same log-probabilities without the entropies.
        let alone = TokenLogProbs.logProbabilities(ids: ids, completionLength: 3, temperature: 0.7, chunkRows: 2) { rows, range in
            concatenated([logits.narrow(axis: 0, start: range.lowerBound, length: rows.size(0)), Tensor.zeros([rows.size(0), 1, 40])], axis: 1)
        }
        XCTAssertEqual(alone.toArray(Float.self), logps.toArray(Float.self))
    }

    func testScheduleMatchesTransformers() {
        let s = LearningRateSchedule(peak: 1, warmupSteps: 10, totalSteps: 110, decay: .cosine)
        XCTAssertEqual(s.rate(at: 0), 0)
        XCTAssertEqual(s.rate(at: 5), 0.5)
        XCTAssertEqual(s.rate(at: 10), 1)
        XCTAssertEqual(s.rate(at: 60), 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 110), 0, accuracy: 1e-12)
        XCTAssertEqual(
            LearningRateSchedule(peak: 1, totalSteps: 100, decay: .cosine, minimumRatio: 0.1).rate(at: 50), 0.55, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(peak: 2, totalSteps: 100, decay: .linear).rate(at: 75), 0.5, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(peak: 2, totalSteps: 100, decay: .constant).rate(at: 75), 2)
    }

    func pretrainer(steps: Int, seed: UInt64 = 1, dtype: DType = .float32) throws -> Pretrainer {
        let configuration = try Pretrainer.Configuration.parse([
            "--steps", "\(steps)", "--learning-rate", "3e-3", "--save-every", "2", "--seed", "\(seed)", "--decay", "constant",
            "--context-length", "32", "--batch-size", "4",
        ])
        let model = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: seed, dtype: dtype)
        return try Pretrainer(
            configuration: configuration, model: model,
            tokenizer: Tokenizer.load(directory: fixtureModel), documents: arithmeticCorpus, endToken: 0)
    }

    func testPretrainingLowersLoss() async throws {
        let run = try RunDirectory(temporaryDirectory("pretrain"))
        var losses: [Double] = []
        _ = try await pretrainer(steps: 30).train(run: run) { losses.append($0.metrics["loss"]!) }
        XCTAssertEqual(losses.count, 30)
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.6 * losses.prefix(5).reduce(0, +) / 5)
        let lines = try String(contentsOf: run.metricsURL, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 30)
        XCTAssertEqual(run.checkpoints().map(\.step), [28, 30], "keeps the newest two")
        // The final checkpoint is a complete model directory.
        let saved = try ModelDirectory.load(run.checkpoints().last!.url)
        let fresh = try pretrainer(steps: 1)
        XCTAssertEqual(saved.parameterCount, fresh.model.parameterCount)
    }

    func testBFloat16PretrainingLowersLoss() async throws {
        let trainer = try pretrainer(steps: 30, dtype: .bfloat16)
        XCTAssertEqual(trainer.model.dtype, .bfloat16)
        var losses: [Double] = []
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("bf16"))) { losses.append($0.metrics["loss"]!) }
        XCTAssertLessThan(losses.suffix(5).reduce(0, +) / 5, 0.7 * losses.prefix(5).reduce(0, +) / 5)
        XCTAssertEqual(trainer.model.parameters["model.norm.weight"]!.dtype, .bfloat16, "weights stay in bfloat16")
    }

    /// Interrupting saves a checkpoint; resuming from it gives exactly the weights of an uninterrupted run.
    func testResumeAfterInterruptIsExact() async throws {
        let straight = try RunDirectory(temporaryDirectory("straight"))
        _ = try await pretrainer(steps: 6).train(run: straight)
        let broken = try RunDirectory(temporaryDirectory("broken"))
        let interrupt = InterruptFlag()
        let stopped = try await pretrainer(steps: 6).train(run: broken, interrupt: interrupt) { if $0.step == 3 { interrupt.set() } }
        XCTAssertEqual(stopped, 3)
        XCTAssertEqual(broken.checkpoints().last?.step, 3)
        // A half-written checkpoint directory and one without its state file are never used.
        try FileManager.default.createDirectory(
            at: broken.checkpointsURL.appendingPathComponent(".step-5.tmp"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: broken.checkpointsURL.appendingPathComponent("step-9"), withIntermediateDirectories: true)
        XCTAssertEqual(broken.checkpoints().last?.step, 3)
        let finished = try await pretrainer(steps: 6).train(run: broken, resume: true)
        XCTAssertEqual(finished, 6)
        let a = try Data(contentsOf: straight.checkpointsURL.appendingPathComponent("step-6/model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-6/model.safetensors"))
        XCTAssertEqual(a, b, "resumed weights equal uninterrupted weights, bit for bit")
        let steps = try String(contentsOf: broken.metricsURL, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["step"] as! Int
        }
        XCTAssertEqual(steps, [1, 2, 3, 4, 5, 6], "no step logged twice")
    }

    func testSFTTrainsOnCompletionTokensOnly() async throws {
        var configuration = SFTTrainer.Configuration.defaults
        configuration.training.steps = 15
        configuration.training.learningRate = 3e-3
        configuration.training.decay = .constant
        configuration.batchSize = 4
        let model = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 2)
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = (0..<16).map {
            SFTExample(prompt: .text("Question \($0): what is \($0) + 1?"), completion: " The answer is \($0 + 1).")
        }
        let sft = try SFTTrainer(
            configuration: configuration, model: model, tokenizer: tokenizer, template: nil, examples: examples,
            endToken: 0)
        // The loss counts exactly the completion tokens (and the end token) of the batch.
        let (_, targets) = sft.loss([0, 1])
        let expected = [0, 1].reduce(0) { $0 + tokenizer.encode(examples[$1].completion, addSpecialTokens: false).count + 1 }
        XCTAssertEqual(targets, expected)
        var losses: [Double] = []
        _ = try await sft.train(run: RunDirectory(temporaryDirectory("sft"))) { losses.append($0.metrics["loss"]!) }
        XCTAssertLessThan(losses.last!, 0.7 * losses.first!)
    }
}

/// Rewards completions by the share of their characters that are digits.
struct DigitShareReward: RewardFunction {
    var name: String { "digits" }
    func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { c in c.isEmpty ? 0 : Double(c.filter(\.isNumber).count) / Double(c.count) }
    }
}

final class GRPOTrainerTests: XCTestCase {
    static let problems = grpoProblems

    func makeTrainer(
        _ configure: (inout GRPOTrainer.Configuration) -> Void = { _ in }, rollouts: ((CausalLM) throws -> any RolloutSource)? = nil
    ) throws -> GRPOTrainer { try makeGRPOTrainer(configure, rollouts: rollouts) }
}

let grpoProblems = (0..<12).map { Problem.math(id: "p\($0)", prompt: "Question \($0): what is \($0) + 2?", answer: "\($0 + 2)") }

/// A GRPO trainer over a fresh tiny policy, the digit-share reward and twelve problems.
func makeGRPOTrainer(
    _ configure: (inout GRPOTrainer.Configuration) -> Void = { _ in }, rollouts: ((CausalLM) throws -> any RolloutSource)? = nil
) throws -> GRPOTrainer {
    var c = GRPOTrainer.Configuration.defaults
    c.training.steps = 16
    c.training.learningRate = 5e-3
    c.training.decay = .constant
    c.training.saveEvery = 6
    c.numGenerations = 8
    c.promptsPerStep = 4
    c.maxCompletionLength = 8
    configure(&c)
    // A freshly initialised policy samples nearly uniformly, so every group has reward spread to learn from.
    let config = try ModelDirectory.configuration(at: fixtureModel)
    let policy = try CausalLM(configuration: config, seed: 7)
    let source =
        try rollouts?(policy)
        ?? Engine(
            model: policy, tokenizer: try Tokenizer.load(directory: fixtureModel), template: nil, name: "policy",
            options: .init(prefixCacheBytes: 0))
    let reference = c.beta != 0 && c.lora.loraR == 0 ? try CausalLM(configuration: config, seed: 7) : nil
    return try GRPOTrainer(
        configuration: c, policy: policy, rollouts: source, task: TaskFormat(name: "test", style: .plain), problems: grpoProblems,
        rewards: [WeightedReward(DigitShareReward())], reference: reference)
}

extension GRPOTrainerTests {

    func testRewardRisesAndMetricsAreLogged() async throws {
        let trainer = try makeTrainer()
        let run = try RunDirectory(temporaryDirectory("grpo"))
        var rewards: [Double] = []
        _ = try await trainer.train(run: run) { rewards.append($0.metrics["reward"]!) }
        XCTAssertEqual(rewards.count, 16)
        XCTAssertGreaterThan(rewards.suffix(4).reduce(0, +), rewards.prefix(4).reduce(0, +) + 0.1, "\(rewards)")
        let first =
            try JSONSerialization.jsonObject(with: Data(String(contentsOf: run.metricsURL, encoding: .utf8).split(separator: "\n")[0].utf8))
            as! [String: Any]
        for key in [
            "reward", "reward_std", "rewards/digits/mean", "rewards/digits/std", "frac_reward_zero_std", "completions/mean_length",
            "completions/min_length", "completions/max_length", "completions/clipped_ratio", "entropy", "clip_ratio/low_mean",
            "clip_ratio/high_mean", "clip_ratio/region_mean", "grad_norm", "learning_rate", "step_time", "time/generation",
            "time/scoring", "time/training", "clip_ratio/low_min", "clip_ratio/high_max", "completions/mean_terminated_length",
            "completions/min_terminated_length", "completions/max_terminated_length", "num_tokens",
        ] {
            XCTAssertNotNil(first[key] as? Double, key)
        }
        // num_tokens is cumulative, as TRL logs it: it grows by each batch's prompt and completion tokens.
        let lines = try String(contentsOf: run.metricsURL, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let seen = lines.map { $0["num_tokens"] as! Double }
        XCTAssertEqual(seen, seen.sorted())
        XCTAssertGreaterThan(seen[1], seen[0])
        XCTAssertGreaterThanOrEqual(seen[1] - seen[0], Double(4 * 8), "at least one token per completion")
        let completions = try String(contentsOf: run.completionsURL, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(completions.count, 16 * 4 * 8)
    }

    /// Each of numIterations, beta and clipping shows on its own: the second iteration reuses the batch, its ratios
    /// move off 1 far enough to clip (a large step on purpose), and the KL to the reference is 0 before the first update
    /// and positive after it.
    func testIterationsBetaAndClipping() async throws {
        let trainer = try makeTrainer {
            $0.training.steps = 4
            $0.training.learningRate = 0.05
            $0.numIterations = 2
            $0.beta = 0.04
            $0.lossType = .grpo
        }
        var reports: [StepReport] = []
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("grpo2"))) { reports.append($0) }
        XCTAssertEqual(reports.count, 4)
        XCTAssertNotNil(reports[1].metrics["time/training"])
        XCTAssertNil(reports[1].metrics["time/generation"], "the second iteration reuses the batch")
        XCTAssertEqual(reports[0].metrics["kl"]!, 0, accuracy: 1e-9, "the policy starts as the reference")
        XCTAssertGreaterThan(reports[1].metrics["kl"]!, 0, "after one update the policy has moved")
        XCTAssertEqual(reports[0].metrics["clip_ratio/region_mean"]!, 0, "the first pass has ratio 1")
        XCTAssertGreaterThan(reports[1].metrics["clip_ratio/region_mean"]!, 0, "the second pass clips")
    }

    /// Dynamic sampling drops groups whose rewards have no spread and samples more prompts to refill the batch.
    func testDynamicSamplingDropsFlatGroups() async throws {
        /// Even requests: two completions with digits (no spread); odd: one with and one without.
        final class HalfFlat: RolloutSource, @unchecked Sendable {
            let name = "half-flat"
            let weightSync = WeightSync.shared
            private let lock = NSLock()
            private(set) var prompts = 0
            func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
                let first = lock.withLock { () -> Int in
                    defer { prompts += requests.count }
                    return prompts
                }
                return requests.enumerated().map { i, r in
                    let flat = (first + i) % 2 == 0
                    return CompletionResponse(
                        promptTokens: [7, 8],
                        completions: (0..<r.parameters.n).map { k in
                            Completion(text: flat || k == 0 ? "12" : "ab", tokens: [40, 3], sampled: [true, true], stop: .endOfSequence(token: 3))
                        }, usage: Usage())
                }
            }
            func weightsUpdated(directory: String?) async throws {}
        }
        let source = HalfFlat()
        let trainer = try makeTrainer(
            {
                $0.training.steps = 1
                $0.numGenerations = 2
                $0.promptsPerStep = 4
                $0.dynamicSampling = true
            }, rollouts: { _ in source })
        var timings: [String: Double] = [:]
        let (batch, metrics, _) = try await trainer.generate(cursor: 0, timings: &timings)
        XCTAssertEqual(batch.groups.count, 4, "refilled to four groups")
        XCTAssertTrue(batch.groups.allSatisfy { !GRPOTrainer.hasZeroSpread($0, weights: [1]) }, "no flat group kept")
        XCTAssertEqual(source.prompts, 4 + 2 + 1 + 1, "rounds of 4, 2, 1, 1 prompts: each keeps half")
        XCTAssertEqual(metrics["frac_reward_zero_std"]!, 0.5, accuracy: 1e-9, "half of all sampled groups were flat")
    }

    func testTruncatedCompletionsCanBeMasked() async throws {
        // Eight tokens never reach an end token here, so every completion is truncated and nothing is learned.
        let trainer = try makeTrainer {
            $0.training.steps = 1
            $0.maskTruncatedCompletions = true
        }
        var report: StepReport?
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("grpo3"))) { report = $0 }
        XCTAssertEqual(report?.metrics["completions/clipped_ratio"], 1)
        XCTAssertEqual(report?.metrics["grad_norm"], 0)
    }

    /// Left-padded prompts of different lengths give each row the log-probabilities it has alone.
    func testPaddedBatchLogProbabilities() throws {
        let trainer = try makeTrainer()
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let groups = ["Question 1: hi", "Question 12: what is 3 + 4 + 5?"].map { text in
            GRPOTrainer.Group(
                problem: Problem(id: text, prompt: text), prompt: tokenizer.encode(text),
                completions: [Completion(text: "", tokens: [40, 41, 42]), Completion(text: "", tokens: [50, 51])],
                rewardsPerFunction: [[1], [0]], advantages: [1, -1])
        }
        let batch = trainer.makeBatch(groups)
        XCTAssertNotEqual(Set(batch.padding).count, 1, "the prompts differ in length")
        let together = withNoGrad { trainer.logps(trainer.policy, batch).0 }
        for (g, group) in groups.enumerated() {
            let alone = withNoGrad { trainer.logps(trainer.policy, trainer.makeBatch([group])).0 }
            for k in 0..<2 {
                let n = group.completions[k].tokens.count
                let a = together[2 * g + k].narrow(axis: 0, start: 0, length: n)
                let b = alone[k].narrow(axis: 0, start: 0, length: n)
                XCTAssertLessThan((a - b).abs().max().item(), 1e-4)
            }
        }
    }

    func testConfigurationErrors() throws {
        XCTAssertThrowsError(try makeTrainer { $0.numGenerations = 1 }) {
            XCTAssertTrue("\($0.localizedDescription)".contains("numGenerations"))
        }
        XCTAssertThrowsError(try makeTrainer { $0.training.gradientAccumulationSteps = 4 }) {
            XCTAssertTrue("\($0.localizedDescription)".contains("chunk-rows"), "not silently ignored")
        }
        XCTAssertThrowsError(try makeTrainer { $0.rewardWeights = [1, 2] }) {
            XCTAssertTrue("\($0.localizedDescription)".contains("rewardWeights"))
        }
        XCTAssertEqual(GRPOTrainer.overlongPenalty(length: 90, limit: 100, buffer: 20, penalty: 1), -0.5)
        XCTAssertEqual(GRPOTrainer.overlongPenalty(length: 70, limit: 100, buffer: 20, penalty: 1), 0)
    }
}

/// A rollout source that never runs a model: it returns scripted token ids (its own prompt ids, unrelated to any
/// tokenizer), marks chosen tokens as forced, and records weight updates.
final class ScriptedRollouts: RolloutSource, @unchecked Sendable {
    let name = "scripted"
    let weightSync: WeightSync
    private let lock = NSLock()
    private(set) var requests: [CompletionRequest] = []
    private(set) var updates: [String?] = []
    /// Per completion: the tokens and which are forced (false).
    let completions: [(tokens: [Int], sampled: [Bool], text: String)]

    init(weightSync: WeightSync = .shared, completions: [(tokens: [Int], sampled: [Bool], text: String)]) {
        self.weightSync = weightSync
        self.completions = completions
    }

    func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        lock.withLock { self.requests += requests }
        return requests.enumerated().map { r, request in
            let cs = (0..<request.parameters.n).map { k in
                let c = completions[(r + k) % completions.count]
                return Completion(text: c.text, tokens: c.tokens, sampled: c.sampled, stop: .endOfSequence(token: c.tokens.last!))
            }
            // Prompt ids a tokenizer would never produce for this text: the trainer must take them from the record.
            return CompletionResponse(promptTokens: [7, 8, 9, 10 + r], completions: cs, usage: Usage())
        }
    }

    func weightsUpdated(directory: String?) async throws { lock.withLock { updates.append(directory) } }
}

final class GRPODataPathTests: XCTestCase {
    func trainer(_ rollouts: ScriptedRollouts, steps: Int = 2, numIterations: Int = 1) throws -> GRPOTrainer {
        try makeGRPOTrainer(
            {
                $0.training.steps = steps
                $0.numIterations = numIterations
                $0.numGenerations = 2
                $0.promptsPerStep = 2
            }, rollouts: { _ in rollouts })
    }

    /// GRPO runs against the rollout protocol alone: prompts go out as requests, the record's ids come back into the
    /// batch unchanged, and the sampler hears of every new set of weights before it samples again.
    func testGRPORunsAgainstTheRolloutProtocol() async throws {
        let rollouts = ScriptedRollouts(completions: [
            ([40, 41, 42, 3], [true, true, true, true], "12"), ([50, 51, 3], [true, true, true], "no digits"),
        ])
        let t = try trainer(rollouts, steps: 4, numIterations: 2)
        var reports: [StepReport] = []
        _ = try await t.train(run: RunDirectory(temporaryDirectory("scripted"))) { reports.append($0) }
        XCTAssertEqual(reports.count, 4)
        XCTAssertEqual(rollouts.requests.count, 2 * 2, "two generation batches of two prompts")
        XCTAssertTrue(rollouts.requests.allSatisfy { $0.parameters.n == 2 && $0.parameters.logprobs })
        XCTAssertEqual(rollouts.updates.count, 2, "one weight sync per generation batch (numIterations = 2)")
        XCTAssertEqual(rollouts.updates, [nil, nil], "shared weights need no directory")
        XCTAssertEqual(reports[0].metrics["reward"]!, 0.5, accuracy: 1e-9, "rewards read the record's text: one of two has digits")
        // The batch holds the record's prompt ids, left-padded, followed by its completion ids.
        var timings: [String: Double] = [:]
        let (batch, _, _) = try await t.generate(cursor: 0, timings: &timings)
        let row = batch.ids.toArray(Int.self)
        let width = batch.ids.size(1)
        XCTAssertEqual(Array(row[0..<4]), [7, 8, 9, 10])
        XCTAssertEqual(Array(row[4..<8]), [40, 41, 42, 3])
        XCTAssertEqual(Array(row[width..<(width + 4)]), [7, 8, 9, 10])
    }

    /// Forced tokens (a forced `</think>`, budget forcing's "Wait") get no policy-gradient loss: a completion whose
    /// last two tokens were forced gives exactly the gradients of the same completion without them.
    func testForcedTokensGetNoLoss() async throws {
        let rollouts = ScriptedRollouts(completions: [([40, 41, 42], [true, true, true], "")])
        let t = try trainer(rollouts)
        func gradients(_ completions: [Completion]) throws -> [String: Tensor] {
            let group = GRPOTrainer.Group(
                problem: GRPOTrainerTests.problems[0], prompt: [7, 8, 9], completions: completions, rewardsPerFunction: [[1], [0]],
                advantages: [1, -1])
            t.policy.parameters.setRequiresGrad(true)
            _ = try t.backward(t.makeBatch([group]))
            var out: [String: Tensor] = [:]
            for (key, p) in t.policy.parameters.trainable {
                out[key] = p.grad!.detached() * 1.0
                p.zeroGrad()
            }
            return out
        }
        let forced = try gradients([
            Completion(text: "", tokens: [40, 41, 42, 60, 61], sampled: [true, true, true, false, false]),
            Completion(text: "", tokens: [50, 51, 52], sampled: [true, true, true]),
        ])
        let without = try gradients([
            Completion(text: "", tokens: [40, 41, 42], sampled: [true, true, true]),
            Completion(text: "", tokens: [50, 51, 52], sampled: [true, true, true]),
        ])
        let counted = try gradients([
            Completion(text: "", tokens: [40, 41, 42, 60, 61], sampled: [true, true, true, true, true]),
            Completion(text: "", tokens: [50, 51, 52], sampled: [true, true, true]),
        ])
        var largest = 0.0
        var moved = 0.0
        for (key, g) in forced {
            largest = max(largest, (g - without[key]!).abs().max().item())
            moved = max(moved, (counted[key]! - without[key]!).abs().max().item())
        }
        XCTAssertLessThan(largest, 1e-6, "forced tokens contribute nothing")
        XCTAssertGreaterThan(moved, 1e-4, "the same tokens, sampled, do contribute (the test can fail)")
    }

    /// A sampler that reloads weights from disk gets a model directory holding the policy's current weights.
    func testReloadingSamplersGetTheNewWeights() async throws {
        let rollouts = ScriptedRollouts(weightSync: .reloadFromDirectory, completions: [([40, 41, 3], [true, true, true], "7")])
        let t = try trainer(rollouts, steps: 1)
        _ = try await t.train(run: RunDirectory(temporaryDirectory("reload")))
        let dir = try XCTUnwrap(rollouts.updates.first ?? nil)
        let loaded = try ModelDirectory.load(URL(fileURLWithPath: dir))
        for (key, p) in t.policy.parameters.tensors {
            XCTAssertEqual((loaded.parameters[key]! - p.detached()).abs().max().item(), 0, key)
        }
    }

    /// A record without prompt ids is refused with a message naming the source, not trained on.
    func testRecordsWithoutPromptIdsAreRefused() async throws {
        final class NoIds: RolloutSource, @unchecked Sendable {
            let name = "text-only"
            let weightSync = WeightSync.shared
            func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
                requests.map { r in
                    CompletionResponse(completions: (0..<r.parameters.n).map { _ in Completion(text: "1", tokens: [1]) }, usage: Usage())
                }
            }
            func weightsUpdated(directory: String?) async throws {}
        }
        let t = try makeGRPOTrainer({ $0.training.steps = 1 }, rollouts: { _ in NoIds() })
        do {
            _ = try await t.train(run: RunDirectory(temporaryDirectory("noids")))
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue("\(error)".contains("text-only") && "\(error)".contains("prompt"), "\(error)")
        }
    }
}

final class TrainingDefectTests: XCTestCase {
    /// SFT with gradient accumulation weighs every completion token equally: two micro-batches of one example each
    /// give the same update as one batch of both, even when the completions differ in length.
    func testSFTAccumulationNormalisesByTheStepsTokens() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = [
            SFTExample(prompt: .text("Question 1:"), completion: " 2."),
            SFTExample(prompt: .text("Question 2:"), completion: " The answer is 3, because 1 + 2 = 3 and nothing else."),
        ]
        func weights(batchSize: Int, accumulation: Int) async throws -> Tensor {
            var c = SFTTrainer.Configuration.defaults
            c.training.steps = 1
            c.training.learningRate = 1e-2
            c.training.maxGradNorm = 0
            c.batchSize = batchSize
            c.training.gradientAccumulationSteps = accumulation
            let model = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 3)
            let sft = try SFTTrainer(configuration: c, model: model, tokenizer: tokenizer, template: nil, examples: examples, endToken: 0)
            XCTAssertEqual(Set(sft.batch(step: 0, micro: 0) + (accumulation > 1 ? sft.batch(step: 0, micro: 1) : [])), [0, 1])
            _ = try await sft.train(run: RunDirectory(temporaryDirectory("sft-accum")))
            return model.parameters["model.norm.weight"]!.detached() * 1.0
        }
        let together = try await weights(batchSize: 2, accumulation: 1)
        let accumulated = try await weights(batchSize: 1, accumulation: 2)
        XCTAssertLessThan((together - accumulated).abs().max().item(), 1e-6)
    }

    /// A GRPO run interrupted inside a generation batch (numIterations = 2) resumes on the same batch and ends with
    /// exactly the weights of an uninterrupted run.
    func testGRPOResumeInsideAGenerationBatchIsExact() async throws {
        func configure(_ c: inout GRPOTrainer.Configuration) {
            c.training.steps = 4
            c.training.saveEvery = 1000
            c.numIterations = 2
            c.promptsPerStep = 2
            c.numGenerations = 4
        }
        let straight = try RunDirectory(temporaryDirectory("grpo-straight"))
        _ = try await makeGRPOTrainer(configure).train(run: straight)
        let broken = try RunDirectory(temporaryDirectory("grpo-broken"))
        let interrupt = InterruptFlag()
        let stopped = try await makeGRPOTrainer(configure).train(run: broken, interrupt: interrupt) { if $0.step == 3 { interrupt.set() } }
        XCTAssertEqual(stopped, 3, "stopped inside the second generation batch")
        XCTAssertTrue(
            FileManager.default.fileExists(
                atPath: broken.checkpointsURL.appendingPathComponent("step-3/\(GRPOTrainer.batchFile)").path),
            "the checkpoint carries the batch")
        let finished = try await makeGRPOTrainer(configure).train(run: broken, resume: true)
        XCTAssertEqual(finished, 4)
        let a = try Data(contentsOf: straight.checkpointsURL.appendingPathComponent("step-4/model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-4/model.safetensors"))
        XCTAssertEqual(a, b, "bit-identical weights")
        XCTAssertFalse(
            FileManager.default.fileExists(
                atPath: broken.checkpointsURL.appendingPathComponent("step-4/\(GRPOTrainer.batchFile)").path),
            "a checkpoint at a batch boundary needs no batch")
    }

    /// `nil` rewards count the same way everywhere: a group [1, 1, nil, 1] has no spread, so dynamic sampling drops it
    /// and `frac_reward_zero_std` counts it (its advantages are all 0).
    func testUnscoredRewardsAreLeftOutEverywhere() throws {
        let t = try makeGRPOTrainer { $0.numGenerations = 4 }
        let flat = GRPOTrainer.Group(
            problem: grpoProblems[0], prompt: [1], completions: (0..<4).map { _ in Completion(text: "", tokens: [2]) },
            rewardsPerFunction: [[1], [1], [nil], [1]])
        var spread = flat
        spread.rewardsPerFunction = [[1], [0], [nil], [1]]
        XCTAssertTrue(GRPOTrainer.hasZeroSpread(flat, weights: [1]))
        XCTAssertFalse(GRPOTrainer.hasZeroSpread(spread, weights: [1]))
        XCTAssertEqual(GroupAdvantages(rewardsPerFunction: flat.rewardsPerFunction, weights: [1], groupSize: 4, scaling: .group).advantages, [0, 0, 0, 0])
        XCTAssertEqual(t.metrics([spread], all: [flat, spread])["frac_reward_zero_std"], 0.5)
    }

    /// With overlong shaping on, a completion no reward function can score is still unscorable (advantage 0, left out
    /// of its group's statistics): the shaping term does not make it scorable.
    func testOverlongShapingKeepsUnscorableCompletionsUnscored() async throws {
        struct DigitsOrNothing: RewardFunction {
            var name: String { "digits_or_nothing" }
            func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
                completions.map { $0.contains(where: \.isNumber) ? 1 : nil }
            }
        }
        let rollouts = ScriptedRollouts(completions: [([40, 41, 3], [true, true, true], "7"), ([50, 3], [true, true], "none")])
        let base = try makeGRPOTrainer(
            {
                $0.numGenerations = 2
                $0.promptsPerStep = 1
                $0.maxCompletionLength = 4
                $0.overlongBuffer = 2
            }, rollouts: { _ in rollouts })
        let t = try GRPOTrainer(
            configuration: base.configuration, policy: base.policy, rollouts: rollouts, task: base.task, problems: base.problems,
            rewards: [WeightedReward(DigitsOrNothing())])
        var timings: [String: Double] = [:]
        let (batch, _, _) = try await t.generate(cursor: 0, timings: &timings)
        XCTAssertEqual(batch.groups[0].rewardsPerFunction[0], [1, -0.5], "scored, and shaped (3 tokens of 4, buffer 2)")
        XCTAssertEqual(batch.groups[0].rewardsPerFunction[1], [nil, nil], "unscorable stays unscorable")
        XCTAssertEqual(batch.groups[0].advantages, [0, 0])
    }

    /// A reward function that returns the wrong number of scores stops training with its name, instead of crashing.
    func testRewardWithTheWrongCountIsAnError() async throws {
        struct Short: RewardFunction {
            var name: String { "short" }
            func rewards(for completions: [String], problem: Problem) async throws -> [Double?] { [1] }
        }
        let base = try makeGRPOTrainer { $0.training.steps = 1 }
        let t = try GRPOTrainer(
            configuration: base.configuration, policy: base.policy, rollouts: base.rollouts, task: base.task, problems: base.problems,
            rewards: [WeightedReward(Short())])
        do {
            _ = try await t.train(run: RunDirectory(temporaryDirectory("short")))
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue("\(error)".contains("reward short returned 1 scores for 8 completions"), "\(error)")
        }
    }

    /// GRPO computes the output layer only for the positions the loss reads (TRL's logits_to_keep) and gets the same
    /// log-probabilities as from every position's logits.
    func testLogitsToKeepChangesNothing() throws {
        let t = try makeGRPOTrainer()
        let group = GRPOTrainer.Group(
            problem: grpoProblems[0], prompt: [5, 6, 7, 8, 9, 10], completions: [Completion(text: "", tokens: [40, 41, 42])],
            rewardsPerFunction: [[1]], advantages: [1])
        let batch = t.makeBatch([group])
        let kept = withNoGrad { t.logps(t.policy, batch).0 }
        let full = withNoGrad {
            TokenLogProbs.compute(ids: batch.ids, completionLength: batch.completionLength, temperature: 1) { t.policy($0) }.logps
        }
        XCTAssertLessThan((kept - full).abs().max().item(), 1e-5)
    }

    /// The update itself (`GRPOTrainer.backward`, not a re-implementation): gradients computed in row chunks equal
    /// those of one pass over the whole batch, for every loss normaliser, with left-padded prompts and completions
    /// shorter than the length limit (so a wrong Dr. GRPO normaliser would show).
    func testChunkedUpdateEqualsOnePass() throws {
        for loss in [GRPOLossType.grpo, .bnpo, .drGRPO, .dapo, .cispo, .sapo] {
            func gradients(chunkRows: Int) throws -> [String: Tensor] {
                let t = try makeGRPOTrainer {
                    $0.lossType = loss
                    $0.chunkRows = chunkRows
                    $0.maxCompletionLength = 12
                    $0.epsilonHigh = 0.28
                }
                let groups = [[5, 6, 7], [8, 9, 10, 11, 12]].enumerated().map { g, prompt in
                    GRPOTrainer.Group(
                        problem: grpoProblems[g], prompt: prompt,
                        completions: [
                            Completion(text: "", tokens: [40, 41, 42, 43]), Completion(text: "", tokens: [50, 51]),
                            Completion(text: "", tokens: [60, 61, 62]),
                        ], rewardsPerFunction: [[1], [0], [0.5]], advantages: [1.2, -0.9, -0.3])
                }
                t.policy.parameters.setRequiresGrad(true)
                _ = try t.backward(t.makeBatch(groups))
                var out: [String: Tensor] = [:]
                for (key, p) in t.policy.parameters.trainable {
                    out[key] = p.grad!.detached() * 1.0
                    p.zeroGrad()
                }
                return out
            }
            let chunked = try gradients(chunkRows: 2)
            let whole = try gradients(chunkRows: 64)
            var largest = 0.0
            var size = 0.0
            for (key, g) in whole {
                largest = max(largest, (g - chunked[key]!).abs().max().item())
                size = max(size, g.abs().max().item())
            }
            XCTAssertGreaterThan(size, 1e-4, "\(loss): the batch has gradient")
            XCTAssertLessThan(largest, 1e-6 * max(1, size), "\(loss)")
        }
    }
}

/// Rollouts with fixed tokens (one list per completion) and chosen sampler log-probabilities.
final class LogprobRollouts: RolloutSource, @unchecked Sendable {
    let name = "logprobs"
    let weightSync = WeightSync.shared
    let tokens: [[Int]]
    var logprobs: [[Double]]
    init(tokens: [[Int]], logprobs: [[Double]]) {
        self.tokens = tokens
        self.logprobs = logprobs
    }
    func rollouts(_ requests: [CompletionRequest]) async throws -> [CompletionResponse] {
        requests.map { r in
            CompletionResponse(
                promptTokens: [7, 8, 9],
                completions: (0..<r.parameters.n).map { k in
                    Completion(
                        text: k == 0 ? "1" : "x", tokens: tokens[k], logprobs: logprobs.isEmpty ? nil : logprobs[k],
                        sampled: tokens[k].map { _ in true }, stop: .endOfSequence(token: tokens[k].last!))
                }, usage: Usage())
        }
    }
    func weightsUpdated(directory: String?) async throws {}
}

final class ImportanceSamplingTests: XCTestCase {
    /// With the correction on, each token's policy loss is weighted by min(exp(logπ_old − logπ_sampler), cap): the
    /// logged ratios are the hand-computed ones, equal log-probabilities change nothing, and different ones do.
    func testTruncatedImportanceSampling() async throws {
        let source = LogprobRollouts(tokens: [[40, 41, 42], [50, 51, 52]], logprobs: [[0, 0, 0], [0, 0, 0]])
        func trainer(_ correction: Bool) throws -> GRPOTrainer {
            try makeGRPOTrainer(
                {
                    $0.numGenerations = 2
                    $0.promptsPerStep = 1
                    $0.importanceSamplingCorrection = correction
                }, rollouts: { _ in source })
        }
        // The trainer's own log-probabilities of the scripted tokens.
        let plain = try trainer(false)
        var timings: [String: Double] = [:]
        let (reference, _, _) = try await plain.generate(cursor: 0, timings: &timings)
        let oldTensor = withNoGrad { plain.logps(plain.policy, reference).0 }
        let old = (0..<2).map { oldTensor.select(axis: 0, index: $0).toArray(Double.self) }
        func gradients(_ t: GRPOTrainer, _ batch: GRPOTrainer.Batch) throws -> Tensor {
            t.policy.parameters.setRequiresGrad(true)
            _ = try t.backward(batch)
            let g = t.policy.parameters["model.norm.weight"]!.grad!.detached() * 1.0
            for p in t.policy.parameters.trainable.values { p.zeroGrad() }
            return g
        }
        let baseline = try gradients(plain, reference)
        XCTAssertGreaterThan(baseline.abs().max().item(), 1e-4, "the batch has gradient")
        // Sampler agrees with the trainer: every weight is 1 and the update is unchanged.
        source.logprobs = old
        let corrected = try trainer(true)
        let (same, m0, _) = try await corrected.generate(cursor: 0, timings: &timings)
        XCTAssertEqual(m0["sampling/importance_sampling_ratio/max"]!, 1, accuracy: 1e-6)
        XCTAssertLessThan((try gradients(corrected, same) - baseline).abs().max().item(), 1e-6)
        // Sampler off by +0.5, +2 and −0.6 nats on the first completion: ratios e^-0.5, e^-2, e^0.6 (under the cap).
        source.logprobs = [zip(old[0], [0.5, 2, -0.6]).map { $0 + $1 }, old[1]]
        let (shifted, m1, _) = try await corrected.generate(cursor: 0, timings: &timings)
        XCTAssertEqual(m1["sampling/importance_sampling_ratio/min"]!, exp(-2), accuracy: 1e-4)
        XCTAssertEqual(m1["sampling/importance_sampling_ratio/max"]!, exp(0.6), accuracy: 1e-4)
        XCTAssertEqual(m1["sampling/importance_sampling_ratio/mean"]!, (exp(-0.5) + exp(-2) + exp(0.6) + 3) / 6, accuracy: 1e-4)
        XCTAssertEqual(m1["sampling/sampling_logp_difference/max"]!, 2, accuracy: 1e-4)
        XCTAssertGreaterThan((try gradients(corrected, shifted) - baseline).abs().max().item(), 1e-6, "the weights act")
        // −1 nat on every token: e^1 = 2.72, truncated at the cap of 2.
        source.logprobs = old.map { $0.map { $0 - 1 } }
        let (_, m2, _) = try await corrected.generate(cursor: 0, timings: &timings)
        XCTAssertEqual(m2["sampling/importance_sampling_ratio/max"]!, 2, accuracy: 1e-9, "truncated at the cap")
        XCTAssertEqual(m2["sampling/importance_sampling_ratio/min"]!, 2, accuracy: 1e-9)
        // Without the sampler's log-probabilities the correction is refused, naming the source.
        source.logprobs = []
        do {
            _ = try await corrected.generate(cursor: 0, timings: &timings)
            XCTFail("expected an error")
        } catch {
            XCTAssertTrue("\(error)".contains("logprobs") && "\(error)".contains("log-probabilities"), "\(error)")
        }
    }
}

final class LoRATrainingTests: XCTestCase {
    /// SFT with LoRA trains the adapters only, checkpoints them in PEFT's files, and resumes exactly.
    func testSFTWithLoRA() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = (0..<8).map { SFTExample(prompt: .text("Question \($0):"), completion: " The answer is \($0 + 1).") }
        func trainer(steps: Int) throws -> SFTTrainer {
            var c = try SFTTrainer.Configuration.parse(["--lora-r", "4", "--lora-target-modules", "q_proj", "v_proj", "up_proj"])
            c.training.steps = steps
            c.training.learningRate = 1e-2
            c.training.saveEvery = 2
            c.batchSize = 4
            let model = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 2)
            return try SFTTrainer(configuration: c, model: model, tokenizer: tokenizer, template: nil, examples: examples, endToken: 0)
        }
        let t = try trainer(steps: 4)
        let before = t.model.parameters["model.layers.0.self_attn.q_proj.weight"]!.detached() * 1.0
        var losses: [Double] = []
        let run = try RunDirectory(temporaryDirectory("sft-lora"))
        _ = try await t.train(run: run) { losses.append($0.metrics["loss"]!) }
        XCTAssertLessThan(losses.last!, losses.first!)
        XCTAssertEqual((t.model.parameters["model.layers.0.self_attn.q_proj.weight"]! - before).abs().max().item(), 0, "the base is frozen")
        let checkpoint = run.checkpointsURL.appendingPathComponent("step-4")
        for file in ["adapter_config.json", "adapter_model.safetensors", "optimizer.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent(file).path), file)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("model.safetensors").path))
        // Interrupted at step 2 and resumed: the same adapters as the uninterrupted run.
        let broken = try RunDirectory(temporaryDirectory("sft-lora-broken"))
        let interrupt = InterruptFlag()
        _ = try await trainer(steps: 4).train(run: broken, interrupt: interrupt) { if $0.step == 2 { interrupt.set() } }
        _ = try await trainer(steps: 4).train(run: broken, resume: true)
        let a = try Data(contentsOf: checkpoint.appendingPathComponent("adapter_model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-4/adapter_model.safetensors"))
        XCTAssertEqual(a, b, "bit-identical adapters after resume")
    }

    /// GRPO with LoRA and a KL penalty uses the frozen base (adapters off) as its reference: no second model.
    func testGRPOWithLoRAUsesTheBaseAsReference() async throws {
        let t = try makeGRPOTrainer {
            $0.training.steps = 2
            $0.beta = 0.04
            $0.lora.loraR = 4
        }
        XCTAssertNil(t.reference)
        XCTAssertNotNil(t.policy.adapters)
        var reports: [StepReport] = []
        _ = try await t.train(run: RunDirectory(temporaryDirectory("grpo-lora"))) { reports.append($0) }
        XCTAssertEqual(reports.count, 2)
        XCTAssertEqual(reports[0].metrics["kl"]!, 0, accuracy: 1e-9, "fresh adapters: the policy is the base")
        XCTAssertGreaterThan(reports[1].metrics["kl"]!, 0, "after an update the adapted policy moved from the base")
    }
}

final class StepsPerGenerationTests: XCTestCase {
    /// `stepsPerGeneration = 2`: one generation batch feeds two optimizer steps, each on half of its groups; the
    /// sampler is asked once per two steps and synced once per batch; a run interrupted between the two shares resumes
    /// to the same weights.
    func testTwoOptimizerStepsPerBatch() async throws {
        let rollouts = ScriptedRollouts(completions: [([40, 41, 42, 3], [true, true, true, true], "12"), ([50, 51, 3], [true, true, true], "x")])
        func configure(_ c: inout GRPOTrainer.Configuration) {
            c.training.steps = 4
            c.training.saveEvery = 1000
            c.promptsPerStep = 2
            c.numGenerations = 2
            c.stepsPerGeneration = 2
        }
        let t = try makeGRPOTrainer(configure, rollouts: { _ in rollouts })
        var reports: [StepReport] = []
        _ = try await t.train(run: RunDirectory(temporaryDirectory("spg"))) { reports.append($0) }
        XCTAssertEqual(rollouts.requests.count, 2 * 2, "two generation batches of two prompts for four steps")
        XCTAssertEqual(rollouts.updates.count, 2)
        XCTAssertNotNil(reports[0].metrics["time/generation"])
        XCTAssertNil(reports[1].metrics["time/generation"], "the second share reuses the batch")
        var timings: [String: Double] = [:]
        let (batch, _, _) = try await t.generate(cursor: 0, timings: &timings)
        let second = GRPOTrainer.share(batch, 1, of: 2, prompts: 2, groupSize: 2)
        XCTAssertEqual(second.ids.size(0), 2)
        XCTAssertEqual(second.ids.toArray(Int.self), batch.ids.narrow(axis: 0, start: 2, length: 2).toArray(Int.self))
        XCTAssertNotNil(batch.oldLogps, "later shares are importance-weighted against the sampling policy")
        XCTAssertThrowsError(try makeGRPOTrainer { $0.promptsPerStep = 3; $0.stepsPerGeneration = 2 }) {
            XCTAssertTrue("\($0.localizedDescription)".contains("stepsPerGeneration"))
        }
        // Interrupted after the first share, resumed: the same weights as straight through (real engine).
        func engineConfigure(_ c: inout GRPOTrainer.Configuration) {
            configure(&c)
            c.numGenerations = 4
        }
        let straight = try RunDirectory(temporaryDirectory("spg-straight"))
        _ = try await makeGRPOTrainer(engineConfigure).train(run: straight)
        let broken = try RunDirectory(temporaryDirectory("spg-broken"))
        let interrupt = InterruptFlag()
        _ = try await makeGRPOTrainer(engineConfigure).train(run: broken, interrupt: interrupt) { if $0.step == 1 { interrupt.set() } }
        _ = try await makeGRPOTrainer(engineConfigure).train(run: broken, resume: true)
        let a = try Data(contentsOf: straight.checkpointsURL.appendingPathComponent("step-4/model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-4/model.safetensors"))
        XCTAssertEqual(a, b)
    }
}

final class TopEntropyTests: XCTestCase {
    /// `topEntropyQuantile = 0.5` keeps the policy loss of the higher-entropy half of the active tokens only.
    func testOnlyHighEntropyTokensLearn() async throws {
        let rollouts = LogprobRollouts(tokens: [[40, 41, 42, 43], [50, 51, 52, 53]], logprobs: [])
        let t = try makeGRPOTrainer(
            {
                $0.numGenerations = 2
                $0.promptsPerStep = 1
                $0.topEntropyQuantile = 0.5
            }, rollouts: { _ in rollouts })
        var timings: [String: Double] = [:]
        let (batch, metrics, _) = try await t.generate(cursor: 0, timings: &timings)
        let keep = try XCTUnwrap(batch.samplerWeights).toArray(Double.self)
        let entropies = withNoGrad { t.logps(t.policy, batch).1 }.toArray(Double.self)
        XCTAssertEqual(keep.reduce(0, +), 4, "half of the 8 active tokens (the median is interpolated between the 4th and 5th)")
        XCTAssertEqual(metrics["entropy/kept_fraction"]!, 0.5, accuracy: 1e-9)
        let kept = zip(entropies, keep).filter { $0.1 == 1 }.map(\.0)
        let dropped = zip(entropies, keep).filter { $0.1 == 0 }.map(\.0)
        XCTAssertGreaterThan(kept.min()!, dropped.max()!, "the kept tokens are the high-entropy ones")
        XCTAssertThrowsError(try makeGRPOTrainer { $0.topEntropyQuantile = 0 })
    }
}

final class SFTResumeTests: XCTestCase {
    /// SFT interrupted and resumed (with gradient accumulation) ends with exactly the weights of an uninterrupted run.
    func testSFTResumeIsExact() async throws {
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let examples = (0..<10).map { SFTExample(prompt: .text("Question \($0):"), completion: String(repeating: " step", count: $0 % 4 + 1) + ".") }
        func trainer() throws -> SFTTrainer {
            var c = SFTTrainer.Configuration.defaults
            c.training.steps = 5
            c.training.learningRate = 5e-3
            c.training.saveEvery = 100
            c.training.gradientAccumulationSteps = 2
            c.batchSize = 2
            let model = try CausalLM(configuration: ModelDirectory.configuration(at: fixtureModel), seed: 5)
            return try SFTTrainer(configuration: c, model: model, tokenizer: tokenizer, template: nil, examples: examples, endToken: 0)
        }
        let straight = try RunDirectory(temporaryDirectory("sft-straight"))
        _ = try await trainer().train(run: straight)
        let broken = try RunDirectory(temporaryDirectory("sft-broken"))
        let interrupt = InterruptFlag()
        let stopped = try await trainer().train(run: broken, interrupt: interrupt) { if $0.step == 3 { interrupt.set() } }
        XCTAssertEqual(stopped, 3)
        _ = try await trainer().train(run: broken, resume: true)
        let a = try Data(contentsOf: straight.checkpointsURL.appendingPathComponent("step-5/model.safetensors"))
        let b = try Data(contentsOf: broken.checkpointsURL.appendingPathComponent("step-5/model.safetensors"))
        XCTAssertEqual(a, b)
    }
}
