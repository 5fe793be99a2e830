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

    /// DeepConf's definitions: token confidence −mean(top-k log-probabilities); trace confidence the lowest mean
    /// over a sliding group, or the mean over the trace.
    func testConfidenceMeasures() {
        let stop = ConfidenceStop(topLogprobs: 2, window: 2, threshold: 1.5)
        XCTAssertEqual(stop.tokenConfidence(topLogprobs: [-0.1, -2, -3]), 1.05, accuracy: 1e-12)
        let tc = [1.0, 1, 4, 1]
        XCTAssertEqual(ConfidenceVoting(measure: .mean).confidence(tc), 7.0 / 4, accuracy: 1e-12)
        XCTAssertEqual(ConfidenceVoting(measure: .lowestGroup, window: 2).confidence(tc), 1, accuracy: 1e-12)
        XCTAssertEqual(ConfidenceVoting(measure: .lowestGroup, window: 10).confidence(tc), 7.0 / 4, accuracy: 1e-12)
        XCTAssertNil(stop.stops([1]), "no full group yet")
        XCTAssertEqual(stop.stops([3, 1, 1]), 1, "the last group's mean 1 is below 1.5")
        XCTAssertNil(stop.stops([1, 1, 2]), "the last group's mean 1.5 is not below 1.5")
    }

    func testOfflineFilterOverturnsPlainMajority() async throws {
        // Plain majority says 2 (3 votes to 2); the top 60% by confidence are the two 1s and one 2.
        let model = ScriptedModel(["": [confident("1", 5), confident("2", 1), confident("2", 1.5), confident("1", 4), confident("2", 2)]])
        let dc = ConfidenceVoting(traces: 5, keepPercent: 60, measure: .mean)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.chosen, 0)
        XCTAssertEqual(r.notes["kept"], "3")
        XCTAssertEqual(r.usage.prunedTokens, 10)
        XCTAssertEqual(r.usage.generatedTokens, 25)
        XCTAssertNotNil(model.requests[0].parameters.confidence)
        XCTAssertNil(model.requests[0].parameters.confidence?.threshold, "offline: nothing is stopped")
        let plain = try await SelfConsistency(samples: 5, batchSize: 5).run(
            problem: problem, model: ScriptedModel(["": [boxed("1"), boxed("2"), boxed("2"), boxed("1"), boxed("2")]]))
        XCTAssertEqual(plain.answer, "2")
    }

    func testOnlineThresholdFromWarmupAndConsensus() async throws {
        // Warm-up of 4 keeps 50%: confidences 3, 4, .5, .2 → threshold 3; votes 1 (3) and 2 (4): share 4/7 < .6.
        // Trace 5 (1, 3.5) passes: 1 has 6.5 of 10.5 = .62 >= .6 → stop with 5 traces.
        let model = ScriptedModel([
            "": [confident("1", 3), confident("2", 4), confident("1", 0.5), confident("2", 0.2), confident("1", 3.5)]
        ])
        let dc = ConfidenceVoting(traces: 6, warmup: 4, keepPercent: 50, consensus: 0.6, measure: .mean, window: 2)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 5)
        XCTAssertEqual(model.requests.map(\.parameters.n), [4, 1])
        XCTAssertEqual(Double(r.notes["threshold"]!)!, 3, accuracy: 1e-12)
        XCTAssertNil(model.requests[0].parameters.confidence?.threshold, "the warm-up runs to the end")
        XCTAssertEqual(model.requests[1].parameters.confidence?.threshold, 3, "later traces carry the threshold to the engine")
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.usage.prunedTokens, 10)
        XCTAssertTrue(r.notes["stop"]!.hasPrefix("consensus after 5"))
    }

    /// A trace whose group confidence drops below the threshold is stopped by the engine mid-generation: it spends
    /// fewer tokens and does not vote.
    func testOnlineEarlyStopEndsLowConfidenceTraces() async throws {
        let model = ScriptedModel([
            "": [
                confident("1", 3), confident("2", 4), confident("1", 0.5), confident("2", 0.2), confident("2", [3.5, 3.5, 0.5, 3, 3]),
                confident("1", 3.5),
            ]
        ])
        let dc = ConfidenceVoting(traces: 6, warmup: 4, keepPercent: 50, consensus: 0.6, measure: .mean, window: 2)
        let r = try await dc.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 6)
        XCTAssertEqual(r.candidates[4].tokens, 3, "stopped when the group (3.5, .5) fell below 3")
        XCTAssertNil(r.candidates[4].answer)
        XCTAssertEqual(r.notes["stoppedEarly"], "1")
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(r.usage.generatedTokens, 20 + 3 + 5)
        XCTAssertEqual(r.usage.prunedTokens, 10 + 3)
    }

    func testMissingConfidencesIsAnError() async throws {
        let model = ScriptedModel(["": [Completion(text: "\\boxed{1}", tokens: [1], logprobs: nil)]])
        do {
            _ = try await ConfidenceVoting(traces: 2).run(problem: problem, model: model)
            XCTFail("expected an error")
        } catch let e as SearchError {
            XCTAssertEqual(e, .missingLogprobs(model: "scripted"))
        }
    }
}
