import PonderCore
import PonderSearch
import PonderVerifiers
import XCTest

final class SelfRefineTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "5")

    func testVerifierCriticRevisesUntilAccepted() async throws {
        let model = ScriptedModel(promptTokens: 3) { req in
            guard case .chat(let m) = req.prompt else { return nil }
            return m.count == 1 ? boxed("4") : boxed("5", tokens: 8)
        }
        let r = try await SelfRefine(rounds: 3, critic: .verifier(MathVerifier())).run(problem: problem, model: model)
        XCTAssertEqual(r.answer, "5")
        XCTAssertEqual(r.candidates.map(\.score), [0, 1])
        XCTAssertEqual(r.notes["stop"], "verifier accepted version 1")
        XCTAssertEqual(r.usage.modelCalls, 2)
        XCTAssertEqual(r.usage.generatedTokens, 13)
        guard case .chat(let m) = model.requests[1].prompt else { return XCTFail("expected chat") }
        XCTAssertEqual(m.map(\.role), [.user, .assistant, .user])
        XCTAssertTrue(m[2].content.contains("extracted '4'"), m[2].content)
        XCTAssertEqual(r.trace[2].parent, 1)
    }

    func testModelCriticStopsOnApproval() async throws {
        let refine = SelfRefine(rounds: 2)
        let model = ScriptedModel { req in
            guard case .chat(let m) = req.prompt else { return nil }
            let last = m.last!.content
            if m.count == 1 { return boxed("4") }
            if last == refine.critiqueRequest { return sample(m.count == 3 ? "step 2 is wrong" : "NO ISSUES", tokens: 2) }
            return boxed("5")
        }
        let r = try await refine.run(problem: problem, model: model)
        XCTAssertEqual(r.answer, "5")
        XCTAssertEqual(r.notes["stop"], "critic approved version 1")
        XCTAssertEqual(r.usage.modelCalls, 4)
        XCTAssertEqual(r.usage.scoringTokens, 4)
        XCTAssertEqual(r.usage.generatedTokens, 10)
    }
}

final class BudgetForcingTests: XCTestCase {
    func testSetsThinkingBudgetPerRequest() async throws {
        let model = ScriptedModel(["": [Completion(text: "<think>hmm</think>\\boxed{3}", tokens: [1, 2, 3], reasoningTokens: 2)]])
        let r = try await BudgetForcing(effort: .medium).run(problem: .math(id: "p", prompt: "q", answer: "3"), model: model)
        XCTAssertEqual(model.requests[0].parameters.thinking, ThinkingBudget(maxThinkingTokens: 1024))
        XCTAssertEqual(model.requests[0].parameters.maxTokens, 1280)
        XCTAssertEqual(r.answer, "3")
        XCTAssertEqual(r.usage.model.reasoningTokens, 2)
        XCTAssertEqual(r.notes["reasoningTokens"], "2")
    }
}

final class ComputeOptimalAllocatorTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "3")

    func testEasyProblemStopsAfterProbe() async throws {
        let model = ScriptedModel(["": [boxed("3")]])
        let r = try await ComputeOptimalAllocator(tokenBudget: 100).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["difficulty"], "easy")
        XCTAssertEqual(r.usage.modelCalls, 1)
        XCTAssertEqual(r.answer, "3")
    }

    func testMediumProblemSpendsBudgetOnSelfConsistency() async throws {
        // Probe 3 3 4 5: agreement 0.5 → medium. 20 probe tokens of 60 leave 40 = 8 samples of 5 tokens.
        // After one batch of four 3s: 6 > 1 + 4 remaining → decided.
        let model = ScriptedModel(["": [boxed("3"), boxed("3"), boxed("4"), boxed("5")] + Array(repeating: boxed("3"), count: 8)])
        let r = try await ComputeOptimalAllocator(tokenBudget: 60).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["difficulty"], "medium")
        XCTAssertEqual(r.notes["affordableSamples"], "8")
        XCTAssertEqual(r.notes["extraSamples"], "4")
        XCTAssertEqual(r.candidates.count, 8)
        XCTAssertEqual(r.answer, "3")
        XCTAssertLessThanOrEqual(r.usage.generatedTokens, 60)
    }

    func testHardProblemUsesBeamSearchWhenAScorerIsGiven() async throws {
        let model = ScriptedModel([
            "": [boxed("1"), boxed("2"), boxed("4"), boxed("5"), sample("a"), sample("b"), sample("c"), sample("d")],
            "a\n\n": [boxed("3")], "b\n\n": [boxed("3")], "c\n\n": [boxed("3")], "d\n\n": [boxed("3")],
        ])
        let scorer = TableScorer(table: [:], defaultScore: 0.5)
        let r = try await ComputeOptimalAllocator(tokenBudget: 40, scorer: scorer).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["difficulty"], "hard")
        XCTAssertEqual(r.notes["plan"], "beam-search beams 1 expansions 4")
        XCTAssertEqual(r.answer, "3")
        XCTAssertEqual(r.candidates.count, 5)
        XCTAssertEqual(r.candidates[r.chosen!].node, r.trace.count - 4)
    }
}

final class AllocatorBudgetTests: XCTestCase {
    func testStopsWhenSamplesRunLongerThanTheProbe() async throws {
        // Probe 1 2 3 4 (5 tokens each, hard, no scorer): 20 of 60 tokens leave 8 samples, but the next batch of
        // four costs 40 tokens, so sampling stops after it with 60 tokens spent.
        let model = ScriptedModel([
            "": [boxed("1"), boxed("2"), boxed("3"), boxed("4")] + Array(repeating: boxed("3", tokens: 10), count: 8)
        ])
        let r = try await ComputeOptimalAllocator(tokenBudget: 60).run(problem: .math(id: "p", prompt: "q", answer: "3"), model: model)
        XCTAssertEqual(r.notes["difficulty"], "hard")
        XCTAssertEqual(r.notes["extraSamples"], "4")
        XCTAssertEqual(r.usage.generatedTokens, 60)
        XCTAssertEqual(r.answer, "3")
    }
}
