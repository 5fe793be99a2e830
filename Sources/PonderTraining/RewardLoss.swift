import Torch

/// The reward-model losses, under TRL's names.
public enum RewardLoss {
    /// Bradley–Terry on preference pairs, as TRL's `RewardTrainer.compute_loss`:
    /// mean(−log σ(r_c − r_r − margin)) + `centerRewardsCoefficient` · mean((r_c + r_r)²) (Eisenstein et al.'s
    /// centring term). `chosen`, `rejected`: (B,) rewards; `margin`: (B,) or `nil`.
    public static func bradleyTerry(chosen: Tensor, rejected: Tensor, margin: Tensor? = nil, centerRewardsCoefficient: Double? = nil)
        -> Tensor
    {
        var difference = chosen - rejected
        if let margin { difference = difference - margin }
        var loss = negativeLogSigmoid(difference).mean()
        if let c = centerRewardsCoefficient { loss = loss + (chosen + rejected).square().mean() * c }
        return loss
    }

    /// Pointwise binary cross-entropy on verified outcomes: mean over rows of BCE(σ(logit), label), label 1 for a
    /// verified solution. `logits`, `labels`: (B,).
    public static func pointwise(logits: Tensor, labels: Tensor) -> Tensor {
        // −[y log σ(x) + (1 − y) log σ(−x)]
        (labels * negativeLogSigmoid(logits) + (1.0 - labels) * negativeLogSigmoid(0.0 - logits)).mean()
    }

    /// Per-step token classification, as TRL's `PRMTrainer` trains `*ForTokenClassification`: cross-entropy of
    /// `logits` (B, T, labels) against `labels` (B, T), where -100 marks tokens that carry no label (the prompt and
    /// every token of a step but its last); the mean over labelled tokens.
    public static func tokenClassification(logits: Tensor, labels: Tensor) -> Tensor {
        crossEntropy(logits: logits.reshaped(-1, logits.size(-1)).to(.float32), target: labels.reshaped(-1))
    }

    /// −log σ(x), computed stably as max(−x, 0) + log(1 + exp(−|x|)).
    static func negativeLogSigmoid(_ x: Tensor) -> Tensor {
        (0.0 - x).clamped(min: 0.0) + (0.0 - x.abs()).exp().log1p()
    }
}
