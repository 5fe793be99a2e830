import PonderCore
import PonderVerifiers

/// What a scorer is told about the problem being solved.
public struct ScoringContext: Sendable, Hashable {
    /// The problem (its reference answer, when it has one, is what an oracle checks against).
    public var problem: Problem
    /// The prompt the solutions answer; scorers that call a model continue or quote it.
    public var prompt: Prompt

    /// Makes a context.
    public init(problem: Problem, prompt: Prompt) {
        self.problem = problem
        self.prompt = prompt
    }

    /// A context whose prompt is the problem's text as one user message.
    public init(problem: Problem) { self.init(problem: problem, prompt: .chat([.user(problem.prompt)])) }
}
