import PonderCore
import PonderVerifiers

/// A test-time compute strategy: spends model calls on one problem and returns a ``SearchResult``.
///
/// Strategies are values: all their settings are stored properties, and a run keeps its state in locals, so one
/// strategy value (or many different ones) can run concurrently on the same model.
public protocol SearchStrategy: Sendable {
    /// A short name for reports.
    var name: String { get }
    /// Runs the strategy on `problem`, showing the model `prompt`.
    func run(problem: Problem, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult
}

extension SearchStrategy {
    /// Runs the strategy with the problem's text as a single user message.
    public func run(problem: Problem, model: any LanguageModel) async throws -> SearchResult {
        try await run(problem: problem, prompt: .chat([.user(problem.prompt)]), model: model)
    }
}
