import PonderCore
import PonderSearch
import XCTest

final class BeamSearchTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "5")

    /// Two beams, two expansions: the root gets 4 steps; each kept beam 2.
    func makeModel() -> ScriptedModel {
        ScriptedModel([
            "": [sample("a"), sample("b"), sample("c"), sample("d")],
            "b\n\n": [sample("b1"), sample("\\boxed{2}")],
            "c\n\n": [sample("c1"), sample("\\boxed{3}")],
            "b\n\nb1\n\n": [sample("\\boxed{2}"), sample("x")],
            "c\n\nc1\n\n": [sample("\\boxed{5}"), sample("y")],
        ])
    }

    let scorer = TableScorer(
        table: [
            "a\n\n": 0.3, "b\n\n": 0.9, "c\n\n": 0.5, "d\n\n": 0.1,
            "b\n\nb1\n\n": 0.65, "b\n\n\\boxed{2}": 0.6, "c\n\nc1\n\n": 0.7, "c\n\n\\boxed{3}": 0.4,
            "b\n\nb1\n\n\\boxed{2}": 0.5, "b\n\nb1\n\nx\n\n": 0.1, "c\n\nc1\n\n\\boxed{5}": 0.8, "c\n\nc1\n\ny\n\n": 0.2,
        ], cost: ScoringCost(usage: Usage(promptTokens: 2, completionTokens: 3), modelCalls: 1))

    /// A step the model ended itself (end of sequence, per the completion's stop reason) finishes its beam even
    /// without a final answer: it is never extended past the model's own end.
    func testAStepThatEndedTheSequenceIsNotExtended() async throws {
        let model = ScriptedModel([
            "": [ended("I give up"), sample("c")],
            "c\n\n": [sample("\\boxed{5}"), sample("\\boxed{4}")],
        ])
        let table = TableScorer(
            table: ["I give up": 0.9, "c\n\n": 0.5, "c\n\n\\boxed{5}": 0.8, "c\n\n\\boxed{4}": 0.1],
            cost: ScoringCost(usage: Usage(), modelCalls: 0))
        let search = BeamSearch(beams: 2, expansions: 1, maxSteps: 3, aggregation: .last, scorer: table)
        let r = try await search.run(problem: problem, model: model)
        XCTAssertFalse(model.requests.contains { $0.continuation.hasPrefix("I give up") }, "the ended step was not continued")
        XCTAssertTrue(r.candidates.map(\.text).contains("I give up"), "it is a finished candidate")
    }

    func testKeepsTopBeamsByLastStepScore() async throws {
        let model = makeModel()
        let search = BeamSearch(beams: 2, expansions: 2, maxSteps: 3, aggregation: .last, scorer: scorer)
        let r = try await search.run(problem: problem, model: model)
        // Step 1 keeps b (0.9) and c (0.5); step 2 keeps c1 (0.7) and b1 (0.65) over \boxed{2} (0.6);
        // step 3 keeps \boxed{5} (0.8) and \boxed{2} (0.5), both finished.
        XCTAssertEqual(model.requests.map(\.continuation), ["", "b\n\n", "c\n\n", "c\n\nc1\n\n", "b\n\nb1\n\n"])
        XCTAssertEqual(model.requests.map(\.parameters.n), [4, 2, 2, 2, 2])
        XCTAssertEqual(model.requests.map(\.parameters.stop), Array(repeating: ["\n\n"], count: 5))
        XCTAssertEqual(r.candidates.map(\.text), ["c\n\nc1\n\n\\boxed{5}", "b\n\nb1\n\n\\boxed{2}"])
        XCTAssertEqual(r.candidates.map(\.score), [0.8, 0.5])
        XCTAssertEqual(r.answer, "5")
        // 12 steps of 5 tokens; the two finished paths hold 6 of them.
        XCTAssertEqual(r.usage.generatedTokens, 60)
        XCTAssertEqual(r.usage.prunedTokens, 30)
        // Scorer: 1 call in step 1 (prefixes only), 2 in steps 2 and 3 (outcomes and prefixes).
        XCTAssertEqual(r.usage.scoringTokens, 15)
        XCTAssertEqual(r.usage.modelCalls, 5 + 5)
        XCTAssertEqual(r.usage.model.promptTokens, 5 * 7 + 5 * 2)
        XCTAssertEqual(r.trace.count, 13)
    }

    func testMinAggregationChangesWhatSurvives() async throws {
        let model = makeModel()
        let search = BeamSearch(beams: 2, expansions: 2, maxSteps: 3, aggregation: .min, scorer: scorer)
        let r = try await search.run(problem: problem, model: model)
        // Step 2 under min: b1 min(0.9, 0.65) = 0.65, \boxed{2} 0.6, c1 min(0.5, 0.7) = 0.5: b1 and \boxed{2} survive.
        XCTAssertEqual(model.requests.map(\.continuation), ["", "b\n\n", "c\n\n", "b\n\nb1\n\n"])
        XCTAssertEqual(r.candidates.map(\.text), ["b\n\n\\boxed{2}", "b\n\nb1\n\n\\boxed{2}"])
        XCTAssertEqual(r.candidates.map(\.score), [0.6, 0.5])
        XCTAssertEqual(r.answer, "2")
    }

    func testProductAggregation() {
        XCTAssertEqual(StepAggregation.product.aggregate([0.5, 0.5, 0.8]), 0.2, accuracy: 1e-12)
        XCTAssertEqual(StepAggregation.min.aggregate([0.5, 0.2, 0.8]), 0.2)
        XCTAssertEqual(StepAggregation.last.aggregate([0.5, 0.2, 0.8]), 0.8)
    }

    func testLookaheadScoresTheExtendedPath() async throws {
        // One beam, two expansions, lookahead 1: "p" looks ahead to "p\n\nq" and "r" to "r\n\ns".
        let model = ScriptedModel([
            "": [sample("p"), sample("r")], "p\n\n": [sample("\\boxed{1}", tokens: 4)], "r\n\n": [sample("\\boxed{5}", tokens: 6)],
        ])
        let scorer = TableScorer(table: ["p\n\n\\boxed{1}": 0.2, "r\n\n\\boxed{5}": 0.9, "p\n\n": 0.9, "r\n\n": 0.1])
        let search = BeamSearch(beams: 1, expansions: 2, lookahead: 1, maxSteps: 1, scorer: scorer)
        let r = try await search.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.map(\.text), ["r\n\n"])
        XCTAssertEqual(r.candidates.map(\.score), [0.9])
        XCTAssertEqual(model.requests.filter { $0.continuation == "p\n\n" }.first?.parameters.temperature, 0)
        // Lookahead tokens (4 + 6) and the dropped step "p" (5) are pruned.
        XCTAssertEqual(r.usage.generatedTokens, 10 + 10)
        XCTAssertEqual(r.usage.prunedTokens, 15)
    }

    func testRejectsZeroWidth() async throws {
        let search = BeamSearch(beams: 2, expansions: 0, scorer: scorer)
        do {
            _ = try await search.run(problem: problem, model: makeModel())
            XCTFail("expected an error")
        } catch let e as SearchError {
            XCTAssertEqual(e, .invalidParameter(name: "expansions", value: "0", rule: "beam width must be at least 1"))
            XCTAssertTrue(e.localizedDescription.contains("expansions = 0"))
        }
    }

    func testDiverseTreeSearchRunsIndependentSubtrees() async throws {
        let model = ScriptedModel([
            "": [sample("a"), sample("b")], "a\n\n": [sample("\\boxed{1}")], "b\n\n": [sample("\\boxed{5}")],
        ])
        let scorer = TableScorer(table: ["a\n\n": 0.9, "b\n\n": 0.1, "a\n\n\\boxed{1}": 0.3, "b\n\n\\boxed{5}": 0.8])
        let dvts = DiverseVerifierTreeSearch(budget: 4, width: 2, subtree: BeamSearch(scorer: scorer))
        let r = try await dvts.run(problem: problem, model: model)
        // Two subtrees, each: root → {a, b}, keep a (0.9), a → two \boxed{1}, keep one.
        XCTAssertEqual(r.notes["subtrees"], "2")
        XCTAssertEqual(r.candidates.map(\.text), ["a\n\n\\boxed{1}", "a\n\n\\boxed{1}"])
        XCTAssertEqual(r.usage.modelCalls, 4)
        XCTAssertEqual(r.usage.generatedTokens, 40)
        XCTAssertEqual(r.usage.prunedTokens, 20)
        XCTAssertEqual(r.trace.count, 1 + 2 * 4)
        XCTAssertEqual(r.trace.filter { $0.parent == 0 }.count, 4)
        do {
            _ = try await DiverseVerifierTreeSearch(budget: 5, width: 2, subtree: BeamSearch(scorer: scorer)).run(
                problem: problem, model: model)
            XCTFail("expected an error")
        } catch SearchError.invalidParameter(let name, _, _) {
            XCTAssertEqual(name, "budget")
        }
    }
}
