import Foundation
import PonderCore

/// Kimi 1.5's length reward (arXiv 2501.12599), as open-r1's `len_reward`: within a group,
/// `λ = 0.5 − (len − min_len) / (max_len − min_len)`; a correct completion gets `λ`, an incorrect
/// one `min(0, λ)`; all 0 when every length is equal. Completions whose correctness is unknown get `nil`.
public struct LengthReward: RewardFunction {
    /// `length`.
    public var name: String { "length" }
    /// Decides correctness.
    public var accuracy: AccuracyReward
    /// How length is measured.
    public var length: CompletionLength

    /// Makes the reward.
    public init(accuracy: AccuracyReward = AccuracyReward(), length: CompletionLength = .characters) {
        self.accuracy = accuracy
        self.length = length
    }

    /// Scores each completion relative to its group.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        let correct = try await accuracy.rewards(for: completions, problem: problem)
        let lengths = completions.map { length.measure($0) }
        guard let lo = lengths.min(), let hi = lengths.max() else { return [] }
        if lo == hi { return correct.map { $0 == nil ? nil : 0 } }
        return zip(lengths, correct).map { len, c in
            guard let c else { return nil }
            let lambda = 0.5 - Double(len - lo) / Double(hi - lo)
            return c > 0 ? lambda : min(0, lambda)
        }
    }
}

/// Cosine-scaled length reward (Yeo et al., arXiv 2502.03373), as open-r1's `cosine_scaled_reward`:
/// `r = min + ½(max − min)(1 + cos(π·len/maxLength))` with `[min, max]` = `[minValueCorrect,
/// maxValueCorrect]` for correct completions and `[maxValueWrong, minValueWrong]` (swapped) for wrong
/// ones. Unlike open-r1, `len/maxLength` is clamped to 1 so overlong outputs do not wrap around the cosine.
public struct CosineScaledReward: RewardFunction {
    /// `cosine_scaled`.
    public var name: String { "cosine_scaled" }
    /// Decides correctness.
    public var accuracy: AccuracyReward
    /// Reward of the longest wrong answers.
    public var minValueWrong: Double
    /// Reward of the shortest wrong answers.
    public var maxValueWrong: Double
    /// Reward of the longest correct answers.
    public var minValueCorrect: Double
    /// Reward of the shortest correct answers.
    public var maxValueCorrect: Double
    /// The length at which the cosine reaches its end.
    public var maxLength: Int
    /// How length is measured.
    public var length: CompletionLength

    /// Makes the reward with open-r1's defaults.
    public init(
        accuracy: AccuracyReward = AccuracyReward(), minValueWrong: Double = -1, maxValueWrong: Double = -0.5,
        minValueCorrect: Double = 0.5, maxValueCorrect: Double = 1, maxLength: Int = 1000,
        length: CompletionLength = .characters
    ) {
        self.accuracy = accuracy
        self.minValueWrong = minValueWrong
        self.maxValueWrong = maxValueWrong
        self.minValueCorrect = minValueCorrect
        self.maxValueCorrect = maxValueCorrect
        self.maxLength = max(1, maxLength)
        self.length = length
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        let correct = try await accuracy.rewards(for: completions, problem: problem)
        return zip(completions, correct).map { text, c in
            guard let c else { return nil }
            let progress = min(1, Double(length.measure(text)) / Double(maxLength))
            let cosine = cos(progress * .pi)
            let (lo, hi) = c > 0 ? (minValueCorrect, maxValueCorrect) : (maxValueWrong, minValueWrong)
            return lo + 0.5 * (hi - lo) * (1 + cosine)
        }
    }
}

/// DAPO's soft overlong punishment (arXiv 2503.14476, Eq. 13), as TRL's `get_soft_overlong_punishment`:
/// 0 up to `maxCompletionLength − softPunishCache`, then falling linearly to −1 at `maxCompletionLength`,
/// and −1 beyond.
public struct OverlongPenaltyReward: RewardFunction {
    /// `soft_overlong_punishment`.
    public var name: String { "soft_overlong_punishment" }
    /// `L_max`.
    public var maxCompletionLength: Int
    /// `L_cache`.
    public var softPunishCache: Int
    /// How length is measured (use a tokenizer's count to match TRL, which counts tokens).
    public var length: CompletionLength

    /// Makes the reward; throws when `softPunishCache` is negative or exceeds `maxCompletionLength`.
    public init(maxCompletionLength: Int, softPunishCache: Int, length: CompletionLength = .words) throws {
        guard softPunishCache >= 0, softPunishCache <= maxCompletionLength else {
            throw VerifierError.invalidParameter(
                name: "softPunishCache", value: "\(softPunishCache)",
                reason: "must be in 0...maxCompletionLength (\(maxCompletionLength))")
        }
        self.maxCompletionLength = maxCompletionLength
        self.softPunishCache = softPunishCache
        self.length = length
    }

    /// The penalty for one length.
    public func penalty(forLength n: Int) -> Double {
        let start = maxCompletionLength - softPunishCache
        if n <= start { return 0 }
        if n <= maxCompletionLength { return Double(start - n) / Double(softPunishCache) }
        return -1
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { penalty(forLength: length.measure($0)) }
    }
}
