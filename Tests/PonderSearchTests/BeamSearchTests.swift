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

    /// N = 4 steps per step, width M = 2: 4 / 2 = 2 beams kept, each refilled to 2 slots.
    func testKeepsTopBeamsByLastStepScore() async throws {
        let model = makeModel()
        let search = BeamSearch(beams: 4, expansions: 2, maxSteps: 3, aggregation: .last, scorer: scorer)
        let r = try await search.run(problem: problem, model: model)
        // Step 1 (4 slots from the root) keeps b (0.9) and c (0.5). Step 2: b → b1, \boxed{2}; c → c1, \boxed{3}; the two
        // finished ones are set aside and do not take a slot, so c1 (0.7) and b1 (0.65) both go on. Step 3 is the last:
        // sampled without the delimiter as a stop, so every path ends.
        XCTAssertEqual(model.requests.map(\.continuation), ["", "b\n\n", "c\n\n", "c\n\nc1\n\n", "b\n\nb1\n\n"])
        XCTAssertEqual(model.requests.map(\.parameters.n), [4, 2, 2, 2, 2])
        XCTAssertEqual(model.requests.map(\.parameters.stop), [["\n\n"], ["\n\n"], ["\n\n"], [], []])
        // Candidates: the best N = 4 finished paths by aggregated score.
        XCTAssertEqual(
            r.candidates.map(\.text), ["c\n\nc1\n\n\\boxed{5}", "b\n\n\\boxed{2}", "b\n\nb1\n\n\\boxed{2}", "c\n\n\\boxed{3}"])
        XCTAssertEqual(r.candidates.map(\.score), [0.8, 0.6, 0.5, 0.4])
        XCTAssertEqual(r.answer, "5")
        // 12 steps of 5 tokens; the four kept paths hold 8 of them (a, d, x and y are pruned).
        XCTAssertEqual(r.usage.generatedTokens, 60)
        XCTAssertEqual(r.usage.prunedTokens, 20)
        // Scorer: prefixes in step 1; outcomes and prefixes in step 2; outcomes in step 3.
        XCTAssertEqual(r.usage.scoringTokens, 12)
        XCTAssertEqual(r.usage.modelCalls, 5 + 4)
        XCTAssertEqual(r.usage.model.promptTokens, 5 * 7 + 4 * 2)
        XCTAssertEqual(r.trace.count, 13)
    }

    /// Duplicate steps are filtered before beams are kept, finished steps are set aside, and the survivors are
    /// refilled to N slots.
    func testDuplicatesAreFilteredAndSurvivorsRefilled() async throws {
        let model = ScriptedModel([
            "": [sample("a"), sample("b"), sample("c"), sample("d")], "b\n\n": [sample("b1"), sample("b1")],
            "c\n\n": [sample("\\boxed{3}"), sample("\\boxed{3}")], "b\n\nb1\n\n": [sample("\\boxed{5}")],
        ])
        let scorer = TableScorer(table: [
            "a\n\n": 0.3, "b\n\n": 0.9, "c\n\n": 0.5, "d\n\n": 0.1, "b\n\nb1\n\n": 0.6, "c\n\n\\boxed{3}": 0.4,
            "b\n\nb1\n\n\\boxed{5}": 0.9,
        ])
        let r = try await BeamSearch(beams: 4, expansions: 2, maxSteps: 3, scorer: scorer).run(problem: problem, model: model)
        // Step 2 leaves one open path (b1, its duplicate dropped); c's two steps finished. b1 alone gets all 4 slots.
        XCTAssertEqual(model.requests.map(\.continuation), ["", "b\n\n", "c\n\n", "b\n\nb1\n\n"])
        XCTAssertEqual(model.requests.map(\.parameters.n), [4, 2, 2, 4])
        XCTAssertEqual(r.trace.filter { $0.text == "b1\n\n" }.count, 2, "both b1 samples are in the trace")
        XCTAssertEqual(r.trace.filter { $0.parent == r.trace.first { $0.text == "b1\n\n" }!.id }.count, 4)
        XCTAssertEqual(r.candidates.count, 4)
        XCTAssertEqual(r.answer, "5")
    }

    func testMinAggregationChangesWhatSurvives() async throws {
        let model = ScriptedModel([
            "": [sample("a"), sample("b"), sample("c"), sample("d")], "b\n\n": [sample("b1"), sample("b2")],
            "c\n\n": [sample("c1"), sample("c2")], "b\n\nb1\n\n": [sample("\\boxed{2}")], "c\n\nc1\n\n": [sample("\\boxed{5}")],
            "c\n\nc2\n\n": [sample("\\boxed{3}")],
        ])
        let scores = TableScorer(table: [
            "a\n\n": 0.3, "b\n\n": 0.9, "c\n\n": 0.5, "d\n\n": 0.1, "b\n\nb1\n\n": 0.65, "b\n\nb2\n\n": 0.2, "c\n\nc1\n\n": 0.7,
            "c\n\nc2\n\n": 0.66, "b\n\nb1\n\n\\boxed{2}": 0.9, "c\n\nc1\n\n\\boxed{5}": 0.8, "c\n\nc2\n\n\\boxed{3}": 0.75,
        ])
        // Last: c1 (0.7) and c2 (0.66) survive step 2.
        let last = try await BeamSearch(beams: 4, expansions: 2, maxSteps: 3, aggregation: .last, scorer: scores).run(
            problem: problem, model: model)
        XCTAssertEqual(Array(model.requests.map(\.continuation).suffix(2)), ["c\n\nc1\n\n", "c\n\nc2\n\n"])
        XCTAssertEqual(last.answer, "5")
        // Min: b1 min(0.9, 0.65) = 0.65 and c1 min(0.5, 0.7) = 0.5 (tied with c2, and earlier) survive.
        let model2 = ScriptedModel([
            "": [sample("a"), sample("b"), sample("c"), sample("d")], "b\n\n": [sample("b1"), sample("b2")],
            "c\n\n": [sample("c1"), sample("c2")], "b\n\nb1\n\n": [sample("\\boxed{2}")], "c\n\nc1\n\n": [sample("\\boxed{5}")],
        ])
        let min = try await BeamSearch(beams: 4, expansions: 2, maxSteps: 3, aggregation: .min, scorer: scores).run(
            problem: problem, model: model2)
        XCTAssertEqual(Array(model2.requests.map(\.continuation).suffix(2)), ["b\n\nb1\n\n", "c\n\nc1\n\n"])
        // b1 → \boxed{2}: min 0.65; c1 → \boxed{5}: min 0.5.
        XCTAssertEqual(min.answer, "2")
    }

    func testProductAggregation() {
        XCTAssertEqual(StepAggregation.product.aggregate([0.5, 0.5, 0.8]), 0.2, accuracy: 1e-12)
        XCTAssertEqual(StepAggregation.min.aggregate([0.5, 0.2, 0.8]), 0.2)
        XCTAssertEqual(StepAggregation.last.aggregate([0.5, 0.2, 0.8]), 0.8)
    }

    func testLookaheadScoresTheExtendedPath() async throws {
        // N = M = 2, lookahead 1: "p" looks ahead to "p\n\n\\boxed{1}" and "r" to "r\n\n\\boxed{5}"; by their
        // lookahead r is kept (without it, p would be: 0.9 against 0.1).
        let model = ScriptedModel([
            "": [sample("p"), sample("r")], "p\n\n": [sample("\\boxed{1}", tokens: 4)], "r\n\n": [sample("\\boxed{5}", tokens: 6)],
        ])
        let scorer = TableScorer(table: ["p\n\n\\boxed{1}": 0.2, "r\n\n\\boxed{5}": 0.9, "p\n\n": 0.9, "r\n\n": 0.1])
        let search = BeamSearch(beams: 2, expansions: 2, lookahead: 1, maxSteps: 2, scorer: scorer)
        let r = try await search.run(problem: problem, model: model)
        XCTAssertEqual(r.candidates.map(\.text), ["r\n\n\\boxed{5}", "r\n\n\\boxed{5}"])
        XCTAssertEqual(model.requests.filter { $0.continuation == "p\n\n" }.first?.parameters.temperature, 0)
        // Steps 10 + lookahead (4 + 6) + the last step (2 × 6); lookahead tokens and the dropped step "p" (5) are pruned.
        XCTAssertEqual(r.usage.generatedTokens, 10 + 10 + 12)
        XCTAssertEqual(r.usage.prunedTokens, 15)
    }

    func testRejectsZeroWidth() async throws {
        let search = BeamSearch(beams: 2, expansions: 0, scorer: scorer)
        do {
            _ = try await search.run(problem: problem, model: makeModel())
            XCTFail("expected an error")
        } catch let e as SearchError {
            XCTAssertEqual(e, .invalidParameter(name: "expansions", value: "0", rule: "beam width must be in 1...beams (2)"))
            XCTAssertTrue(e.localizedDescription.contains("expansions = 0"))
        }
    }

    /// N = 4, M = 2: two subtrees, each following its best step greedily; the candidates are all N solutions of
    /// the subtrees' last expansions.
    func testDiverseTreeSearchReturnsAllNFinalCandidates() async throws {
        let model = ScriptedModel([
            "": [sample("a"), sample("b")], "a\n\n": [sample("\\boxed{1}"), sample("\\boxed{5}")], "b\n\n": [sample("\\boxed{5}")],
        ])
        let scorer = TableScorer(table: ["a\n\n": 0.9, "b\n\n": 0.1, "a\n\n\\boxed{1}": 0.3, "a\n\n\\boxed{5}": 0.8])
        let dvts = DiverseVerifierTreeSearch(budget: 4, width: 2, subtree: BeamSearch(beams: 2, expansions: 2, scorer: scorer))
        let r = try await dvts.run(problem: problem, model: model)
        // Each subtree: root → {a, b}, follow a (0.9); a → {\boxed{1}, \boxed{5}}, the best ended: stop.
        XCTAssertEqual(r.notes["subtrees"], "2")
        XCTAssertEqual(r.candidates.count, 4, "N candidates, not N / M")
        XCTAssertEqual(r.candidates.map(\.text), ["a\n\n\\boxed{1}", "a\n\n\\boxed{5}", "a\n\n\\boxed{1}", "a\n\n\\boxed{5}"])
        XCTAssertEqual(r.answer, "5")
        XCTAssertEqual(r.usage.modelCalls, 4)
        XCTAssertEqual(r.usage.generatedTokens, 40)
        XCTAssertEqual(r.usage.prunedTokens, 10, "only the unfollowed b steps")
        XCTAssertEqual(r.trace.count, 1 + 2 * 4)
        XCTAssertEqual(r.trace.filter { $0.parent == 0 }.count, 4)
        // Each subtree draws with its own seed.
        let seeded = DiverseVerifierTreeSearch(
            budget: 4, width: 2, subtree: BeamSearch(beams: 2, expansions: 2, scorer: scorer, parameters: SamplingParameters(seed: 9)))
        let model2 = ScriptedModel([
            "": [sample("a"), sample("b")], "a\n\n": [sample("\\boxed{1}"), sample("\\boxed{5}")], "b\n\n": [sample("\\boxed{5}")],
        ])
        _ = try await seeded.run(problem: problem, model: model2)
        XCTAssertEqual(Set(model2.requests.filter { $0.continuation.isEmpty }.map(\.parameters.seed)).count, 2)
        do {
            _ = try await DiverseVerifierTreeSearch(budget: 5, width: 2, subtree: BeamSearch(scorer: scorer)).run(
                problem: problem, model: model)
            XCTFail("expected an error")
        } catch SearchError.invalidParameter(let name, _, _) {
            XCTAssertEqual(name, "budget")
        }
    }
}
