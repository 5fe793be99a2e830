import PonderCore
import PonderSearch
import PonderVerifiers
import XCTest

final class SelfConsistencyTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "What is 1/2?", answer: "1/2")

    func testVotingGroupsEquivalentForms() async throws {
        let model = ScriptedModel(["": [boxed("1/2"), boxed("3"), boxed("0.5"), boxed("3"), boxed("\\frac{1}{2}")]])
        let sc = SelfConsistency(samples: 5, batchSize: 5, stopWhenDecided: false)
        let r = try await sc.run(problem: problem, model: model)
        XCTAssertEqual(r.answer, "1/2")
        XCTAssertEqual(r.notes["classes"], "2")
        XCTAssertEqual(r.candidates.map(\.score), [0.6, 0.4, 0.6, 0.4, 0.6])
        XCTAssertEqual(r.chosen, 0)
    }

    func testTallyKeepsDifferentAnswersApart() {
        var t = VoteTally()
        let g = AnswerGrouping()
        for a in ["1/2", "0.5", "\\frac{1}{2}", "2", "\\frac12", "-0.5", nil] { t.add(a, grouping: g) }
        XCTAssertEqual(t.classes.map(\.representative), ["1/2", "2", "-0.5"])
        XCTAssertEqual(t.classes.map(\.count), [4, 1, 1])
        XCTAssertEqual(t.votes, 7)
    }

    func testStopsExactlyWhenLeaderCannotBeCaught() async throws {
        // 5 samples A B A A: after 3, 2 > 1 + 2 remaining is false; after 4, 3 > 1 + 1 is true.
        let model = ScriptedModel(["": [boxed("7"), boxed("8"), boxed("7"), boxed("7"), boxed("7")]])
        let r = try await SelfConsistency(samples: 5, batchSize: 1).run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 4)
        XCTAssertEqual(r.usage.modelCalls, 4)
        XCTAssertEqual(r.answer, "7")
        XCTAssertTrue(r.notes["stop"]!.hasPrefix("decided after 4"), r.notes["stop"]!)
    }

    func testOneMoreSampleLeftDelaysTheStop() async throws {
        // The same votes with 6 samples: after 4, 3 > 1 + 2 is false (a tie is still possible); after 5, 4 > 1 + 1.
        let model = ScriptedModel(["": [boxed("7"), boxed("8"), boxed("7"), boxed("7"), boxed("7"), boxed("7")]])
        let r = try await SelfConsistency(samples: 6, batchSize: 1).run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 5)
    }

    func testDoesNotStopWhileATieIsPossible() async throws {
        // A A B B A with 5 samples: after 2, 2 > 0 + 3 is false; never decided before the end.
        let model = ScriptedModel(["": [boxed("7"), boxed("7"), boxed("8"), boxed("8"), boxed("7")]])
        let r = try await SelfConsistency(samples: 5, batchSize: 1).run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 5)
        XCTAssertEqual(r.answer, "7")
        XCTAssertEqual(r.notes["stop"], "all 5 samples drawn")
    }

    func testUnanimousStopsAtMajority() async throws {
        // 5 samples, all agree: after 3, 3 > 0 + 2.
        let model = ScriptedModel(["": [boxed("4")]])
        let r = try await SelfConsistency(samples: 5, batchSize: 1).run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 3)
    }

    func testConsensusStopNeedsMinimumSamples() async throws {
        // A A A B A, consensus 0.75, minimum 4: share 1.0 after 3 is ignored; 3/4 after 4 stops.
        let model = ScriptedModel(["": [boxed("1"), boxed("1"), boxed("1"), boxed("2"), boxed("1")]])
        let sc = SelfConsistency(samples: 10, batchSize: 1, consensus: 0.75, minimumSamples: 4)
        let r = try await sc.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 4)
        XCTAssertTrue(r.notes["stop"]!.hasPrefix("consensus after 4"), r.notes["stop"]!)
    }

    func testBatchesAreCheckedPerBatch() async throws {
        // Batches of 3 of 9 samples: after 3 unanimous votes 3 > 0 + 6 is false; after 6, 6 > 0 + 3 stops.
        let model = ScriptedModel(["": [boxed("4")]])
        let r = try await SelfConsistency(samples: 9, batchSize: 3).run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.count, 6)
        XCTAssertEqual(model.requests.map(\.parameters.n), [3, 3])
    }

    func testUsageIsExactSum() async throws {
        let model = ScriptedModel(promptTokens: 11, ["": [boxed("1", tokens: 3), boxed("2", tokens: 8), boxed("2", tokens: 4)]])
        let r = try await SelfConsistency(samples: 3, batchSize: 2, stopWhenDecided: false).run(problem: problem, model: model)
        XCTAssertEqual(r.usage.generatedTokens, 15)
        XCTAssertEqual(r.usage.model.promptTokens, 22)
        XCTAssertEqual(r.usage.modelCalls, 2)
        XCTAssertEqual(r.usage.prunedTokens, 0)
        XCTAssertEqual(r.answer, "2")
    }

    func testRejectsBadParameters() async throws {
        let model = ScriptedModel(["": [boxed("1")]])
        do {
            _ = try await SelfConsistency(samples: 0).run(problem: problem, model: model)
            XCTFail("expected an error")
        } catch let e as SearchError {
            XCTAssertEqual(e, .invalidParameter(name: "samples", value: "0", rule: "must be at least 1"))
        }
        XCTAssertTrue(model.requests.isEmpty)
    }

    func testSeedsDifferPerCall() async throws {
        let model = ScriptedModel(["": [boxed("1"), boxed("2")]])
        var p = SamplingParameters()
        p.seed = 100
        _ = try await SelfConsistency(samples: 3, batchSize: 1, stopWhenDecided: false, parameters: p).run(problem: problem, model: model)
        XCTAssertEqual(model.requests.map(\.parameters.seed), [100, 101, 102])
    }
}
