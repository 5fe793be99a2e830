import ArgumentParser
import Foundation
import PonderCore
import XCTest

@testable import PonderSearch

/// A process or outcome "reward model" that scores a step by a table and records what it was asked.
final class TableRewardModel: RewardScoring, @unchecked Sendable {
    let kind: RewardModelKind
    let table: [String: Double]
    private let lock = NSLock()
    private(set) var prompts: [String] = []
    private(set) var stepLists: [[String]] = []

    init(kind: RewardModelKind, table: [String: Double]) {
        self.kind = kind
        self.table = table
    }

    func outcomeScores(prompt: String, solutions: [String]) async throws -> RewardScores {
        lock.withLock { prompts.append(prompt) }
        return RewardScores(scores: solutions.map { [table[$0] ?? 0] }, tokens: 10 * solutions.count)
    }

    func stepScores(prompt: String, solutions: [[String]]) async throws -> RewardScores {
        lock.withLock {
            prompts.append(prompt)
            stepLists += solutions
        }
        return RewardScores(scores: solutions.map { $0.map { table[$0] ?? 0 } }, tokens: 5)
    }
}

final class RewardModelScorerTests: XCTestCase {
    // The problem has no reference: reward-model scorers never need one.
    let context = ScoringContext(question: Question(id: "q", prompt: "Compute 2+3."), prompt: .text("Q: Compute 2+3.\n"))

    func testProcessScoresAggregateStepsAsSearchAndLearn() async throws {
        let model = TableRewardModel(kind: .process, table: ["a": 0.9, "b": 0.2, "c": 0.6])
        let solution = "a, b, c"
        let expected: [StepAggregation: Double] = [.last: 0.6, .min: 0.2, .product: 0.9 * 0.2 * 0.6, .mean: (0.9 + 0.2 + 0.6) / 3]
        for (aggregation, value) in expected {
            let scorer = RewardModelScorer(model: model, delimiter: ", ", aggregation: aggregation)
            let batch = try await scorer.scoreOutcomes([solution], in: context)
            XCTAssertEqual(batch.scores[0], value, accuracy: 1e-12, "\(aggregation)")
            XCTAssertEqual(batch.cost.modelCalls, 1)
            XCTAssertEqual(batch.cost.usage.promptTokens, 5)
        }
        XCTAssertEqual(model.stepLists.last, ["a", "b", "c"])
        XCTAssertEqual(Set(model.prompts), ["Q: Compute 2+3.\n"], "the scorer reads the prompt it is given")
        // A prefix (ending with the delimiter) scores its last step.
        let prefix = try await RewardModelScorer(model: model, delimiter: ", ", aggregation: .min).scorePrefixes(["a, b, "], in: context)
        XCTAssertEqual(prefix.scores, [0.2])
        XCTAssertEqual(model.stepLists.last, ["a", "b"], "the trailing delimiter makes no empty step")
    }

    func testOutcomeModelsScoreWholeTexts() async throws {
        let model = TableRewardModel(kind: .outcome, table: ["right": 0.8, "wrong": 0.1])
        let batch = try await RewardModelScorer(model: model).scoreOutcomes(["wrong", "right"], in: context)
        XCTAssertEqual(batch.scores, [0.1, 0.8])
        XCTAssertEqual(batch.cost.usage.promptTokens, 20)
    }

    func testChatPromptsBecomeTheirText() {
        XCTAssertEqual(Prompt.chat([.user("Compute 2+3.")]).rewardModelText, "Compute 2+3.")
        XCTAssertEqual(RewardModelScorer.steps(of: "x\n\n\n\ny\n\n", delimiter: "\n\n"), ["x", "y"])
    }

    func testScorerChoiceParsing() throws {
        XCTAssertEqual(ScorerChoice(argument: "orm:/tmp/rm"), ScorerChoice(.outcomeModel, path: "/tmp/rm"))
        XCTAssertEqual(ScorerChoice(argument: "prm:runs/a:b"), ScorerChoice(.processModel, path: "runs/a:b"))
        XCTAssertEqual(ScorerChoice(argument: "judge"), .judge)
        XCTAssertNil(ScorerChoice(argument: "orm"), "a reward model needs its directory")
        XCTAssertNil(ScorerChoice(argument: "judge:/x"))
        XCTAssertNil(ScorerChoice(argument: "nope"))
        XCTAssertEqual(ScorerChoice(.processModel, path: "d").description, "prm:d")
        let c = try SearchConfiguration.parse(["--scorer", "oracle", "--step-aggregation", "product"])
        XCTAssertEqual(c.stepAggregation, .product)
        XCTAssertThrowsError(try SearchConfiguration.parse(["--scorer", "orm:/nonexistent-rm"])) {
            XCTAssertTrue("\($0)".contains("/nonexistent-rm/config.json"), "\($0)")
        }
    }

    func testTheRegistryLoadsOncePerPathAndChecksTheKind() async throws {
        let path = "/registry-test-\(UUID().uuidString)"
        let loads = LoadCounter()
        RewardModelRegistry.register { p in
            loads.increment()
            return TableRewardModel(kind: p.hasSuffix("-p") ? .process : .outcome, table: ["x": 0.7])
        }
        let scorer = LazyRewardModelScorer(path: path, kind: .outcome, delimiter: "\n\n", aggregation: .last)
        _ = try await scorer.scoreOutcomes(["x"], in: context)
        let batch = try await scorer.scoreOutcomes(["x"], in: context)
        XCTAssertEqual(batch.scores, [0.7])
        XCTAssertEqual(loads.count, 1)
        let mismatched = LazyRewardModelScorer(path: path + "-p", kind: .outcome, delimiter: "\n\n", aggregation: .last)
        do {
            _ = try await mismatched.scoreOutcomes(["x"], in: context)
            XCTFail("no error")
        } catch { XCTAssertTrue(error.localizedDescription.contains("prm:"), error.localizedDescription) }
    }
}

final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}
