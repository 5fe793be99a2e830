import PonderCore
import PonderSearch
import PonderVerifiers
import Synchronization
import XCTest

final class SelfRefineTests: XCTestCase {
    let problem = Problem.math(id: "p", prompt: "q", answer: "5")

    func testVerifierCriticRevisesUntilAccepted() async throws {
        let model = ScriptedModel(promptTokens: 3) { req in
            guard case .chat(let m) = req.prompt else { return nil }
            return m.count == 1 ? boxed("4") : boxed("5", tokens: 8)
        }
        let r = try await SelfRefine(rounds: 3, critic: .oracle(MathVerifier(), ReferenceAnswers([problem]))).run(
            problem: problem, model: model)
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

    /// Bins by agreement: below .5 → self-consistency 4, .5 up to .75 → best-of-n 2, from .75 → the probe's majority.
    let policy = AllocationPolicy(
        probeSamples: 4,
        levels: [
            .init(
                budget: 4, tokenBudget: 40, edges: [0.5, 0.75],
                plans: [.init(strategy: "self-consistency", budget: 4), .init(strategy: "best-of-n", budget: 2), .probe])
        ])

    /// The plans the allocator asked for.
    final class Calls: Sendable {
        let list = Mutex<[String]>([])
        func withLock<T>(_ body: (inout [String]) -> T) -> T { list.withLock { body(&$0) } }
    }

    func allocator(_ calls: Calls) -> ComputeOptimalAllocator {
        ComputeOptimalAllocator(
            policy: policy, budget: 4, parameters: SamplingParameters(seed: 1),
            strategies: { name, n in
                calls.withLock { $0.append("\(name.rawValue) \(n)") }
                return name == .selfConsistency
                    ? SelfConsistency(samples: n, batchSize: n, parameters: SamplingParameters(seed: 1))
                    : BestOfN(samples: n, scorer: TableScorer(table: [:], defaultScore: 0.5))
            })
    }

    func testEasyProblemKeepsTheProbeMajority() async throws {
        let calls = Calls()
        let model = ScriptedModel(["": [boxed("3"), boxed("3"), boxed("3"), boxed("4")]])
        let r = try await allocator(calls).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["agreement"], "0.75")
        XCTAssertEqual(r.notes["bin"], "2 of 3")
        XCTAssertEqual(r.notes["plan"], "probe 0")
        XCTAssertEqual(calls.withLock { $0 }, [])
        XCTAssertEqual(r.usage.modelCalls, 1)
        XCTAssertEqual(r.answer, "3")
        XCTAssertNotEqual(model.requests[0].parameters.seed, 1, "the probe draws from its own seed")
    }

    func testHardProblemRunsTheBinsPlanAndCountsTheProbe() async throws {
        let calls = Calls()
        // Probe 1 2 4 5: agreement .25 → bin 0 → self-consistency 4, which draws four 3s.
        let model = ScriptedModel(["": [boxed("1"), boxed("2"), boxed("4"), boxed("5"), boxed("3"), boxed("3"), boxed("3"), boxed("3")]])
        let r = try await allocator(calls).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["bin"], "0 of 3")
        XCTAssertEqual(calls.withLock { $0 }, ["self-consistency 4"])
        XCTAssertEqual(r.answer, "3")
        XCTAssertEqual(r.usage.generatedTokens, 40, "probe and plan")
        XCTAssertEqual(r.usage.prunedTokens, 20, "the probe's samples are not final candidates")
        XCTAssertEqual(r.strategy, "compute-optimal")
    }

    func testMediumProblemAndPolicyFiles() async throws {
        let calls = Calls()
        let model = ScriptedModel(["": [boxed("3"), boxed("3"), boxed("4"), boxed("5")]])
        let r = try await allocator(calls).run(problem: problem, model: model)
        XCTAssertEqual(r.notes["bin"], "1 of 3")
        XCTAssertEqual(calls.withLock { $0 }, ["best-of-n 2"])
        // A policy round-trips through its file; a bad one is refused naming the field.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).json")
        try policy.save(url)
        XCTAssertEqual(try AllocationPolicy.load(url), policy)
        var bad = policy
        bad.levels[0].plans[1].strategy = "telepathy"
        try bad.save(url)
        XCTAssertThrowsError(try AllocationPolicy.load(url)) { e in
            XCTAssertTrue("\(e.localizedDescription)".contains("plans[1].strategy"), "\(e)")
            XCTAssertTrue("\(e.localizedDescription)".contains(url.path), "\(e)")
        }
        XCTAssertEqual(policy.level(for: 16).budget, 4, "a larger budget uses the largest level below it")
    }
}
