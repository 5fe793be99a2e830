import PonderCore
import PonderVerifiers

/// How a path's step scores become one score.
public enum StepAggregation: String, Sendable, Hashable, Codable, CaseIterable {
    /// The last step's score.
    case last
    /// The lowest step score.
    case min
    /// The product of the step scores.
    case product
    /// The mean step score.
    case mean

    /// Aggregates `scores` (1 for an empty path under `.min` and `.product`, 0 under `.last` and `.mean`).
    public func aggregate(_ scores: [Double]) -> Double {
        switch self {
        case .last: scores.last ?? 0
        case .min: scores.min() ?? 1
        case .product: scores.reduce(1, *)
        case .mean: scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
        }
    }
}
