import ArgumentParser
import Torch

/// The policy-gradient objectives of the GRPO family, by TRL's `loss_type` names.
public enum GRPOLossType: String, Sendable, Codable, CaseIterable {
    /// Mean over sequences of each sequence's token mean (DeepSeekMath).
    case grpo
    /// Token mean over the batch.
    case bnpo
    /// Token sum over (batch × max completion length) (Dr. GRPO, Liu et al. 2025).
    case drGRPO = "dr_grpo"
    /// Token sum over the active tokens of the whole generation batch (DAPO, Yu et al. 2025).
    case dapo
    /// Clipped importance-sampling weight times the log-probability, weight detached (MiniMax-M1's CISPO).
    case cispo
    /// Soft sigmoid gate instead of hard clipping (SAPO).
    case sapo
}

/// Importance ratios per token, or one per sequence (GSPO, Zheng et al. 2025).
public enum ImportanceSamplingLevel: String, Sendable, Codable {
    case token, sequence
}

/// Settings of the GRPO objective (TRL's names in Swift spelling).
public struct GRPOObjective: Sendable, Codable, Equatable {
    public var lossType: GRPOLossType = .dapo
    /// Lower clip: ratios below 1 − epsilon are clipped.
    public var epsilon: Double = 0.2
    /// Upper clip (clip-higher); `nil` means `epsilon`. For CISPO, the cap on the ratio.
    public var epsilonHigh: Double?
    /// Weight of the k3 KL estimate against the reference policy; 0 loads no reference model.
    public var beta: Double = 0
    public var importanceSamplingLevel: ImportanceSamplingLevel = .token
    /// Multiply the KL term by the importance ratio, making its gradient the unbiased reverse-KL gradient
    /// (DeepSeek-V3.2; TRL's `use_bias_correction_kl`, on by default).
    public var useBiasCorrectionKL: Bool = true
    /// Two-sided clipping: ratios above `delta` are capped (off by default).
    public var delta: Double?
    /// SAPO gate temperature for positive advantages.
    public var sapoTemperaturePositive: Double = 1.0
    /// SAPO gate temperature for negative advantages.
    public var sapoTemperatureNegative: Double = 1.05
    /// The generation length limit (Dr. GRPO's normaliser).
    public var maxCompletionLength: Int = 256

    /// Makes an objective with TRL's defaults.
    public init() {}
}

/// The loss value and the statistics TRL logs with it.
public struct GRPOLossResult {
    /// The scalar to back-propagate.
    public var loss: Tensor
    /// Masked mean of the k3 KL estimate (0 when beta is 0).
    public var kl: Double
    /// Fractions of active tokens clipped below, above, and either.
    public var clipLow: Double, clipHigh: Double, clipRegion: Double
    /// The smallest per-sequence fraction clipped below and the largest clipped above (TRL's `clip_ratio/low_min` and
    /// `clip_ratio/high_max`: over sequences, a sequence without active tokens left out); `nan` when no sequence counts.
    public var clipLowMin: Double = .nan, clipHighMax: Double = .nan
}

