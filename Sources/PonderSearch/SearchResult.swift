import PonderCore
import PonderVerifiers

/// What a strategy returns: its chosen answer, every candidate, the trace, and the token usage.
public struct SearchResult: Sendable, Hashable, Codable {
    /// The strategy's name (e.g. `self-consistency`).
    public var strategy: String
    /// The chosen final answer; `nil` when no candidate had an extractable answer.
    public var answer: String?
    /// The text of the chosen candidate.
    public var text: String
    /// Index into ``candidates`` of the chosen candidate; `nil` when there is none.
    public var chosen: Int?
    /// Every candidate considered, in the order produced.
    public var candidates: [Candidate]
    /// The search trace or tree; `trace[0]` is the root.
    public var trace: [SearchNode]
    /// Token accounting.
    public var usage: SearchUsage
    /// Strategy-specific facts for reports (stop reason, difficulty estimate, ...).
    public var notes: [String: String]

    /// Makes a result.
    public init(
        strategy: String, answer: String?, text: String, chosen: Int?, candidates: [Candidate], trace: [SearchNode], usage: SearchUsage,
        notes: [String: String] = [:]
    ) {
        self.strategy = strategy
        self.answer = answer
        self.text = text
        self.chosen = chosen
        self.candidates = candidates
        self.trace = trace
        self.usage = usage
        self.notes = notes
    }
}
