import PonderCore
import Torch

/// One generated position's log-probabilities under the model's raw distribution (log-softmax of the untempered
/// logits), for rows that ask for them (``SamplingParameters/topLogprobs``).
public struct TopLogprobs: Sendable, Equatable {
    /// The emitted token.
    public var token: Int
    /// Its log-probability.
    public var logprob: Double
    /// The most likely token ids, most likely first.
    public var tokens: [Int]
    /// Their log-probabilities (same order).
    public var logprobs: [Double]

    /// Makes a position.
    public init(token: Int, logprob: Double, tokens: [Int], logprobs: [Double]) {
        self.token = token
        self.logprob = logprob
        self.tokens = tokens
        self.logprobs = logprobs
    }
}

extension Sampler {
    /// The log-softmax of the untempered logits of `rows` of `logits` (B, V) and, per row, its `k` largest values
    /// with their token ids, most likely first (k capped at the vocabulary). One log-softmax and one `topK` over
    /// the selected rows only; the shared core of DeepConf's confidences and OpenAI-style top log-probabilities.
    static func rawTopK(logits: Tensor, rows: [Int], k: Int) -> (logp: Tensor, values: [[Double]], ids: [[Int]]) {
        let all = rows == Array(0..<logits.size(0))
        let selected = all ? logits : logits.indexSelect(axis: 0, index: Tensor(rows.map(Int64.init)))
        let logp = selected.to(.float32).logSoftmax(axis: -1)  // (R, V)
        let width = Swift.min(k, logits.size(1))
        guard width > 0 else { return (logp, rows.map { _ in [] }, rows.map { _ in [] }) }
        let (values, indices) = logp.topK(width, axis: -1)
        let v = values.toArray(Double.self)
        let ids = indices.toArray(Int.self)
        let row = { (r: Int) in (r * width)..<((r + 1) * width) }
        return (logp, rows.indices.map { Array(v[row($0)]) }, rows.indices.map { Array(ids[row($0)]) })
    }

    /// DeepConf token confidences for the rows of `logits` (B, V) whose settings ask for them
    /// (``SamplingParameters/confidence``): the negative mean of each row's top-k log-probabilities under the model's
    /// untempered distribution; `nil` for the other rows. One `topK` over those rows, for the largest k asked.
    public static func tokenConfidences(logits: Tensor, rows: [SamplingParameters]) -> [Double?] {
        let asking = rows.indices.filter { rows[$0].confidence != nil }
        guard let k = asking.map({ rows[$0].confidence!.topLogprobs }).max() else { return rows.map { _ in nil } }
        return withNoGrad {
            let top = rawTopK(logits: logits, rows: asking, k: k).values
            var out = [Double?](repeating: nil, count: rows.count)
            for (j, r) in asking.enumerated() { out[r] = rows[r].confidence!.tokenConfidence(topLogprobs: top[j]) }
            return out
        }
    }

    /// OpenAI-style log-probabilities for the rows of `logits` (B, V) whose settings ask for them
    /// (``SamplingParameters/topLogprobs``), `nil` for the others: `tokens[r]`'s log-probability and the
    /// `topLogprobs` most likely tokens, under the log-softmax of the raw logits (before temperature, top-k, top-p
    /// and min-p: vLLM's default `raw_logprobs`). Rows that did not ask cost nothing: when none asks, no
    /// log-softmax runs at all.
    public static func topLogprobs(logits: Tensor, rows: [SamplingParameters], tokens: [Int]) -> [TopLogprobs?] {
        let asking = rows.indices.filter { rows[$0].topLogprobs != nil }
        guard !asking.isEmpty else { return rows.map { _ in nil } }
        return withNoGrad {
            let k = asking.map { rows[$0].topLogprobs! }.max()!
            let (logp, values, ids) = rawTopK(logits: logits, rows: asking, k: k)
            let emitted = Tensor(asking.map { Int64(tokens[$0]) }, shape: [asking.count, 1])
            let picked = logp.gather(axis: 1, index: emitted).toArray(Double.self)
            var out = [TopLogprobs?](repeating: nil, count: rows.count)
            for (j, r) in asking.enumerated() {
                let kr = Swift.min(rows[r].topLogprobs!, values[j].count)
                out[r] = TopLogprobs(
                    token: tokens[r], logprob: picked[j], tokens: Array(ids[j].prefix(kr)), logprobs: Array(values[j].prefix(kr)))
            }
            return out
        }
    }
}
