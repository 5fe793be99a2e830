import PonderCore
import PonderVerifiers

/// What a scorer is told about the problem being solved: the question and the prompt, never the answer.
///
/// Only ``OracleScorer`` and an oracle ``MonteCarloScorer`` grade against references, which they are given when
/// made (a map from problem id to problem), not through the context.
public struct ScoringContext: Sendable, Hashable {
    /// The question (id, text, kind, metadata).
    public var question: Question
    /// The prompt the solutions answer; scorers that call a model continue or quote it.
    public var prompt: Prompt

    /// Makes a context.
    public init(question: Question, prompt: Prompt) {
        self.question = question
        self.prompt = prompt
    }

    /// A context whose prompt is the question's text as one user message.
    public init(question: Question) { self.init(question: question, prompt: .chat([.user(question.prompt)])) }
}
