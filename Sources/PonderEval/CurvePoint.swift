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
    /// Mean tokens spent per problem (generated plus scoring).
    public var meanTokens: Double
    /// Whether the strategy read the answer key (an oracle scorer): an upper bound no user can reach, drawn dashed.
    public var upperBound: Bool

    /// Makes a point.
    public init(strategy: String, budget: Int, problems: Int, accuracy: ConfidenceInterval, meanTokens: Double, upperBound: Bool = false) {
        self.strategy = strategy
        self.budget = budget
        self.problems = problems
        self.accuracy = accuracy
        self.meanTokens = meanTokens
        self.upperBound = upperBound
    }

    /// Decodes a point; files written before `upperBound` existed read as not upper bounds.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        strategy = try c.decode(String.self, forKey: .strategy)
        budget = try c.decode(Int.self, forKey: .budget)
        problems = try c.decode(Int.self, forKey: .problems)
        accuracy = try c.decode(ConfidenceInterval.self, forKey: .accuracy)
        meanTokens = try c.decode(Double.self, forKey: .meanTokens)
        upperBound = try c.decodeIfPresent(Bool.self, forKey: .upperBound) ?? false
    }
}