extension GRPOObjective {
    /// The GRPO loss (TRL's `_compute_loss`).
    ///
    /// - Parameters:
    ///   - logps: log-probabilities of the completion tokens under the current policy, (B, T), with gradient.
    ///   - oldLogps: the same under the policy that sampled them, (B, T); `nil` means `logps` detached (one update
    ///     per generation batch, where the ratio is 1).
    ///   - refLogps: under the frozen reference policy, (B, T); needed when `beta` is not 0.
    ///   - advantages: one per sequence, (B).
    ///   - mask: 1 for completion tokens that count, 0 for padding, (B, T) float.
    ///   - activeTokens: the number of active tokens in the whole generation batch (the DAPO/CISPO and BNPO
    ///     normaliser); defaults to this batch's.
    ///   - sequenceCount: sequences in the whole generation batch (the GRPO, SAPO and Dr. GRPO normaliser); defaults
    ///     to this batch's. With both set, the losses of row chunks add up to the loss of the whole batch.
    ///   - samplerWeights: per-token truncated importance weights for a sampler whose numerics differ from the
    ///     trainer's, (B, T); `nil` for none.
    public func loss(
        logps: Tensor, oldLogps: Tensor?, refLogps: Tensor?, advantages: Tensor, mask: Tensor, activeTokens: Double? = nil,
        sequenceCount: Int? = nil, samplerWeights: Tensor? = nil
    ) -> GRPOLossResult {
        let adv = advantages.unsqueezed(axis: 1)  // (B, 1)
        let old = oldLogps ?? logps.detached()
        let logRatio = logps - old
        let logWeights: Tensor
        switch importanceSamplingLevel {
        case .token: logWeights = logRatio
        case .sequence: logWeights = ((logRatio * mask).sum(axis: -1) / mask.sum(axis: -1).clamped(min: 1.0)).unsqueezed(axis: -1)
        }
        var coef1 = logWeights.exp()
        let high = epsilonHigh ?? epsilon
        var kl: Tensor?
        if beta != 0 {
            guard let ref = refLogps else { preconditionFailure("beta != 0 needs reference log-probabilities") }
            // k3 estimator (Schulman 2020): exp(ref − π) − (ref − π) − 1.
            let d = ref - logps
            kl = d.exp() - d - 1
            if useBiasCorrectionKL { kl = kl! * coef1 }
        }
        var perToken: Tensor
        switch lossType {
        case .cispo:
            perToken = -(coef1.clamped(max: high).detached() * adv * logps)
        case .sapo:
            let temperatures = `where`(
                adv .> 0.0, Tensor.full(adv.shape, value: sapoTemperaturePositive, dtype: adv.dtype),
                Tensor.full(adv.shape, value: sapoTemperatureNegative, dtype: adv.dtype))
            perToken = -((temperatures * (coef1 - 1)).sigmoid() * 4 / temperatures * adv)
        case .grpo, .bnpo, .drGRPO, .dapo:
            let coef2 = coef1.clamped(min: 1 - epsilon, max: 1 + high)
            if let delta { coef1 = coef1.clamped(max: delta) }
            perToken = -minimum(coef1 * adv, coef2 * adv)
        }
        // Truncated importance sampling (TRL's vllm_importance_sampling_correction): the policy term is weighted by
        // min(π_old / π_sampler, cap) per token, before the KL term is added.
        if let samplerWeights { perToken = perToken * samplerWeights }
        if let kl { perToken = perToken + kl * beta }
        let loss: Tensor
        let sequences = Double(sequenceCount ?? perToken.size(0))
        let tokens = Swift.max(activeTokens ?? mask.sum().item(), 1)
        switch lossType {
        case .grpo, .sapo: loss = ((perToken * mask).sum(axis: -1) / mask.sum(axis: -1).clamped(min: 1.0)).sum() / sequences
        case .bnpo, .dapo, .cispo: loss = (perToken * mask).sum() / tokens
        case .drGRPO: loss = (perToken * mask).sum() / (sequences * Double(maxCompletionLength))
        }
        // Statistics, as TRL logs them (masked means over active tokens).
        return withNoGrad {
            let active = Swift.max(mask.sum().item(), 1)
            func maskedMean(_ x: Tensor) -> Double {
                x.size(-1) == 1 && mask.size(-1) != 1 ? x.mean().item() : (x * mask).sum().item() / active
            }
            let ratio = coef1.detached()
            let low = (ratio .< (1 - epsilon)) .&& (adv .< 0.0)
            let up = (ratio .> (1 + high)) .&& (adv .> 0.0)
            // TRL's masked_seq_mean: one value per sequence (sequence level: the sequence's own).
            func perSequence(_ x: Tensor) -> [Double] {
                if x.size(-1) == 1 && mask.size(-1) != 1 { return x.reshaped(-1).to(.float64).toArray(Double.self) }
                let sums = (x * mask).sum(axis: -1).to(.float64).toArray(Double.self)
                let counts = mask.sum(axis: -1).to(.float64).toArray(Double.self)
                return zip(sums, counts).compactMap { $1 > 0 ? $0 / $1 : nil }
            }
            let isClipping = lossType == .grpo || lossType == .bnpo || lossType == .drGRPO || lossType == .dapo
            return GRPOLossResult(
                loss: loss, kl: kl.map { maskedMean($0.detached()) } ?? 0,
                clipLow: isClipping ? maskedMean(low.to(.float32)) : 0, clipHigh: isClipping ? maskedMean(up.to(.float32)) : 0,
                clipRegion: isClipping ? maskedMean((low .|| up).to(.float32)) : 0,
                clipLowMin: isClipping ? perSequence(low.to(.float32)).min() ?? .nan : 0,
                clipHighMax: isClipping ? perSequence(up.to(.float32)).max() ?? .nan : 0)
        }
    }
}

