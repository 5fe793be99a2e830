import ArgumentParser
import Foundation
import OrderedCollections
import Torch

/// The preference losses of Direct Preference Optimization (Rafailov et al. 2023) and its variants, by TRL's
/// `loss_type` names (TRL 1.16's DPOTrainer).
public enum DPOLossType: String, Sendable, Codable, CaseIterable, ExpressibleByArgument {
    /// −log σ(β Δ), the DPO paper's loss (TRL 1.16 applies no label smoothing to it).
    case sigmoid
    /// max(0, 1 − β Δ), the SLiC hinge (Zhao et al. 2023).
    case hinge
    /// (Δ̄ − 1/(2β))² with Δ̄ the difference of per-token mean log-ratios (IPO, Azar et al. 2023, as TRL normalises it).
    case ipo
    /// Robust DPO (Chowdhury et al. 2024): `labelSmoothing` is the probability a label was flipped.
    case robust
    /// EXO-pref (Ji et al. 2024, Eq. 16): `labelSmoothing` is its ε.
    case exoPair = "exo_pair"
}

/// Settings of the DPO objective (TRL's `DPOConfig` names in Swift spelling).
public struct DPOObjective: Sendable, Codable, Equatable {
    public var lossType: DPOLossType = .sigmoid
    /// β: how far the policy may move from the reference (IPO's τ).
    public var beta: Double = 0.1
    /// Robust DPO's flip probability, in [0, 0.5), or EXO's ε, in (0, 1); unused by the other losses.
    public var labelSmoothing: Double = 0

    /// TRL's defaults.
    public init() {}

    /// Checks the combination as TRL does, and refuses a label smoothing the loss would ignore.
    public func validate() throws {
        if !(beta > 0) { throw TrainingError.invalidConfiguration("beta = \(beta) must be positive") }
        switch lossType {
        case .robust:
            if !(labelSmoothing >= 0 && labelSmoothing < 0.5) {
                throw TrainingError.invalidConfiguration(
                    "labelSmoothing = \(labelSmoothing): robust DPO needs a flip probability in [0, 0.5)")
            }
        case .exoPair:
            if !(labelSmoothing > 0 && labelSmoothing < 1) {
                throw TrainingError.invalidConfiguration(
                    "labelSmoothing = \(labelSmoothing): exo_pair needs its epsilon in (0, 1) (the EXO paper suggests 1e-3)")
            }
        case .sigmoid, .hinge, .ipo:
            if labelSmoothing != 0 {
                throw TrainingError.invalidConfiguration(
                    "labelSmoothing = \(labelSmoothing) has no effect on loss type \(lossType.rawValue) (TRL 1.16 reads it only for robust and exo_pair); use --loss-type robust for conservative DPO"
                )
            }
        }
    }
}

/// The loss and the metrics TRL logs with it.
public struct DPOLossResult {
    /// The scalar to back-propagate: the mean over pairs.
    public var loss: Tensor
    /// `rewards/chosen`, `rewards/rejected`, `rewards/accuracies`, `rewards/margins`, `logps/chosen`, `logps/rejected`:
    /// means over the pairs, as TRL logs them (rewards are β × the log-ratio to the reference).
    public var metrics: OrderedDictionary<String, Double>
}

extension DPOObjective {
    /// The DPO loss of a batch of pairs (TRL's `_compute_loss` after the forward passes).
    ///
    /// - Parameters:
    ///   - chosenLogps, rejectedLogps: log-probabilities of each pair's completions under the policy, summed over the
    ///     completion tokens, (B), with gradient.
    ///   - refChosenLogps, refRejectedLogps: the same under the reference, (B), no gradient.
    ///   - chosenTokens, rejectedTokens: completion tokens of each completion (IPO's per-token normaliser), (B).
    public func loss(
        chosenLogps: Tensor, rejectedLogps: Tensor, refChosenLogps: Tensor, refRejectedLogps: Tensor, chosenTokens: Tensor,
        rejectedTokens: Tensor
    ) -> DPOLossResult {
        let chosenRatio = chosenLogps - refChosenLogps  // (B) log π/π_ref of the chosen completion
        let rejectedRatio = rejectedLogps - refRejectedLogps
        let delta = chosenRatio - rejectedRatio
        let z = delta * beta
        let perPair: Tensor
        switch lossType {
        case .sigmoid:
            perPair = -Self.logSigmoid(z)
        case .hinge:
            perPair = (1.0 - z).relu()
        case .ipo:
            let normalised = chosenRatio / chosenTokens.clamped(min: 1.0) - rejectedRatio / rejectedTokens.clamped(min: 1.0)
            perPair = (normalised - 1 / (2 * beta)).square()
        case .robust:
            let e = labelSmoothing
            perPair = (Self.logSigmoid(z) * -(1 - e) + Self.logSigmoid(-z) * e) / (1 - 2 * e)
        case .exoPair:
            let e = labelSmoothing
            let (qw, ql) = (z.sigmoid(), (-z).sigmoid())
            perPair = qw * (Self.logSigmoid(z) - Foundation.log1p(-e)) + ql * (Self.logSigmoid(-z) - Foundation.log(e))
        }
        let metrics = withNoGrad { () -> OrderedDictionary<String, Double> in
            let chosen = chosenRatio.detached() * beta
            let rejected = rejectedRatio.detached() * beta
            return [
                "rewards/chosen": chosen.mean().item(), "rewards/rejected": rejected.mean().item(),
                "rewards/accuracies": (chosen .> rejected).to(.float32).mean().item(), "rewards/margins": (chosen - rejected).mean().item(),
                "logps/chosen": chosenLogps.detached().mean().item(), "logps/rejected": rejectedLogps.detached().mean().item(),
            ]
        }
        return DPOLossResult(loss: perPair.mean(), metrics: metrics)
    }

    /// log σ(x), computed stably as min(x, 0) − log(1 + e^−|x|).
    static func logSigmoid(_ x: Tensor) -> Tensor {
        minimum(x, x.zerosLike()) - (-x.abs()).exp().log1p()
    }
}
