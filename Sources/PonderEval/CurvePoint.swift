/// One point of an accuracy-against-compute curve.
public struct CurvePoint: Sendable, Hashable, Codable {
    /// Strategy name.
    public var strategy: String
    /// Budget setting.
    public var budget: Int
    /// Problems evaluated.
    public var problems: Int
    /// Fraction correct, with its bootstrap interval.
    public var accuracy: ConfidenceInterval
    /// Mean tokens spent per problem.
    public var meanTokens: Double
}
