/// How group rewards are scaled into advantages (TRL's `scale_rewards`).
public enum RewardScaling: String, Sendable, Codable, CaseIterable {
    /// Divide by each group's standard deviation (GRPO).
    case group
    /// Divide by the whole batch's standard deviation.
    case batch
    /// Do not divide (Dr. GRPO).
    case none
}

/// Group-relative advantages from per-function rewards (DeepSeekMath's GRPO, with TRL's numerics).
public struct GroupAdvantages: Sendable, Equatable {
    /// Weighted reward per completion; `nil` for a completion no function could score.
    public var rewards: [Double?]
    /// `(r − mean_group) / (std + 1e-4)` (or not divided, per `RewardScaling`); 0 for unscorable completions.
    public var advantages: [Double]
    /// Per completion: whether its group's (or the batch's) reward spread is zero.
    public var zeroSpread: [Bool]

    /// Computes advantages.
    ///
    /// - Parameters:
    ///   - rewardsPerFunction: `[completion][function]`, completions grouped consecutively by prompt;
    ///     `nil` means the function could not score that completion and is left out of its sum.
    ///   - weights: one weight per function.
    ///   - groupSize: completions per prompt (`numGenerations`).
    ///   - scaling: the divisor.
    public init(rewardsPerFunction: [[Double?]], weights: [Double], groupSize: Int, scaling: RewardScaling) {
        precondition(groupSize > 0 && rewardsPerFunction.count % groupSize == 0, "completions must form whole groups")
        let rewards = rewardsPerFunction.map { row -> Double? in
            precondition(row.count == weights.count, "one reward per function")
            guard row.contains(where: { $0 != nil }) else { return nil }
            return zip(row, weights).reduce(0.0) { sum, pair in sum + (pair.0 ?? 0) * pair.1 }
        }
        let n = rewards.count
        var mean = [Double](repeating: .nan, count: n)
        var std = [Double](repeating: .nan, count: n)
        for start in stride(from: 0, to: n, by: groupSize) {
            let group = Array(rewards[start..<(start + groupSize)])
            let (m, s) = Self.meanAndStd(group)
            for i in start..<(start + groupSize) {
                mean[i] = m
                std[i] = s
            }
        }
        if scaling == .batch {
            let s = Self.meanAndStd(rewards).1
            std = Array(repeating: s, count: n)
        }
        advantages = (0..<n).map { i in
            guard let r = rewards[i] else { return 0 }
            let a = r - mean[i]
            let scaled = scaling == .none ? a : a / (std[i] + 1e-4)
            return scaled.isNaN ? 0 : scaled
        }
        zeroSpread = std.map { Swift.abs($0) <= 1e-8 }
        self.rewards = rewards
    }

    /// Mean and Bessel-corrected standard deviation of the non-nil values (NaN when undefined).
    static func meanAndStd(_ values: [Double?]) -> (Double, Double) {
        let v = values.compactMap { $0 }
        guard !v.isEmpty else { return (.nan, .nan) }
        let mean = v.reduce(0, +) / Double(v.count)
        guard v.count > 1 else { return (mean, .nan) }
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
        return (mean, variance.squareRoot())
    }
}
