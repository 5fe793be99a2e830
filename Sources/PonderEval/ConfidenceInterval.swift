/// A point estimate with a confidence interval.
public struct ConfidenceInterval: Sendable, Hashable, Codable {
    /// The statistic on the full sample.
    public var estimate: Double
    /// Lower bound.
    public var lower: Double
    /// Upper bound.
    public var upper: Double
    /// Coverage, e.g. 0.95.
    public var level: Double

    /// Makes an interval.
    public init(estimate: Double, lower: Double, upper: Double, level: Double) {
        self.estimate = estimate
        self.lower = lower
        self.upper = upper
        self.level = level
    }
}