/// Log-probabilities and entropies of completion tokens, computed in row chunks so the full
/// (batch × length × vocabulary) logits never sit in memory at once.
public enum TokenLogProbs {
    /// For sequences `ids` (B, L) whose last `T` tokens are the completion: per-token log-probabilities of those
    /// tokens under `logits / temperature`, (B, T), and the entropies of those distributions, (B, T).
    ///
    /// - Parameters:
    ///   - forward: maps ids (b, L) to logits (b, L, V) (the model, with gradient if needed).
    ///   - chunkRows: rows per chunk.
    public static func compute(ids: Tensor, completionLength t: Int, temperature: Double, chunkRows: Int = 8, forward: (Tensor) -> Tensor)
        -> (logps: Tensor, entropies: Tensor)
    {
        compute(ids: ids, completionLength: t, temperature: temperature, chunkRows: chunkRows) { rows, _ in forward(rows) }
    }

    /// As above, with `forward(ids, rowRange)` free to add positions and masks for left-padded rows. `forward` may
    /// return logits for every position (b, L, V) or only for the last `T + 1` positions (b, T + 1, V) — TRL's
    /// `logits_to_keep`, which spares the (b × prompt length × V) logits the loss never reads.
    public static func compute(
        ids: Tensor, completionLength t: Int, temperature: Double, chunkRows: Int = 8, forward: (Tensor, Range<Int>) -> Tensor
    ) -> (logps: Tensor, entropies: Tensor) {
        let (logps, entropies) = compute(
            ids: ids, completionLength: t, temperature: temperature, chunkRows: chunkRows, entropies: true, forward: forward)
        return (logps, entropies!)
    }

    /// The log-probabilities alone (a reference model's: no entropies, which cost two more vocabulary-wide passes
    /// per token; TRL skips them there too).
    public static func logProbabilities(
        ids: Tensor, completionLength t: Int, temperature: Double, chunkRows: Int = 8, forward: (Tensor, Range<Int>) -> Tensor
    ) -> Tensor {
        compute(ids: ids, completionLength: t, temperature: temperature, chunkRows: chunkRows, entropies: false, forward: forward).logps
    }

    private static func compute(
        ids: Tensor, completionLength t: Int, temperature: Double, chunkRows: Int, entropies wanted: Bool,
        forward: (Tensor, Range<Int>) -> Tensor
    ) -> (logps: Tensor, entropies: Tensor?) {
        let b = ids.size(0)
        let l = ids.size(1)
        var logps: [Tensor] = []
        var entropies: [Tensor] = []
        for start in stride(from: 0, to: b, by: chunkRows) {
            let n = Swift.min(chunkRows, b - start)
            let rows = ids.narrow(axis: 0, start: start, length: n)
            // Logits at position p predict token p + 1: the completion tokens are predicted by positions L−T−1 ..< L−1.
            let all = forward(rows, start..<(start + n))
            let first = all.size(1) == l ? l - t - 1 : 0
            let kept = all.narrow(axis: 1, start: first, length: t).to(.float32)
            let logits = temperature == 1 ? kept : kept / temperature
            let targets = rows.narrow(axis: 1, start: l - t, length: t).unsqueezed(axis: -1)
            // log p(token) = logit − logsumexp(logits): autograd keeps only the logits (which it needs anyway), not a
            // second vocabulary-wide log-softmax; at 151,936 columns that tensor is 0.6 MB per token.
            let normaliser = logits.logSumExp(axes: [-1])
            logps.append(logits.gather(axis: -1, index: targets).squeezed(axis: -1) - normaliser)
            if wanted { entropies.append(withNoGrad { entropy(logits: logits, normaliser: normaliser) }) }
        }
        return (concatenated(logps), wanted ? concatenated(entropies) : nil)
    }

    /// H = logsumexp(x) − Σ softmax(x)·x over the last axis of `logits` (n, T, V), a few rows at a time so the
    /// temporaries stay near `chunkBytes` however large the vocabulary. `normaliser` is logsumexp(x), (n, T).
    static func entropy(logits: Tensor, normaliser: Tensor, chunkBytes: Int = 64 << 20) -> Tensor {
        let (n, t, v) = (logits.size(0), logits.size(1), logits.size(2))
        let rows = Swift.max(1, chunkBytes / Swift.max(1, t * v * 4))
        guard rows < n else { return normaliser - (logits.softmax(axis: -1) * logits).sum(axis: -1) }
        return concatenated(stride(from: 0, to: n, by: rows).map { start in
            let x = logits.narrow(axis: 0, start: start, length: Swift.min(rows, n - start))
            return normaliser.narrow(axis: 0, start: start, length: x.size(0)) - (x.softmax(axis: -1) * x).sum(axis: -1)
        })
    }
}

extension GRPOLossType: ExpressibleByArgument {}
extension ImportanceSamplingLevel: ExpressibleByArgument {}
extension RewardScaling: ExpressibleByArgument {}
