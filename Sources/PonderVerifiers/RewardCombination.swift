/// The one rule for combining reward functions and judging a group's spread. GRPO's advantages, its dynamic-sampling
/// filter and its `frac_reward_zero_std` metric, and ``WeightedSumReward`` all use it, so they agree on `nil`.
public enum RewardCombination {
    /// `Σ_k w_k r_k` over the terms that scored; `nil` when no term could score (a `nil` term is left out, as TRL
    /// leaves out `None`).
    public static func weightedSum(_ terms: [Double?], weights: [Double]) -> Double? {
        precondition(terms.count == weights.count, "one weight per reward term")
        var total: Double?
        for (term, weight) in zip(terms, weights) { if let term { total = (total ?? 0) + weight * term } }
        return total
    }

    /// Mean and Bessel-corrected standard deviation of the values that are not `nil` (NaN when undefined: no value,
    /// or one value for the deviation).
    public static func meanAndStd(_ values: [Double?]) -> (mean: Double, std: Double) {
        let v = values.compactMap { $0 }
        guard !v.isEmpty else { return (.nan, .nan) }
        let mean = v.reduce(0, +) / Double(v.count)
        guard v.count > 1 else { return (mean, .nan) }
        let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(v.count - 1)
        return (mean, variance.squareRoot())
    }

    /// Whether a group's rewards carry no learning signal: fewer than two of them scored, or their standard
    /// deviation is within 1e-8 of zero (TRL's `isclose(std, 0)`). Unscored (`nil`) rewards are left out.
    public static func hasZeroSpread(_ values: [Double?]) -> Bool {
        let std = meanAndStd(values).std
        return std.isNaN || Swift.abs(std) <= 1e-8
    }
}
