import PonderCore

/// Seeded percentile bootstrap (Efron 1979) for the mean of per-problem scores.
public struct Bootstrap: Sendable, Hashable, Codable {
    /// Resamples drawn.
    public var resamples: Int
    /// Coverage of the interval, in (0, 1).
    public var level: Double
    /// Seed of the resampling (SplitMix64), so intervals are reproducible.
    public var seed: UInt64

    /// Makes a bootstrap.
    public init(resamples: Int = 1000, level: Double = 0.95, seed: UInt64 = 0) {
        self.resamples = resamples
        self.level = level
        self.seed = seed
    }

    /// The mean of `values` with its percentile interval: resample with replacement, take the means, and read the
    /// `(1 − level)/2` and `(1 + level)/2` quantiles (nearest rank).
    public func meanInterval(_ values: [Double]) throws -> ConfidenceInterval {
        guard !values.isEmpty else { throw EvalError.invalidArgument("values: must not be empty") }
        guard resamples >= 1 else { throw EvalError.invalidArgument("resamples = \(resamples): must be at least 1") }
        guard level > 0 && level < 1 else { throw EvalError.invalidArgument("level = \(level): must be in (0, 1)") }
        let n = values.count
        let mean = values.reduce(0, +) / Double(n)
        var rng = SeededRandom(seed: seed)
        var means: [Double] = []
        means.reserveCapacity(resamples)
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in 0..<n { sum += values[Int.random(in: 0..<n, using: &rng)] }
            means.append(sum / Double(n))
        }
        means.sort()
        func quantile(_ q: Double) -> Double {
            let rank = Int((q * Double(resamples)).rounded(.up)) - 1
            return means[min(max(rank, 0), resamples - 1)]
        }
        return ConfidenceInterval(estimate: mean, lower: quantile((1 - level) / 2), upper: quantile((1 + level) / 2), level: level)
    }
}
