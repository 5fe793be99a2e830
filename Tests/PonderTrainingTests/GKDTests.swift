import Foundation
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
                studentLogits: student, teacherLogits: f["gkd.teacher_logits"]!, mask: mask, beta: c["beta"]!, temperature: c["temperature"]!)
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
