import Foundation
import PonderCore
import PonderEval
import PonderSearch
import PonderTasks
import XCTest

final class AllocatorFitTests: XCTestCase {
    func testQuantileEdgesMergeTies() {
        XCTAssertEqual(AllocatorFit.quantileEdges([0.25, 0.5, 0.5, 0.75, 1, 1], bins: 3), [0.5, 1])
        XCTAssertEqual(AllocatorFit.quantileEdges([0.5, 0.5, 0.5], bins: 3), [], "one value: one bin")
        XCTAssertEqual(AllocatorFit.quantileEdges([0.1, 0.9], bins: 1), [])
    }

    /// The probe's majority is wrong (a 2–2 tie goes to the first answer), eight samples' majority is right: within
    /// one sample's worth of tokens only the probe fits, within sixteen self-consistency over eight does, and the
    /// policy file drives the allocator to the same answers.
    func testFitChoosesThePlanTheBudgetAllows() async throws {
        let model = ScriptedAnswers(
            greedy: "<answer>3</answer>",
            samples: ["<answer>3</answer>", "<answer>3</answer>"] + Array(repeating: "<answer>1/2</answer>", count: 6))
        let task = TaskFormat(name: "t", style: .tagged)
        let problem = Problem.math(id: "p", prompt: "Compute 1/2.", answer: "1/2")
        let configuration = try SearchConfiguration.parse(["--max-tokens", "8", "--seed", "1"])
        let fit = AllocatorFit(
            task: task, problems: [problem], configuration: configuration,
            candidates: [.init(.selfConsistency, budget: 2), .init(.selfConsistency, budget: 8)], budgets: [1, 16], probeSamples: 4, bins: 2
        )
        let (policy, reports) = try await fit.run(model: model)
        XCTAssertEqual(policy.levels.map(\.budget), [1, 16])
        XCTAssertEqual(policy.levels.map(\.edges), [[], []])
        XCTAssertEqual(policy.levels[0].plans, [.probe])
        XCTAssertEqual(policy.levels[1].plans, [.init(strategy: "self-consistency", budget: 8)])
        XCTAssertEqual(policy.levels[1].tokenBudget, 16 * 4)
        XCTAssertEqual(reports.map(\.allocatorAccuracy), [0, 1])
        XCTAssertEqual(reports[1].allocatorTokens, 16 + 32)
        // The fitted policy, run as a strategy, gives the same answers on this problem.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("fit-\(UUID().uuidString).json")
        try policy.save(url)
        var withPolicy = configuration
        withPolicy.policy = url.path
        for (budget, answer) in [(1, "3"), (16, "1/2")] {
            let r = try await withPolicy.strategy(.allocator, budget: budget, model: model).run(
                question: problem.question, prompt: task.prompt(for: problem), model: model)
            XCTAssertEqual(r.answer, answer, "budget \(budget)")
        }
    }
}
