import PonderCore
import Torch

extension Sampler {
    /// DeepConf token confidences for the rows of `logits` (B, V) whose settings ask for them
    /// (``SamplingParameters/confidence``): the negative mean of each row's top-k log-probabilities under the model's
    /// untempered distribution; `nil` for the other rows. One `topK` over the batch, for the largest k asked.
    public static func tokenConfidences(logits: Tensor, rows: [SamplingParameters]) -> [Double?] {
        let settings = rows.map(\.confidence)
        guard let k = settings.compactMap({ $0?.topLogprobs }).max() else { return rows.map { _ in nil } }
        return withNoGrad {
            let v = logits.size(1)
            let top = logits.to(.float32).logSoftmax(axis: -1).topK(Swift.min(k, v), axis: -1).values.toArray(Double.self)  // (B, k)
            let width = Swift.min(k, v)
            return settings.enumerated().map { r, c in
                c.map { $0.tokenConfidence(topLogprobs: Array(top[(r * width)..<((r + 1) * width)])) }
            }
        }
    }
}
