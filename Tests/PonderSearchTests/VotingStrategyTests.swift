import Foundation
import PonderCore
import PonderSearch
import XCTest

final class BestOfNTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "2")
    let scorer = TableScorer(
        table: ["so \\boxed{1}": 0.9, "so \\boxed{2}": 0.5, "so \\boxed{4/2}": 0.5],
        cost: ScoringCost(usage: Usage(completionTokens: 4), modelCalls: 1))

    func model() -> ScriptedModel { ScriptedModel(["": [boxed("1"), boxed("2"), boxed("4/2")]]) }

    func testBestPicksHighestScore() async throws {
        let r = try await BestOfN(samples: 3, scorer: scorer).run(problem: problem, model: model())
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.candidates.map(\.score), [0.9, 0.5, 0.5])
        XCTAssertEqual(r.usage.modelCalls, 2)
        XCTAssertEqual(r.usage.generatedTokens, 15)
        XCTAssertEqual(r.usage.scoringTokens, 4)
    }

    func testWeightedMajoritySumsScoresPerEquivalenceClass() async throws {
        // 2 and 4/2 are one class: 0.5 + 0.5 = 1.0 > 0.9.
        let r = try await BestOfN(samples: 3, scorer: scorer, selection: .weightedMajority).run(problem: problem, model: model())
        XCTAssertEqual(r.answer, "2")
        XCTAssertEqual(r.chosen, 1)
        XCTAssertEqual(r.strategy, "weighted-majority")
    }
}

final class ConfidenceVotingTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "1")

    func testConfidenceMeasures() {
        let lp = [-0.1, -0.1, -3, -0.1]
        XCTAssertEqual(ConfidenceVoting(measure: .mean).confidence(lp), exp(-3.3 / 4), accuracy: 1e-12)
        XCTAssertEqual(ConfidenceVoting(measure: .lowestGroup(size: 2)).confidence(lp), exp(-1.55), accuracy: 1e-12)
        XCTAssertEqual(ConfidenceVoting(measure: .lowestGroup(size: 10)).confidence(lp), exp(-3.3 / 4), accuracy: 1e-12)
    }

    func testOfflineFilterOverturnsPlainMajority() async throws {
        // Plain majority says 2 (3 votes to 2); the top 60% by confidence are the two 1s and one 2.
        let model = ScriptedModel([
            "": [
                boxed("1", logprob: -0.1), boxed("2", logprob: -2), boxed("2", logprob: -1.5), boxed("1", logprob: -0.2),
                boxed("2", logprob: -1),
            ]
        ])
        let dc = ConfidenceVoting(traces: 5, keepPercent: 60, measure: .mean)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.chosen, 0)
        XCTAssertEqual(r.notes["kept"], "3")
        XCTAssertEqual(r.usage.prunedTokens, 10)
        XCTAssertEqual(r.usage.generatedTokens, 25)
        XCTAssertTrue(model.requests[0].parameters.logprobs)
        let plain = try await SelfConsistency(samples: 5, batchSize: 5).run(
            problem: problem, model: ScriptedModel(["": [boxed("1"), boxed("2"), boxed("2"), boxed("1"), boxed("2")]]))
        XCTAssertEqual(plain.answer, "2")
    }

    func onlineModel() -> ScriptedModel {
        ScriptedModel([
            "": [
                boxed("1", logprob: -0.1), boxed("2", logprob: -0.05), boxed("1", logprob: -2), boxed("2", logprob: -3),
                boxed("1", logprob: -0.1), boxed("1", logprob: -0.01),
            ]
        ])
    }

    func testOnlineThresholdFromWarmupAndEarlyStop() async throws {
        // Warm-up of 4 keeps 50%: threshold = exp(-0.1). Kept: 1 (.905), 2 (.951): share .49.
        // Trace 5 (1, .905): share 1.81/2.76 = .656 >= .6 → stop with 5 traces.
        let model = onlineModel()
        let dc = ConfidenceVoting(traces: 6, warmup: 4, keepPercent: 50, consensus: 0.6, measure: .mean)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 5)
        XCTAssertEqual(model.requests.map(\.parameters.n), [4, 1])
        XCTAssertEqual(Double(r.notes["threshold"]!)!, exp(-0.1), accuracy: 1e-12)
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.usage.prunedTokens, 10)
        XCTAssertTrue(r.notes["stop"]!.hasPrefix("consensus after 5"))
    }

    func testOnlineWithoutConsensusDrawsAll() async throws {
        let model = onlineModel()
        let dc = ConfidenceVoting(traces: 6, warmup: 4, keepPercent: 50, consensus: 0.9, measure: .mean)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 6)
        XCTAssertEqual(r.notes["stop"], "all 6 traces drawn")
    }

    func testMissingLogprobsIsAnError() async throws {
        let model = ScriptedModel(["": [Completion(text: "\\boxed{1}", tokens: [1], logprobs: nil)]])
        do {
            _ = try await ConfidenceVoting(traces: 2).run(problem: problem, model: model)
            XCTFail("expected an error")
        } catch let e as SearchError {
            XCTAssertEqual(e, .missingLogprobs(model: "scripted"))
        }
    }
}
