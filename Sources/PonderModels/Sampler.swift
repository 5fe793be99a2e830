import PonderCore
import Torch

/// A sample's random stream, so its draws depend only on its seed and index and never on which other requests
/// share its batch.
public struct SampleRandom: Sendable {
    private var generator: SeededRandom

    /// A stream for `seed` and sample `index`.
    public init(seed: UInt64, index: Int) {
        generator = SeededRandom(seed: seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15)
        _ = generator.next()
    }

    /// A uniform number in [0, 1).
    public mutating func uniform() -> Double { Double(generator.next() >> 11) * 0x1.0p-53 }
}

/// Picks next tokens from logits, row by row, with temperature, top-k, top-p and min-p, in batched tensor ops.
public enum Sampler {
    /// Samples one token per row of `logits` (B, V), in any float dtype (a model's bfloat16 logits need no
    /// conversion for greedy rows).
    ///
    /// Only the work a row needs is done: a greedy row (temperature 0) is the argmax of its logits; a sampled row
    /// takes the softmax of its temperature-scaled float32 logits (and reports the log of its token's probability);
    /// a log-sum-exp over the vocabulary is computed only for rows that were not sampled and whose settings ask for
    /// log-probabilities (`SamplingParameters.logprobs`).
    ///
    /// - Returns: the tokens and, for rows asking for them (`nil` for the others), their log-probabilities under the
    ///   temperature-scaled distribution before any truncation (what policy-gradient training needs); greedy rows
    ///   report log-softmax of the raw logits. `forced` rows skip sampling and take the given token (its
    ///   log-probability is still reported when asked for).
    public static func sample(logits: Tensor, rows: [SamplingParameters], uniforms: [Double], forced: [Int?]? = nil) -> (
        tokens: [Int], logprobs: [Double?]
    ) {
        let b = logits.size(0)
        precondition(rows.count == b && uniforms.count == b, "one setting and one uniform per row")
        return withNoGrad {
            // Converting bfloat16 to float32 is exact, so the argmax is the same in either dtype.
            var tokens = logits.argmax(axis: -1).toArray(Int.self)
            var logprobs = [Double?](repeating: nil, count: b)
            /// `logits` of `subset` rows as float32 divided by each row's temperature (1 for greedy rows).
            func scaled(_ subset: [Int]) -> Tensor {
                let x = (subset.count == b ? logits : logits.indexSelect(axis: 0, index: Tensor(subset.map(Int64.init)))).to(.float32)
                let temperatures = subset.map { Float(rows[$0].temperature > 0 ? rows[$0].temperature : 1) }
                return temperatures.allSatisfy { $0 == 1 } ? x : x / Tensor(temperatures, shape: [subset.count, 1])
            }
            let sampledRows = rows.indices.filter { rows[$0].temperature > 0 && forced?[$0] == nil }
            if !sampledRows.isEmpty {
                let x = scaled(sampledRows)
                let probs = x.softmax(axis: -1)
                let drawn = draw(scaled: x, probs: probs, rows: sampledRows.map { rows[$0] }, uniforms: sampledRows.map { uniforms[$0] })
                for (j, r) in sampledRows.enumerated() { tokens[r] = drawn[j] }
                if sampledRows.contains(where: { rows[$0].logprobs }) {
                    // A drawn token is never so unlikely that its float32 probability loses precision (below 1e-38).
                    let index = Tensor(drawn.map(Int64.init), shape: [drawn.count, 1])
                    let picked = probs.gather(axis: 1, index: index).log().toArray(Double.self)
                    for (j, r) in sampledRows.enumerated() where rows[r].logprobs { logprobs[r] = picked[j] }
                }
            }
            if let forced { for (r, f) in forced.enumerated() { if let f { tokens[r] = f } } }
            // Greedy and forced rows asking for log-probabilities: log p(token) = scaled[token] − logsumexp(scaled).
            let sampled = Set(sampledRows)
            let rest = rows.indices.filter { rows[$0].logprobs && !sampled.contains($0) }
            if !rest.isEmpty {
                let x = scaled(rest)
                let index = Tensor(rest.map { Int64(tokens[$0]) }, shape: [rest.count, 1])
                let picked = (x.gather(axis: 1, index: index).squeezed(axis: 1) - x.logSumExp(axes: [1])).toArray(Double.self)
                for (r, value) in zip(rest, picked) { logprobs[r] = value }
            }
            return (tokens, logprobs)
        }
    }

