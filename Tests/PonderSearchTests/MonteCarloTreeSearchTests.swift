import Foundation
import PonderCore
import PonderSearch
import XCTest

final class MonteCarloTreeSearchTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "1")

    /// root → A "a" (P 0.6), B "\boxed{1}" (P 0.4, ends); A → A1 "\boxed{2}" (P 0.75), A2 "\boxed{3}" (P 0.25).
    func makeModel() -> ScriptedModel {
        ScriptedModel([
            "": [sample("a", logprobs: [log(0.5), log(0.6)]), sample("\\boxed{1}", logprobs: [log(0.2)])],
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
        // A and B tie on visits; B has the higher mean value.
        XCTAssertEqual(r.answer, "1")
        // Two expansions; three evaluations (A, A1, B), each scored once.
        XCTAssertEqual(model.requests.count, 2)
        XCTAssertEqual(r.usage.modelCalls, 5)
        XCTAssertEqual(r.usage.scoringTokens, 3)
        // Tokens: a 2, \boxed{1} 1, \boxed{2} 1, \boxed{3} 1; the unvisited A2 is pruned.
        XCTAssertEqual(r.usage.generatedTokens, 5)
        XCTAssertEqual(r.usage.prunedTokens, 1)
    }

    func testUniformPriorsAndVote() async throws {
        let model = makeModel()
        let mcts = MonteCarloTreeSearch(iterations: 6, expansions: 2, exploration: 2, prior: .uniform, finalAnswer: .vote, scorer: scorer)
        let r = try await mcts.run(problem: problem, model: model)
        XCTAssertEqual(r.trace[1].prior, 0.5)
        XCTAssertFalse(model.requests[0].parameters.logprobs)
        XCTAssertNotNil(r.answer)
        XCTAssertEqual(Set(r.candidates.map(\.answer)).count, r.candidates.count)
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
        let scorer = MonteCarloScorer(model: model, rollouts: 2)
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
