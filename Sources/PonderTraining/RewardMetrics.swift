import Foundation

/// Held-out metrics of a reward model's probabilities against binary labels.
public struct RewardMetrics: Sendable, Codable, Equatable {
    /// Examples scored.
    public var count: Int
    /// Fraction whose thresholded prediction (p ≥ 0.5) equals the label; for pairs, the fraction with
    /// r_chosen > r_rejected.
    public var accuracy: Double
    /// Area under the ROC curve (the probability a random positive outranks a random negative, ties counting half);
    /// `nil` when one class is absent or for pairs.
    public var rocAUC: Double?
    /// Expected calibration error over `bins` equal-width probability bins: Σ (n_b / n) |mean label − mean p|.
    public var expectedCalibrationError: Double?
    /// Mean binary cross-entropy (or the Bradley–Terry loss for pairs).
    public var loss: Double

    enum CodingKeys: String, CodingKey {
        case count, accuracy, loss
        case rocAUC = "roc_auc"
        case expectedCalibrationError = "ece"
    }

    /// Metrics of probabilities `p` against `labels`.
    public static func of(probabilities p: [Double], labels: [Bool], bins: Int = 10) -> RewardMetrics {
        let n = p.count
        guard n > 0 else { return RewardMetrics(count: 0, accuracy: 0, rocAUC: nil, expectedCalibrationError: nil, loss: 0) }
        let correct = zip(p, labels).filter { ($0 >= 0.5) == $1 }.count
        let loss = zip(p, labels).map { q, y in -log(Swift.max(1e-12, y ? q : 1 - q)) }.reduce(0, +) / Double(n)
        return RewardMetrics(
            count: n, accuracy: Double(correct) / Double(n), rocAUC: rocAUC(p, labels),
            expectedCalibrationError: ece(p, labels, bins: bins),
            loss: loss)
    }

    /// ROC AUC by the rank-sum (Mann–Whitney U) formula, average ranks for ties.
    public static func rocAUC(_ p: [Double], _ labels: [Bool]) -> Double? {
        let positives = labels.filter { $0 }.count
        let negatives = labels.count - positives
        guard positives > 0, negatives > 0 else { return nil }
        let order = p.indices.sorted { p[$0] < p[$1] }
        var ranks = [Double](repeating: 0, count: p.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && p[order[j + 1]] == p[order[i]] { j += 1 }
            for k in i...j { ranks[order[k]] = Double(i + j) / 2 + 1 }
            i = j + 1
        }
        let positiveRanks = zip(ranks, labels).filter { $0.1 }.map(\.0).reduce(0, +)
        return (positiveRanks - Double(positives * (positives + 1)) / 2) / Double(positives * negatives)
    }

    /// Expected calibration error (Guo et al. 2017) over equal-width bins.
    public static func ece(_ p: [Double], _ labels: [Bool], bins: Int = 10) -> Double {
        var sums = [(count: Double, p: Double, y: Double)](repeating: (0, 0, 0), count: bins)
        for (q, y) in zip(p, labels) {
            let b = Swift.min(bins - 1, Swift.max(0, Int(q * Double(bins))))
            sums[b].count += 1
            sums[b].p += q
            sums[b].y += y ? 1 : 0
        }
        let n = Double(p.count)
        return sums.filter { $0.count > 0 }.map { $0.count / n * abs($0.y / $0.count - $0.p / $0.count) }.reduce(0, +)
    }
}
