import Foundation
import Torch

/// The generalized Jensen–Shannon divergence of on-policy distillation (GKD, Agarwal et al. 2024, Eq. 1), as TRL's
/// `GKDTrainer.generalized_jsd_loss` computes it.
///
/// With student distribution S, teacher T and the mixture M = (1 − β) S + β T (in probability space), per token
///
///     JSD_β = β KL(T ‖ M) + (1 − β) KL(S ‖ M),
///
/// and at the ends β = 0 gives the forward KL(T ‖ S) and β = 1 the reverse KL(S ‖ T). Summed over the vocabulary and
/// averaged over the positions whose label counts (TRL's `batchmean` with labels).
public enum GeneralizedJSD {
    /// The loss.
    ///
    /// - Parameters:
    ///   - studentLogits: (B, T, V), with gradient.
    ///   - teacherLogits: (B, T, V), no gradient.
    ///   - mask: (B, T) float, 1 where the position's next token is a completion token (TRL's `labels != -100`).
    ///   - beta: the interpolation in [0, 1].
    ///   - temperature: both distributions are of logits / temperature.
    ///   - normaliser: divide the sum by this instead of the mask's count (the token count of a whole accumulated
    ///     step, TRL's `num_items_in_batch`); `nil` for the mask's count, at least 1.
    public static func loss(
        studentLogits: Tensor, teacherLogits: Tensor, mask: Tensor, beta: Double, temperature: Double = 1, normaliser: Double? = nil
    ) -> Tensor {
        let s = (studentLogits.to(.float32) / temperature).logSoftmax(axis: -1)  // (B, T, V) log S
        let t = (teacherLogits.to(.float32) / temperature).logSoftmax(axis: -1)  // (B, T, V) log T
        let perVocab: Tensor
        if beta == 0 {
            perVocab = t.exp() * (t - s)  // KL(T ‖ S)
        } else if beta == 1 {
            perVocab = s.exp() * (s - t)  // KL(S ‖ T)
        } else {
            // log M = logsumexp(log S + log(1 − β), log T + log β)
            let m = stacked([s + Foundation.log1p(-beta), t + Foundation.log(beta)], axis: 0).logSumExp(axes: [0])
            perVocab = t.exp() * (t - m) * beta + s.exp() * (s - m) * (1 - beta)
        }
        let perToken = perVocab.sum(axis: -1) * mask.to(.float32)  // (B, T)
        let count = normaliser ?? Swift.max(mask.sum().item(), 1)
        return perToken.sum() / count
    }
}
