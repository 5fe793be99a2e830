/// Which kind of learned verifier a reward model is.
public enum RewardModelKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// An outcome reward model (ORM): one score per finished solution (Cobbe et al.).
    case outcome = "orm"
    /// A process reward model (PRM): one score per reasoning step (Lightman et al.; Math-Shepherd's labels).
    case process = "prm"
}

/// Scores from a trained reward model, and the tokens the model read to produce them.
public struct RewardScores: Sendable, Hashable {
    /// Per solution: one score (an outcome model, or a process model's outcome) or one per step (a process model),
    /// each the probability the model gives to "correct", in [0, 1].
    public var scores: [[Double]]
    /// Tokens run through the reward model.
    public var tokens: Int

    /// Makes a result.
    public init(scores: [[Double]], tokens: Int) {
        self.scores = scores
        self.tokens = tokens
    }
}

/// A trained reward model as search sees it: it reads the prompt's text and candidate solutions, never a reference
/// answer. PonderModels' `RewardModel` implements it; PonderSearch's `RewardModelScorer` turns it into a `Scorer`.
public protocol RewardScoring: Sendable {
    /// Whether the model scores whole solutions or steps.
    var kind: RewardModelKind { get }
    /// One score per solution (an outcome model reads the end; a process model's scores are per step: use
    /// ``stepScores(prompt:solutions:)``).
    func outcomeScores(prompt: String, solutions: [String]) async throws -> RewardScores
    /// Per solution, a score at the end of each of its steps (a process model).
    func stepScores(prompt: String, solutions: [[String]]) async throws -> RewardScores
}

extension Prompt {
    /// The text a reward model reads as the prompt: the text itself, or a chat's message contents joined by newlines
    /// (the data commands write this same text into their `prompt` field).
    public var rewardModelText: String {
        switch self {
        case .text(let t): t
        case .chat(let messages): messages.map(\.content).joined(separator: "\n")
        }
    }
}
