import PonderCore
import PonderVerifiers

/// Scores for a batch of solutions, and what computing them cost.
public struct ScoreBatch: Sendable, Hashable {
    /// One score per solution, in order; higher is better (scorers in this package return values in [0, 1]).
    public var scores: [Double]
    /// The model usage and calls spent scoring.
    public var cost: ScoringCost

    /// Makes a batch.
    public init(scores: [Double], cost: ScoringCost = ScoringCost()) {
        self.scores = scores
        self.cost = cost
    }
}
