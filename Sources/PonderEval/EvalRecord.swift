/// One problem solved by one strategy at one budget: whether it was right and what it spent.
public struct EvalRecord: Sendable, Hashable, Codable {
    /// Strategy name (e.g. `self-consistency`).
    public var strategy: String
    /// The budget setting (samples, beams, thinking tokens: whatever the strategy's compute knob is).
    public var budget: Int
    /// The problem's identifier.
    public var problemID: String
    /// Whether the chosen answer was correct.
    public var isCorrect: Bool
    /// Tokens spent (generated plus scoring).
    public var tokens: Int
    /// Whether the strategy was guided by an oracle (a scorer that reads the answer key): an upper bound.
    public var upperBound: Bool

    /// Makes a record.
    public init(strategy: String, budget: Int, problemID: String, isCorrect: Bool, tokens: Int, upperBound: Bool = false) {
        self.upperBound = upperBound
        self.strategy = strategy
        self.budget = budget
        self.problemID = problemID
        self.isCorrect = isCorrect
        self.tokens = tokens
    }
}
