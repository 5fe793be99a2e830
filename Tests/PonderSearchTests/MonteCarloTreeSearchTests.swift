import Foundation
import PonderCore
import PonderSearch
import XCTest

final class MonteCarloTreeSearchTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "1")

    /// root → A "a" (P 0.6), B "\boxed{1}" (P 0.4, ends); A → A1 "\boxed{2}" (P 0.75), A2 "\boxed{3}" (P 0.25).
    func makeModel() -> ScriptedModel {
        ScriptedModel([
            "": [sample("a", logprobs: [log(0.3), log(0.3)]), sample("\\boxed{1}", logprobs: [log(0.2)])],
            "a\n\n": [sample("\\boxed{2}", logprobs: [log(0.3)]), sample("\\boxed{3}", logprobs: [log(0.1)])],
        ])
    }

    let scorer = TableScorer(
        table: ["a\n\n": 0.3, "\\boxed{1}": 0.6, "a\n\n\\boxed{2}": 0.2, "a\n\n\\boxed{3}": 0.9],
        cost: ScoringCost(usage: Usage(completionTokens: 1), modelCalls: 1))

    func testVisitCountsFollowPUCT() async throws {
        // c = 2, Q of an unvisited child 0, PUCT = Q + 2·P·√N/(1+n).
        // 1: root expands (N = 0, all 0; tie → larger prior) → A, value 0.3.
        // 2: root N=1: A .3 + 1.2/2 = .9, B .8/1 = .8 → A; A expands (N=1): A1 1.5, A2 .5 → A1, value .2.
        // 3: N=2: A .25 + 1.2·1.414/3 = .816, B .8·1.414 = 1.131 → B, value .6.
        // 4: N=3: A .25 + 1.2·1.732/3 = .943, B .6 + .8·1.732/2 = 1.293 → B.
        // 5: N=4: A .25 + 1.2·2/3 = 1.05, B .6 + .8·2/3 = 1.133 → B.
        // 6: N=5: A .25 + 1.2·2.236/3 = 1.144, B .6 + .8·2.236/4 = 1.047 → A; at A (N=2): A1 .2 + 1.5·1.414/2 = 1.261,
        //    A2 .5·1.414 = .707 → A1 (ended, value .2 reused).
        let model = makeModel()
        let mcts = MonteCarloTreeSearch(iterations: 6, expansions: 2, exploration: 2, scorer: scorer)
        let r = try await mcts.run(problem: problem, model: model)
        let byText = Dictionary(uniqueKeysWithValues: r.trace.map { ($0.text, $0) })
        XCTAssertEqual(r.trace[0].visits, 6)
        XCTAssertEqual(byText["a\n\n"]?.visits, 3)
        XCTAssertEqual(byText["\\boxed{1}"]?.visits, 3)
        XCTAssertEqual(byText["\\boxed{2}"]?.visits, 2)
        XCTAssertEqual(byText["\\boxed{3}"]?.visits, 0)
        XCTAssertEqual(byText["a\n\n"]!.prior!, 0.6, accuracy: 1e-12)
        XCTAssertEqual(byText["\\boxed{2}"]!.prior!, 0.75, accuracy: 1e-12)
        XCTAssertEqual(byText["a\n\n"]!.value!, 0.7 / 3, accuracy: 1e-12)
        XCTAssertEqual(byText["\\boxed{1}"]!.value!, 0.6, accuracy: 1e-12)
        // Finished leaves: B (\\boxed{1}, 3 visits) and A1 (\\boxed{2}, 2 visits); by visits, 1 wins.
        XCTAssertEqual(r.answer, "1")
        XCTAssertEqual(Set(r.candidates.map(\.answer)), ["1", "2"])
        XCTAssertTrue(r.candidates.allSatisfy(\.isComplete), "only finished leaves are candidates")
        // Two expansions; three evaluations (A, A1, B), each scored once.
        XCTAssertEqual(model.requests.count, 2)
        XCTAssertEqual(r.usage.modelCalls, 5)
        XCTAssertEqual(r.usage.scoringTokens, 3)
        // Tokens: a 2, \boxed{1} 1, \boxed{2} 1, \boxed{3} 1; the unvisited A2 is pruned.
        XCTAssertEqual(r.usage.generatedTokens, 5)
        XCTAssertEqual(r.usage.prunedTokens, 1)
    }

    /// The answer aggregates finished leaves: by visits or by value; the same tree gives a different answer under
    /// each rule.
    func testFinalAnswerAggregatesFinishedLeaves() async throws {
        // Same tree and selection rule as above (6 iterations, c = 2) with values A .1, B .6, A1 .7, A2 .9: B "1" ends
        // with 3 visits (value .6), A1 "2" with 2 (value .7), A2 unvisited (worked out by hand and by a PUCT replay).
        let values = TableScorer(table: ["a\n\n": 0.1, "\\boxed{1}": 0.6, "a\n\n\\boxed{2}": 0.7, "a\n\n\\boxed{3}": 0.9])
        let byVisits = try await MonteCarloTreeSearch(iterations: 6, expansions: 2, exploration: 2, finalAnswer: .visits, scorer: values)
            .run(problem: problem, model: makeModel())
        let visits = Dictionary(uniqueKeysWithValues: byVisits.trace.map { ($0.text, $0.visits) })
        XCTAssertEqual(visits["\\boxed{1}"], 3)
        XCTAssertEqual(visits["\\boxed{2}"], 2)
        XCTAssertEqual(visits["\\boxed{3}"], 0)
        XCTAssertEqual(byVisits.answer, "1")
        XCTAssertEqual(Set(byVisits.candidates.map(\.answer)), ["1", "2"], "the unvisited leaf is not a candidate")
        let byValue = try await MonteCarloTreeSearch(iterations: 6, expansions: 2, exploration: 2, finalAnswer: .value, scorer: values)
            .run(problem: problem, model: makeModel())
        XCTAssertEqual(byValue.answer, "2")
    }

    func testUniformPriorsAndMergedSiblings() async throws {
        // Two of the three children of the root are the same step: they become one child with twice the prior.
        let model = ScriptedModel(["": [sample("a"), sample("a"), sample("\\boxed{1}", tokens: 3)], "a\n\n": [boxed("2")]])
        let mcts = MonteCarloTreeSearch(iterations: 4, expansions: 3, exploration: 2, prior: .uniform, scorer: scorer)
        let r = try await mcts.run(problem: problem, model: model)
        XCTAssertFalse(model.requests[0].parameters.logprobs)
        let rootChildren = r.trace.filter { $0.parent == 0 }
        XCTAssertEqual(rootChildren.map(\.text), ["a\n\n", "\\boxed{1}"])
        XCTAssertEqual(rootChildren[0].prior!, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(rootChildren[1].prior!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(r.usage.prunedTokens, 5, "the merged duplicate's tokens are pruned")
    }

    /// Priors are per-token probabilities: a long, likely step is not beaten by a short, unlikely one.
    func testPriorsDoNotFavourShortSteps() async throws {
        let long = sample("long step", logprobs: Array(repeating: log(0.9), count: 10))  // sequence probability 0.35
        let short = sample("s", logprobs: [log(0.5)])  // 0.5
        let model = ScriptedModel(["": [long, short], "long step\n\n": [boxed("1")], "s\n\n": [boxed("2")]])
        let r = try await MonteCarloTreeSearch(iterations: 1, expansions: 2, scorer: scorer).run(problem: problem, model: model)
        XCTAssertEqual(r.trace[1].prior!, 0.9 / 1.4, accuracy: 1e-12)
        XCTAssertGreaterThan(r.trace[1].prior!, r.trace[2].prior!)
    }

    func testRejectsZeroIterations() async throws {
        do {
            _ = try await MonteCarloTreeSearch(iterations: 0, scorer: scorer).run(problem: problem, model: makeModel())
            XCTFail("expected an error")
        } catch SearchError.invalidParameter(let name, _, _) {
            XCTAssertEqual(name, "iterations")
        }
    }
}

final class MonteCarloRolloutValueTests: XCTestCase {
    func testRolloutValuesAndJSONResult() async throws {
        // root → "a" and "b"; rollouts from "a\n\n" succeed 2 of 2, from "b\n\n" 0 of 2.
        let model = ScriptedModel([
            "": [sample("a", logprobs: [log(0.5)]), sample("b", logprobs: [log(0.5)])],
            "a\n\n": [boxed("5", tokens: 3)], "b\n\n": [boxed("6", tokens: 4)],
        ])
        let problem = Problem.math(id: "p", prompt: "q", answer: "5")
        let scorer = MonteCarloScorer(model: model, rollouts: 2, target: .references(ReferenceAnswers([problem])))
        let mcts = MonteCarloTreeSearch(iterations: 3, expansions: 2, exploration: 1, scorer: scorer)
        let r = try await mcts.run(problem: problem, model: model)
        // 1: expand root; tie on PUCT and prior → a (value 1). 2: a 1 + .5·1/2 = 1.25, b .5 → a, expand a (2 × \boxed{5}),
        //    evaluate its first child (ended, verified 1). 3: N=2: a 1 + .5·1.414/3 = 1.236, b .707 → a → child 2 (1).
        XCTAssertEqual(r.trace[1].visits, 3)
        XCTAssertEqual(r.trace[2].visits, 0)
        XCTAssertEqual(r.trace[1].score, 1)
        XCTAssertEqual(r.answer, "5")
        // Scoring: one rollout call of 2 × 3 tokens; ended children are verified without calls.
        XCTAssertEqual(r.usage.scoringTokens, 6)
        XCTAssertEqual(r.usage.modelCalls, 3)
        XCTAssertEqual(r.usage.generatedTokens, 1 + 1 + 3 + 3)
        let data = try JSONEncoder().encode(r)
        XCTAssertEqual(try JSONDecoder().decode(SearchResult.self, from: data), r)
    }
}
