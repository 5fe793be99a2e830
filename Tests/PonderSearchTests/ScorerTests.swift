import PonderCore
import PonderSearch
import XCTest

final class ScorerTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "5")
    var context: ScoringContext { ScoringContext(question: problem.question) }

    func testOracleGradesAgainstTheReferencesItWasGiven() async throws {
        let oracle = OracleScorer(references: ReferenceAnswers([problem]))
        XCTAssertTrue(oracle.isOracle)
        let s = try await oracle.scoreOutcomes(["\\boxed{5}", "\\boxed{4}", "no answer"], in: context)
        XCTAssertEqual(s.scores, [1, 0, 0])
        let p = try await oracle.scorePrefixes(["step one\n\n", "\\boxed{5}"], in: context)
        XCTAssertEqual(p.scores, [0.5, 1])
        // The context carries no answer: an oracle without this problem's reference cannot grade it.
        do {
            _ = try await OracleScorer(references: ReferenceAnswers([])).scoreOutcomes(["\\boxed{5}"], in: context)
            XCTFail("expected an error")
        } catch SearchError.noReference(let id) {
            XCTAssertEqual(id, "p")
        }
    }

    func testMonteCarloOracleValueIsVerifiedRolloutRate() async throws {
        let model = ScriptedModel(["a\n\n": [boxed("5"), boxed("4"), boxed("5"), sample("x")]])
        let mc = MonteCarloScorer(model: model, rollouts: 4, target: .references(ReferenceAnswers([problem])))
        XCTAssertTrue(mc.isOracle)
        let s = try await mc.scorePrefixes(["a\n\n", "\\boxed{5}"], in: context)
        XCTAssertEqual(s.scores, [0.5, 1])
        XCTAssertEqual(s.cost.modelCalls, 1)
        XCTAssertEqual(s.cost.usage.completionTokens, 20)
        XCTAssertEqual(model.requests.map(\.parameters.n), [4])
    }

    /// Without references, rollouts are voted: a prefix's value is the share of its rollouts reaching the batch's
    /// consensus answer, and finished solutions score their answer's share of the batch.
    func testReferenceFreeMonteCarloVotesAgainstTheConsensus() async throws {
        // Rollouts: from a → 7 7 7 4, from b → 4 9 9 9 (7 leads overall with 3 votes + 1 from c's finished answer).
        let model = ScriptedModel([
            "a\n\n": [boxed("7"), boxed("7"), boxed("7"), boxed("4")], "b\n\n": [boxed("4"), boxed("9"), boxed("9"), boxed("9")],
        ])
        let mc = MonteCarloScorer(model: model, rollouts: 4, parameters: SamplingParameters(seed: 5))
        XCTAssertFalse(mc.isOracle)
        let s = try await mc.scorePrefixes(["a\n\n", "b\n\n", "c \\boxed{7}"], in: context)
        XCTAssertEqual(s.scores, [0.75, 0, 1])
        // Each prefix's rollouts get their own seed.
        let seeds = model.requests.map(\.parameters.seed)
        XCTAssertEqual(Set(seeds).count, 2)
        XCTAssertFalse(seeds.contains(5))
        let outcomes = try await mc.scoreOutcomes(["\\boxed{3}", "\\boxed{3.0}", "\\boxed{2}", "none"], in: context)
        XCTAssertEqual(outcomes.scores, [0.5, 0.5, 0.25, 0])
    }

    /// A base model without a chat template is asked by a text prompt ending in "Score:", and its continuation is
    /// read as the rating.
    func testJudgeAsksBaseModelsByText() async throws {
        let judge = ScriptedModel { req in
            guard case .text(let t) = req.prompt else { return nil }  // a chat request would fail, as on a base model
            return t.hasSuffix("Score:") && t.contains("SOL-A") ? sample(" 6\n\nProblem: 3") : sample(" none")
        }
        let textContext = ScoringContext(question: problem.question, prompt: .text("Compute 2+3."))
        let s = try await JudgeScorer(model: judge).scoreOutcomes(["SOL-A", "SOL-B"], in: textContext)
        XCTAssertEqual(s.scores, [0.6, 0])
        let forced = try await JudgeScorer(model: judge, style: .text).scoreOutcomes(["SOL-A"], in: context)
        XCTAssertEqual(forced.scores, [0.6])
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
            ["a\n\n", "b\n\n", "\\boxed{1}"], in: ScoringContext(question: Question(id: "p", prompt: "q")))
        XCTAssertEqual(s.scores, [0.2, 0.7, 1])
    }
}
