import PonderCore
import PonderVerifiers

/// What scoring cost: the model usage and number of model calls a scorer made.
public struct ScoringCost: Sendable, Hashable, Codable {
    /// Sum of the usage the model reported for the scorer's calls.
    public var usage: Usage
    /// Number of model calls the scorer made.
    public var modelCalls: Int

    /// Makes a cost record; free by default.
    public init(usage: Usage = Usage(), modelCalls: Int = 0) {
        self.usage = usage
        self.modelCalls = modelCalls
    }

    /// Field-by-field sum.
    public static func + (a: ScoringCost, b: ScoringCost) -> ScoringCost {
        ScoringCost(usage: a.usage + b.usage, modelCalls: a.modelCalls + b.modelCalls)
    }
}
