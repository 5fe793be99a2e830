import PonderCore
import PonderVerifiers

/// A test-time compute strategy: spends model calls on one question and returns a ``SearchResult``.
///
/// Strategies see a ``Question`` (no reference answer, no tests): whatever they do is available to a user who
/// has no answer key. Strategies are values: all their settings are stored properties, and a run keeps its state
/// in locals, so one strategy value (or many different ones) can run concurrently on the same model.
public protocol SearchStrategy: Sendable {
    /// A short name for reports.
    var name: String { get }
    /// Runs the strategy on `question`, showing the model `prompt`.
    func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult
}

extension SearchStrategy {
    /// Runs the strategy with the question's text as a single user message.
    public func run(question: Question, model: any LanguageModel) async throws -> SearchResult {
        try await run(question: question, prompt: .chat([.user(question.prompt)]), model: model)
    }

    /// Runs the strategy on a problem's ``Question`` (its answer is dropped before the strategy sees it).
    public func run(problem: Problem, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try await run(question: problem.question, prompt: prompt, model: model)
    }

    /// Runs the strategy on a problem's ``Question``, its text as a single user message.
    public func run(problem: Problem, model: any LanguageModel) async throws -> SearchResult {
        try await run(question: problem.question, model: model)
    }
}
