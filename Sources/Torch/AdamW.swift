import CTorch
import Foundation
import OrderedCollections

/// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, run by libtorch's fused CPU kernel.
///
/// Per parameter: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p(1 − lr·λ) − lr · m̂ / (√v̂ + ε)` with
/// bias-corrected `m̂`, `v̂`. Numerically the same as `torch.optim.AdamW(fused=True)`.
public final class AdamW {
    /// Hyper-parameters, with PyTorch's defaults.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Step size; schedulers change it between steps.
        public var learningRate: Double = 1e-3
        /// Decay of the first moment.
        public var beta1: Double = 0.9
        /// Decay of the second moment.
        public var beta2: Double = 0.999
        /// Added to √v̂ for stability.
        public var eps: Double = 1e-8
        /// Decoupled weight decay λ.
        public var weightDecay: Double = 0.01

        /// Makes a configuration.
        public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, eps: Double = 1e-8, weightDecay: Double = 0.01)
        {
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.weightDecay = weightDecay
        }
    }

    /// The hyper-parameters; `learningRate` may be changed between steps.
    public var configuration: Configuration
    /// The optimised parameters by name (they must require gradients).
    public let parameters: OrderedDictionary<String, Tensor>
    /// float32 copies of parameters held in a lower precision (mixed precision); empty when the parameters are the
    /// optimizer's own weights.
    private var masters: [Tensor]
    private var expAvg: [Tensor]
    private var expAvgSq: [Tensor]
    private var steps: [Tensor]

    /// An optimizer over `parameters`, whose moments start at zero. With `masterWeights` (for bfloat16 or float16
    /// parameters) the update runs on float32 master copies with float32 moments, and the parameters receive the
    /// rounded result: an update far below the parameters' precision (1e-6 on a weight near 1 in bfloat16) still
    /// accumulates instead of rounding away.
    public init(
        parameters: OrderedDictionary<String, Tensor>, configuration: Configuration = Configuration(), masterWeights: Bool = false
    ) {
        self.parameters = parameters
        self.configuration = configuration
        let values = Array(parameters.values)
        masters = masterWeights ? values.map { $0.detached().to(.float32).clone() } : []
        let weights = masterWeights ? masters : values
        expAvg = weights.map { $0.detached().zerosLike() }
        expAvgSq = weights.map { $0.detached().zerosLike() }
        steps = values.map { _ in Tensor.zeros([], dtype: .float32) }
    }

    /// Whether updates run on float32 master weights.
    public var usesMasterWeights: Bool { !masters.isEmpty }

    /// The float32 master copy of parameter `name` (mixed precision only).
    public func masterWeight(_ name: String) -> Tensor? {
        guard let i = parameters.index(forKey: name), !masters.isEmpty else { return nil }
        return masters[i]
    }

    /// The number of steps taken by the first parameter.
    public var stepCount: Int { steps.first.map { Int($0.item()) } ?? 0 }

    /// Applies one update from the parameters' current gradients; parameters without a gradient are skipped.
    public func step() {
        let values = masters.isEmpty ? Array(parameters.values) : masters
        let grads = masters.isEmpty ? parameters.values.map(\.grad) : parameters.values.map { $0.grad?.to(.float32) }
        let gradHandles: [pt_tensor?] = grads.map { $0?.handle }
        _ = withExtendedLifetime(grads) {
            gradHandles.withUnsafeBufferPointer { g in
                values.handles { p, n in
                    expAvg.handles { m, _ in
                        expAvgSq.handles { v, _ in
                            steps.handles { s, _ in
                                check(
                                    pt_adamw_step(
                                        p, g.baseAddress, m, v, s, n, configuration.learningRate, configuration.beta1,
                                        configuration.beta2, configuration.weightDecay, configuration.eps),
                                    "AdamW.step")
                            }
                        }
                    }
                }
            }
        }
        if !masters.isEmpty { withNoGrad { for (p, m) in zip(parameters.values, masters) { p.copy_(m) } } }
    }

    /// Drops every parameter's gradient.
    public func zeroGrad() {
        for p in parameters.values { p.zeroGrad() }
    }

    /// The optimizer state as named tensors (`<param>.exp_avg`, `<param>.exp_avg_sq`, `<param>.step`), for checkpoints.
    public func stateDict() -> OrderedDictionary<String, Tensor> {
        var state = OrderedDictionary<String, Tensor>()
        for (i, name) in parameters.keys.enumerated() {
            if !masters.isEmpty { state["\(name).master"] = masters[i] }
            state["\(name).exp_avg"] = expAvg[i]
            state["\(name).exp_avg_sq"] = expAvgSq[i]
            state["\(name).step"] = steps[i]
        }
        return state
    }

    /// Restores state saved by `stateDict()`; a missing or mis-shaped entry is an error naming it.
    public func loadStateDict(_ state: [String: Tensor]) throws {
        for (i, (name, p)) in parameters.enumerated() {
            var entries = [("exp_avg", expAvg[i], p.shape), ("exp_avg_sq", expAvgSq[i], p.shape), ("step", steps[i], [Int]())]
            if !masters.isEmpty { entries.append(("master", masters[i], p.shape)) }
            for (suffix, target, shape) in entries {
                let key = "\(name).\(suffix)"
                if suffix == "master" && state[key] == nil {
                    // State saved without master weights: start them from the parameters.
                    withNoGrad { target.copy_(p) }
                    continue
                }
                guard let saved = state[key] else { throw OptimizerError.missingState(key) }
                guard saved.shape == shape else { throw OptimizerError.shapeMismatch(key, expected: shape, found: saved.shape) }
                withNoGrad { target.copy_(saved) }
            }
        }
    }
}

/// A problem restoring optimizer state.
public enum OptimizerError: Error, LocalizedError, Equatable {
    case missingState(String)
    case shapeMismatch(String, expected: [Int], found: [Int])

    public var errorDescription: String? {
        switch self {
        case .missingState(let key): "optimizer state has no entry \"\(key)\"; was it saved for a different model?"
        case .shapeMismatch(let key, let e, let f): "optimizer state \"\(key)\" has shape \(f), the parameter needs \(e)"
        }
    }
}

/// Scales the gradients of `parameters` in place so their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping (torch.nn.utils.clip_grad_norm_).
@discardableResult
public func clipGradNorm<C: Collection<Tensor>>(_ parameters: C, maxNorm: Double) -> Double {
    let grads = parameters.map(\.grad)
    let handles: [pt_tensor?] = grads.map { $0?.handle }
    var norm = 0.0
    _ = withExtendedLifetime(grads) {
        handles.withUnsafeBufferPointer { check(pt_clip_grad_norm(&norm, $0.baseAddress, Int32($0.count), maxNorm), "clipGradNorm") }
    }
    return norm
}
