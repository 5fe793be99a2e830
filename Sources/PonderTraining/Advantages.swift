import PonderVerifiers

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
    /// Per completion: whether its group's rewards have no spread (``RewardCombination/hasZeroSpread(_:)``).
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
        let rewards = rewardsPerFunction.map { RewardCombination.weightedSum($0, weights: weights) }
        let n = rewards.count
        var mean = [Double](repeating: .nan, count: n)
        var std = [Double](repeating: .nan, count: n)
        var zero = [Bool](repeating: true, count: n)
        for start in stride(from: 0, to: n, by: groupSize) {
            let group = Array(rewards[start..<(start + groupSize)])
            let (m, s) = RewardCombination.meanAndStd(group)
            let flat = RewardCombination.hasZeroSpread(group)
            for i in start..<(start + groupSize) {
                mean[i] = m
                std[i] = s
                zero[i] = flat
            }
        }
        if scaling == .batch {
            let s = RewardCombination.meanAndStd(rewards).std
            std = Array(repeating: s, count: n)
        }
        advantages = (0..<n).map { i in
            guard let r = rewards[i] else { return 0 }
            let a = r - mean[i]
            let scaled = scaling == .none ? a : a / (std[i] + 1e-4)
            return scaled.isNaN ? 0 : scaled
        }
        zeroSpread = zero
        self.rewards = rewards
    }
}
