/// DeepConf's confidence (Fu et al. 2025, "Deep Think with Confidence"), measured while a completion is generated,
/// and its online early stop.
///
/// The token confidence at step i is `C_i = −(1/k) Σ_{j≤k} log P_i(j)`, the negative mean log-probability of the k
/// most likely tokens of the model's (untempered) distribution: high when the model is sure. A group confidence
/// is the mean of `C_i` over the last ``window`` tokens. With a ``threshold``, the engine ends a completion as soon
/// as a full group's confidence falls below it (`StopReason.lowConfidence`), so low-confidence traces stop
/// spending tokens.
public struct ConfidenceStop: Sendable, Hashable, Codable {
    /// k: top log-probabilities averaged per token (DeepConf uses 20).
    public var topLogprobs: Int
    /// Tokens per group (DeepConf uses 2048).
    public var window: Int
    /// Stop below this group confidence; `nil` only measures.
    public var threshold: Double?

    /// Makes the settings.
    public init(topLogprobs: Int = 20, window: Int = 2048, threshold: Double? = nil) {
        self.topLogprobs = topLogprobs
        self.window = window
        self.threshold = threshold
    }

    /// The token confidence from a position's top-k log-probabilities (the first ``topLogprobs`` of them are used).
    public func tokenConfidence(topLogprobs values: [Double]) -> Double {
        let k = min(topLogprobs, values.count)
        guard k > 0 else { return 0 }
        return -values.prefix(k).reduce(0, +) / Double(k)
    }

    /// Whether a completion whose token confidences are `confidences` (so far) stops now: the last full group's mean
    /// is below the threshold. Returns that mean when it stops.
    public func stops(_ confidences: [Double]) -> Double? {
        guard let threshold, confidences.count >= window else { return nil }
        let group = confidences.suffix(window).reduce(0, +) / Double(window)
        return group < threshold ? group : nil
    }

    /// The lowest group confidence of a whole trace (a trace shorter than a group is one group); `nil` when empty.
    public func lowestGroup(_ confidences: [Double]) -> Double? {
        guard !confidences.isEmpty else { return nil }
        let w = min(window, confidences.count)
        var sum = confidences[0..<w].reduce(0, +)
        var lowest = sum
        for i in w..<confidences.count {
            sum += confidences[i] - confidences[i - w]
            lowest = min(lowest, sum)
        }
        return lowest / Double(w)
    }
}