    /// Inverse-CDF draws from the truncated distributions.
    private static func draw(scaled: Tensor, probs softmax: Tensor, rows: [SamplingParameters], uniforms: [Double]) -> [Int] {
        let (b, v) = (scaled.size(0), scaled.size(1))
        let ks = rows.map { row in row.topK.map { $0 > 0 && $0 < v ? $0 : v } ?? v }
        if !ks.contains(where: { $0 < v }) && !rows.contains(where: { $0.minP > 0 || $0.topP < 1 }) {
            // Nothing truncated (plain temperature sampling, as in RL rollouts): the inverse CDF of the softmax, a
            // handful of ops per decode step instead of the mask's dozen.
            let cdf = softmax.cumulativeSum(axis: -1)
            let u = Tensor(uniforms.map(Float.init), shape: [b, 1]) * cdf.narrow(axis: 1, start: v - 1, length: 1)
            return (cdf .<= u).to(.int64).sum(axes: [1]).clamped(max: v - 1).toArray(Int.self)
        }
        var keep = Tensor.ones([b, v], dtype: .bool)
        if ks.contains(where: { $0 < v }) {
            // k-th largest value per row is the threshold; rows without top-k take the smallest value.
            let top = scaled.topK(ks.max()!, axis: -1).values
            let kth = top.gather(axis: 1, index: Tensor(ks.map { Int64($0 - 1) }, shape: [b, 1]))
            let floor = `where`(Tensor(ks.map { $0 < v }, shape: [b, 1]), kth, Tensor.full([b, 1], value: -Double.infinity))
            keep = keep .&& (scaled .>= floor)
        }
        // Filters apply in transformers' and vLLM's order: top-k, then top-p and min-p on the distribution renormalised
        // over what top-k kept.
        var probs = softmax
        if ks.contains(where: { $0 < v }) {
            let kept = probs * keep.to(.float32)
            probs = kept / kept.sum(axes: [1], keepDims: true)
        }
        if rows.contains(where: { $0.minP > 0 }) {
            let floor = probs.max(axes: [1], keepDims: true) * Tensor(rows.map { Float($0.minP) }, shape: [b, 1])
            keep = keep .&& (probs .>= floor)
        }
        if rows.contains(where: { $0.topP < 1 }) {
            // Nucleus: keep the most likely tokens until their mass reaches p (the token crossing p included).
            let (sortedProbs, order) = probs.sorted(axis: -1, descending: true)
            let before = sortedProbs.cumulativeSum(axis: -1) - sortedProbs  // mass of strictly more likely tokens
            let keepSorted = before .< Tensor(rows.map { Float($0.topP) }, shape: [b, 1])
            let nucleus = Tensor.zeros([b, v], dtype: .bool).scatter(axis: 1, index: order, source: keepSorted)
            keep = keep .&& nucleus
        }
        let filtered = probs * keep.to(.float32)
        let cdf = filtered.cumulativeSum(axis: -1)
        let total = cdf.narrow(axis: 1, start: v - 1, length: 1)
        let u = Tensor(uniforms.map(Float.init), shape: [b, 1]) * total
        // The first index whose cumulative mass exceeds u. A truncated token has the same cumulative mass as the
        // token before it, so it is never the first to exceed u; only float rounding at the very top (u·total
        // rounding up to total) can land past the last kept token, and then the most likely kept token is taken.
        let index = (cdf .<= u).to(.int64).sum(axes: [1]).clamped(max: v - 1).unsqueezed(axis: 1)
        let valid = keep.gather(axis: 1, index: index)
        return `where`(valid, index, filtered.argmax(axis: 1, keepDims: true)).toArray(Int.self)
    }
}
