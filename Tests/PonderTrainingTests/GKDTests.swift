import Foundation
import PonderCore
import PonderModels
import PonderTokenizers
import Torch
import XCTest

@testable import PonderTraining

/// The generalized JSD against TRL 1.16's `GKDTrainer.generalized_jsd_loss` (scripts/fixtures/make_dpo_fixtures.py).
final class GKDTests: XCTestCase {
    func testGeneralizedJSDMatchesTRL() throws {
        let f = try Safetensors.read(DPOTests.fixture)
        let labels = f["gkd.labels"]!
        let mask = (labels .!= Int64(-100)).to(.float32)
        for (k, c) in (DPOTests.info["gkd_cases"] as! [[String: Double]]).enumerated() {
            let student = f["gkd.student_logits"]!.clone()
            student.requiresGrad = true
            let loss = GeneralizedJSD.loss(
                studentLogits: student, teacherLogits: f["gkd.teacher_logits"]!, mask: mask, beta: c["beta"]!,
                temperature: c["temperature"]!)
            loss.backward()
            let expected = f["gkd.\(k).loss"]!.item()
            XCTAssertEqual(loss.item(), expected, accuracy: 1e-5 * Swift.max(1, abs(expected)), "case \(k) \(c)")
            let diff = (student.grad! - f["gkd.\(k).grad"]!).abs().max().item()
            XCTAssertLessThanOrEqual(diff / f["gkd.\(k).grad"]!.abs().max().item(), 1e-4, "case \(k) gradient")
            // Masked positions get no gradient.
            XCTAssertEqual(student.grad!.narrow(axis: 1, start: 0, length: 2).narrow(axis: 0, start: 0, length: 1).abs().sum().item(), 0)
        }
    }

    func testDivergenceVanishesWhenStudentIsTeacher() {
        let logits = Tensor.randn([2, 3, 7], generator: RandomGenerator(seed: 1))
        for beta in [0.0, 0.3, 1.0] {
            let loss = GeneralizedJSD.loss(studentLogits: logits, teacherLogits: logits, mask: Tensor.ones([2, 3]), beta: beta)
            XCTAssertEqual(loss.item(), 0, accuracy: 1e-6)
        }
    }
}

/// The GKD trainer on tiny models: off-policy steps pull the student's distribution onto the teacher's; on-policy
/// steps train on the student's own samples; teachers with another vocabulary are refused.
final class GKDTrainerTests: XCTestCase {
    let examples = (0..<8).map { SFTExample(prompt: .text("Question \($0): what is \($0) + 1?"), completion: " The answer is \($0 + 1).") }

    func makeTrainer(_ configure: (inout GKDTrainer.Configuration) -> Void) throws -> GKDTrainer {
        var c = GKDTrainer.Configuration.defaults
        c.training.steps = 8
        c.training.learningRate = 3e-3
        c.training.decay = .constant
        c.batchSize = 4
        c.maxNewTokens = 6
        configure(&c)
        let config = try ModelDirectory.configuration(at: fixtureModel)
        let student = try CausalLM(configuration: config, seed: 1)
        let teacher = try CausalLM(configuration: config, seed: 2)
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let sampler = Engine(model: student, tokenizer: tokenizer, template: nil, name: "student", options: .init(prefixCacheBytes: 0))
        return try GKDTrainer(
            configuration: c, student: student, teacher: teacher, studentSampler: sampler, tokenizer: tokenizer, template: nil,
            examples: examples, endToken: 0)
    }

    func testOffPolicyStepsMoveTheStudentTowardTheTeacher() async throws {
        let trainer = try makeTrainer { $0.lmbda = 0 }
        var reports: [StepReport] = []
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("gkd-off"))) { reports.append($0) }
        XCTAssertEqual(reports.map { $0.metrics["on_policy"]! }, Array(repeating: 0, count: 8))
        let before = reports.prefix(2).map { $0.metrics["loss"]! }.reduce(0, +)
        let after = reports.suffix(2).map { $0.metrics["loss"]! }.reduce(0, +)
        XCTAssertLessThan(after, 0.7 * before, "\(reports.map { $0.metrics["loss"]! })")
    }

    func testOnPolicyStepsTrainOnTheStudentsSamples() async throws {
        let trainer = try makeTrainer {
            $0.lmbda = 1
            $0.training.steps = 2
        }
        var reports: [StepReport] = []
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("gkd-on"))) { reports.append($0) }
        XCTAssertEqual(reports.map { $0.metrics["on_policy"]! }, [1, 1])
        XCTAssertGreaterThan(reports[0].metrics["loss"]!, 0)
        XCTAssertLessThanOrEqual(reports[0].metrics["completions/mean_length"]!, 6)
        // lmbda is the on-policy fraction of the steps.
        let half = try makeTrainer { $0.lmbda = 0.3 }
        let share = Double((0..<2000).filter { half.isOnPolicy(step: $0) }.count) / 2000
        XCTAssertEqual(share, 0.3, accuracy: 0.04)
    }

    func testSequenceLevelStepsTrainOnTheTeachersSamples() async throws {
        var c = GKDTrainer.Configuration.defaults
        c.training.steps = 2
        c.lmbda = 0
        c.seqKD = true
        c.batchSize = 2
        c.maxNewTokens = 5
        let config = try ModelDirectory.configuration(at: fixtureModel)
        let (student, teacher) = (try CausalLM(configuration: config, seed: 1), try CausalLM(configuration: config, seed: 2))
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let trainer = try GKDTrainer(
            configuration: c, student: student, teacher: teacher,
            studentSampler: Engine(model: student, tokenizer: tokenizer, template: nil, name: "student"),
            teacherSampler: Engine(model: teacher, tokenizer: tokenizer, template: nil, name: "teacher"), tokenizer: tokenizer,
            template: nil, examples: examples, endToken: 0)
        var reports: [StepReport] = []
        _ = try await trainer.train(run: RunDirectory(temporaryDirectory("gkd-seq"))) { reports.append($0) }
        XCTAssertEqual(reports.map { $0.metrics["on_policy"]! }, [0, 0])
        // The teacher's samples (at most 5 tokens), not the data's completions (8+ tokens with the end token).
        for r in reports { XCTAssertLessThanOrEqual(r.metrics["completions/mean_length"]!, 5) }
    }

    func testTeacherWithAnotherVocabularyIsRefused() throws {
        var config = try ModelDirectory.configuration(at: fixtureModel)
        let student = try CausalLM(configuration: config, seed: 1)
        config.vocabularySize += 5
        let teacher = try CausalLM(configuration: config, seed: 2)
        let tokenizer = try Tokenizer.load(directory: fixtureModel)
        let sampler = Engine(model: student, tokenizer: tokenizer, template: nil, name: "student")
        XCTAssertThrowsError(
            try GKDTrainer(
                configuration: .defaults, student: student, teacher: teacher, studentSampler: sampler, tokenizer: tokenizer, template: nil,
                examples: examples, endToken: 0)
        ) { XCTAssertTrue($0.localizedDescription.contains("shared tokenizer"), $0.localizedDescription) }
    }
}
