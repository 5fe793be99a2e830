import PonderCore
import PonderVerifiers

/// One finished (or, when a search ran out of steps, unfinished) solution a strategy considered.
public struct Candidate: Sendable, Hashable, Codable {
    /// The full solution text (all steps joined), without the prompt.
    public var text: String
    /// The extracted final answer; `nil` when none could be extracted.
    public var answer: String?
    /// The strategy's score for this candidate (outcome score, aggregated step score, confidence, vote share...);
    /// `nil` when the strategy does not score candidates.
    public var score: Double?
    /// Completion tokens of this candidate as the model reported them (`Completion.tokens.count` summed over steps).
    public var tokens: Int
    /// The node of the trace that ends this candidate.
    public var node: Int
    /// Whether the solution ended (an answer, end of generation) rather than being cut off by a step or token limit.
    public var isComplete: Bool

    /// Makes a candidate.
    public init(text: String, answer: String?, score: Double?, tokens: Int, node: Int, isComplete: Bool = true) {
        self.text = text
        self.answer = answer
        self.score = score
        self.tokens = tokens
        self.node = node
        self.isComplete = isComplete
    }
}
