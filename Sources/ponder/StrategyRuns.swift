import PonderCore
import PonderEval
import PonderSearch
import PonderVerifiers

/// Runs of one strategy over many problems, shared by `ponder eval` and `ponder demo`.
enum StrategyRuns {
    /// Runs `strategy` on every problem at once (a batching model serves them together); results in problem order.
    static func run(
        _ strategy: any SearchStrategy, problems: [Problem], prompt: @escaping @Sendable (Problem) -> Prompt, model: any LanguageModel
    ) async throws -> [SearchResult] {
        try await withThrowingTaskGroup(of: (Int, SearchResult).self) { group in
            for (i, p) in problems.enumerated() {
                group.addTask { (i, try await strategy.run(problem: p, prompt: prompt(p), model: model)) }
            }
            var out = [SearchResult?](repeating: nil, count: problems.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
    }

    /// Whether `answer` (an extracted final answer) solves `problem`.
    static func isCorrect(_ answer: String?, _ problem: Problem, verifier: MathVerifier) async throws -> Bool {
        guard let answer else { return false }
        return try await verifier.verify("<answer>\(answer)</answer>", against: problem).isEquivalent
    }

    /// One evaluation record per problem.
    static func records(_ results: [SearchResult], problems: [Problem], strategy: String, budget: Int, verifier: MathVerifier) async throws
        -> [EvalRecord]
    {
        var out: [EvalRecord] = []
        for (p, r) in zip(problems, results) {
            out.append(
                EvalRecord(
                    strategy: strategy, budget: budget, problemID: p.id, isCorrect: try await isCorrect(r.answer, p, verifier: verifier),
                    tokens: r.usage.totalTokens))
        }
        return out
    }
}
