import PonderCore
import PonderVerifiers

/// One node of a search trace: a step (or a whole sample) with its parent.
///
/// Node 0 is the root: the empty solution. Sample-based strategies hang every sample directly under the root;
/// step-level strategies build a tree of steps.
public struct SearchNode: Sendable, Hashable, Codable {
    /// Index of this node in ``SearchResult/trace``.
    public var id: Int
    /// Index of the parent node; `nil` for the root.
    public var parent: Int?
    /// The text this node adds to its parent's solution (a step, including its delimiter).
    public var text: String
    /// The scorer's score of the solution up to this node (before aggregation); `nil` when not scored.
    public var score: Double?
    /// Times a search visited the node (MCTS); 0 for strategies that do not count visits.
    public var visits: Int
    /// Mean backed-up value (MCTS); `nil` where not used.
    public var value: Double?
    /// Prior probability of the node among its siblings (MCTS); `nil` where not used.
    public var prior: Double?
    /// Completion tokens the model spent producing `text`.
    public var tokens: Int
    /// Whether the solution ends at this node.
    public var isTerminal: Bool

    /// Makes a node.
    public init(
        id: Int, parent: Int?, text: String, score: Double? = nil, visits: Int = 0, value: Double? = nil, prior: Double? = nil,
        tokens: Int = 0, isTerminal: Bool = false
    ) {
        self.id = id
        self.parent = parent
        self.text = text
        self.score = score
        self.visits = visits
        self.value = value
        self.prior = prior
        self.tokens = tokens
        self.isTerminal = isTerminal
    }
}
