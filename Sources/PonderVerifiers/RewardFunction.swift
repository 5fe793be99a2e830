import PonderCore

/// A reward function for GRPO: scores every completion in a group sampled for one problem.
///
/// Returns one value per completion, in order; `nil` means "cannot score this one" (e.g. the
/// reference answer is unparseable), and is left out of weighted sums, as TRL does with `None`.
public protocol RewardFunction: Sendable {
    /// The name used in metrics (`rewards/<name>/mean`), following open-r1 where one exists.
    var name: String { get }
    /// Scores `completions` (the generated text only, without the prompt) for `problem`.
    func rewards(for completions: [String], problem: Problem) async throws -> [Double?]
}

/// How the length of a completion is measured by length-based rewards.
public enum CompletionLength: Sendable {
    /// Characters (open-r1's `len(content)`).
    case characters
    /// UTF-8 bytes.
    case utf8Bytes
    /// Whitespace-separated words.
    case words
    /// A caller-supplied measure, e.g. a tokenizer's token count.
    case custom(@Sendable (String) -> Int)

    /// The length of `text` under this measure.
    public func measure(_ text: String) -> Int {
        switch self {
        case .characters: return text.count
        case .utf8Bytes: return text.utf8.count
        case .words: return text.split(whereSeparator: \.isWhitespace).count
        case .custom(let f): return f(text)
        }
    }
}

/// `r_i = Σ_k w_k r_i^k` over the component rewards; a `nil` component is left out of the sum, and a
/// completion no component can score gets `nil`.
public struct WeightedSumReward: RewardFunction {
    /// The components and their weights.
    public var components: [(reward: any RewardFunction, weight: Double)]
    /// The metric name, `weighted_sum` by default.
    public var name: String

    /// Makes a weighted sum.
    public init(_ components: [(reward: any RewardFunction, weight: Double)], name: String = "weighted_sum") {
        self.components = components
        self.name = name
    }

    /// Scores every completion with every component and sums with the weights (``RewardCombination/weightedSum(_:weights:)``).
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        var terms = [[Double?]](repeating: [], count: completions.count)
        for (reward, _) in components {
            let values = try await reward.rewards(for: completions, problem: problem)
            guard values.count == completions.count else {
                throw VerifierError.invalidParameter(
                    name: "\(reward.name) output", value: "\(values.count) values",
                    reason: "expected one per completion (\(completions.count))")
            }
            for (i, v) in values.enumerated() { terms[i].append(v) }
        }
        let weights = components.map(\.weight)
        return terms.map { RewardCombination.weightedSum($0, weights: weights) }
    }
}
