import PonderCore
import PonderSearch
import XCTest

final class ScorerTests: XCTestCase {
    let context = ScoringContext(problem: .math(id: "p", prompt: "q", answer: "5"))

    func testVerifierOracle() async throws {
        let s = try await VerifierScorer().scoreOutcomes(["\\boxed{5}", "\\boxed{4}", "no answer"], in: context)
        XCTAssertEqual(s.scores, [1, 0, 0])
        let p = try await VerifierScorer().scorePrefixes(["step one\n\n", "\\boxed{5}"], in: context)
        XCTAssertEqual(p.scores, [0.5, 1])
    }

    func testMonteCarloValueIsVerifiedRolloutRate() async throws {
        let model = ScriptedModel(["a\n\n": [boxed("5"), boxed("4"), boxed("5"), sample("x")]])
        let mc = MonteCarloScorer(model: model, rollouts: 4)
        let s = try await mc.scorePrefixes(["a\n\n", "\\boxed{5}"], in: context)
        XCTAssertEqual(s.scores, [0.5, 1])
        XCTAssertEqual(s.cost.modelCalls, 1)
        XCTAssertEqual(s.cost.usage.completionTokens, 20)
        XCTAssertEqual(model.requests.map(\.parameters.n), [4])
    }

    func testJudgeRatingParser() {
        XCTAssertEqual(JudgeScorer.parseRating("Score: 7"), 7)
        XCTAssertEqual(JudgeScorer.parseRating("<think>maybe 3, or 2</think> I'd give it 8/10."), 8)
        XCTAssertEqual(JudgeScorer.parseRating("Solid work: 7 out of 10 (step 3 is sloppy)"), 7)
        XCTAssertEqual(JudgeScorer.parseRating("**Score:** 9.5"), 9.5)
        XCTAssertEqual(JudgeScorer.parseRating("Step 2 is fine. Score = 6. Step 4 has 3 errors"), 6)
        XCTAssertNil(JudgeScorer.parseRating("I cannot judge this."))
    }

    func testJudgeScoresAreNormalisedAndClamped() async throws {
        let judge = ScriptedModel { req in
            guard case .chat(let m) = req.prompt else { return nil }
            if m[0].content.contains("SOL-A") { return sample("Score: 8") }
            if m[0].content.contains("SOL-B") { return sample("Score: 12") }
            return sample("no idea")
        }
        let s = try await JudgeScorer(model: judge).scoreOutcomes(["SOL-A", "SOL-B", "SOL-C"], in: context)
        XCTAssertEqual(s.scores, [0.8, 1, 0])
        XCTAssertEqual(s.cost.modelCalls, 3)
        XCTAssertEqual(judge.requests[0].parameters.temperature, 0)
    }
}

final class StepScoringTests: XCTestCase {
    func testScoreStepsScoresEachPrefix() async throws {
        let scorer = TableScorer(table: ["a\n\n": 0.2, "a\n\nb\n\n": 0.7, "a\n\nb\n\n\\boxed{1}": 1])
        let s = try await scorer.scoreSteps(
            ["a\n\n", "b\n\n", "\\boxed{1}"], in: ScoringContext(problem: .math(id: "p", prompt: "q", answer: "1")))
        XCTAssertEqual(s.scores, [0.2, 0.7, 1])
    }
}
