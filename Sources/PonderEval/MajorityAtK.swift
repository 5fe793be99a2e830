/// maj@k: accuracy of the majority answer among `k` samples.
///
/// Samples are given with their answer class (answers already grouped by equivalence, e.g. with PonderVerifiers'
/// `VoteTally`; `nil` for no answer) and whether that class is correct. The vote uses the first `k` samples; a tie
/// between classes counts as the fraction of tied classes that are correct (the expected accuracy of a uniformly
/// random tie-break), and no answered sample counts as wrong.
public enum MajorityAtK {
    /// One sample: its answer class and whether that answer is correct.
    public struct Sample: Sendable, Hashable, Codable {
        /// The answer class; `nil` when the sample has no answer.
        public var answerClass: String?
        /// Whether the sample's answer is correct.
        public var isCorrect: Bool

        /// Makes a sample.
        public init(answerClass: String?, isCorrect: Bool) {
            self.answerClass = answerClass
            self.isCorrect = isCorrect
        }
    }

    /// maj@k for one problem: 1, 0, or a fraction on ties. Throws when `k` is outside `1...samples.count`.
    public static func estimate(_ samples: [Sample], k: Int) throws -> Double {
        guard k >= 1 && k <= samples.count else {
            throw EvalError.invalidArgument("k = \(k): must be in 1...\(samples.count) (the number of samples)")
        }
        var counts: [String: Int] = [:]
        var correct: [String: Bool] = [:]
        for s in samples.prefix(k) {
            guard let a = s.answerClass else { continue }
            counts[a, default: 0] += 1
            correct[a] = (correct[a] ?? false) || s.isCorrect
        }
        guard let top = counts.values.max() else { return 0 }
        let tied = counts.filter { $0.value == top }.map(\.key)
        return Double(tied.filter { correct[$0]! }.count) / Double(tied.count)
    }
}
