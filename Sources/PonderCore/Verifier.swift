/// Checks a model's completion against a problem.
///
/// Implementations extract the final answer from the completion (ignoring the reasoning) and decide
/// whether it is right. They never throw for bad *model output*: unreadable answers are a verdict
/// (`notEquivalent` or `unknown`), not an error. They throw only when the problem itself is unusable
/// (e.g. a math problem without a reference answer) or the machinery fails.
public protocol Verifier: Sendable {
    /// Decides whether `completion` solves `problem`.
    func verify(_ completion: String, against problem: Problem) async throws -> Verdict
}
