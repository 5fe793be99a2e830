import CTorch

/// How a loss over many elements is reduced.
public enum LossReduction: Sendable {
    case none, mean, sum
    var code: pt_reduction {
        switch self {
        case .none: PT_REDUCTION_NONE
        case .mean: PT_REDUCTION_MEAN
        case .sum: PT_REDUCTION_SUM
        }
    }
}

extension Tensor {
    /// Matrix product with broadcasting over leading dimensions (torch.matmul).
    public func matmul(_ other: Tensor) -> Tensor {
        Tensor.make("matmul of \(shape) and \(other.shape)") { pt_matmul($0, handle, other.handle) }
    }
    /// Softmax along `axis`.
    public func softmax(axis: Int = -1) -> Tensor { Tensor.make("softmax") { pt_softmax($0, handle, Int64(axis)) } }
    /// log(softmax) along `axis`, computed stably.
    public func logSoftmax(axis: Int = -1) -> Tensor { Tensor.make("logSoftmax") { pt_log_softmax($0, handle, Int64(axis)) } }
    /// x · sigmoid(x) (SwiGLU's gate).
    public func silu() -> Tensor { unary(PT_SILU, "silu") }
    /// Gaussian error linear unit; `approximate` uses the tanh form.
    public func gelu(approximate: Bool = false) -> Tensor { approximate ? unary(PT_GELU_TANH, "gelu") : unary(PT_GELU, "gelu") }
    /// 1 / (1 + e^−x).
    public func sigmoid() -> Tensor { unary(PT_SIGMOID, "sigmoid") }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { unary(PT_TANH, "tanh") }
    /// max(x, 0).
    public func relu() -> Tensor { unary(PT_RELU, "relu") }
    /// Dropout with probability `p` when `training`, identity otherwise.
    public func dropout(_ p: Double, training: Bool) -> Tensor { Tensor.make("dropout") { pt_dropout($0, handle, p, training) } }
}

/// Matrix product of two tensors (broadcasting).
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor { a.matmul(b) }

/// Batched matrix product: (B, N, K) × (B, K, M) → (B, N, M).
public func bmm(_ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.make("bmm of \(a.shape) and \(b.shape)") { pt_bmm($0, a.handle, b.handle) }
}

/// `x Wᵀ + b` with `weight` of shape (out, in), as `nn.Linear` stores it.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    Tensor.make("linear of \(x.shape) with weight \(weight.shape)") { pt_linear($0, x.handle, weight.handle, bias?.handle) }
}

/// Rows of `weight` (vocab, dim) picked by integer `indices`: shape `indices.shape + [dim]`.
public func embedding(_ indices: Tensor, weight: Tensor) -> Tensor {
    Tensor.make("embedding of \(indices.shape) into \(weight.shape)") { pt_embedding($0, weight.handle, indices.handle) }
}

/// RMSNorm, libtorch's fused kernel: `x / sqrt(mean(x², last dims) + eps) * weight` (Zhang & Sennrich 2019).
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Double) -> Tensor {
    Tensor.make("rmsNorm of \(x.shape) with weight \(weight.shape)") { pt_rms_norm($0, x.handle, weight.handle, eps) }
}

/// softmax(q kᵀ · scale + mask) v over (B, H, T, D) tensors.
///
/// - Parameters:
///   - mask: boolean (true = attend) or additive float mask broadcastable to (B, H, Tq, Tk).
///   - causal: apply a causal mask aligned to the top-left (query i sees keys 0...i).
///   - scale: defaults to 1/√D.
///   - grouped: allow fewer key/value heads than query heads (grouped-query attention).
public func scaledDotProductAttention(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor? = nil, causal: Bool = false, scale: Double? = nil, grouped: Bool = false
) -> Tensor {
    Tensor.make("scaledDotProductAttention of q \(query.shape), k \(key.shape), v \(value.shape)") {
        pt_scaled_dot_product_attention($0, query.handle, key.handle, value.handle, mask?.handle, causal, scale ?? -1, grouped)
    }
}

/// Cross-entropy between `logits` (N, C) and class indices `target` (N); targets equal to `ignoreIndex` count for nothing.
public func crossEntropy(
    logits: Tensor, target: Tensor, ignoreIndex: Int = -100, reduction: LossReduction = .mean, labelSmoothing: Double = 0
) -> Tensor {
    Tensor.make("crossEntropy of logits \(logits.shape) and target \(target.shape)") {
        pt_cross_entropy($0, logits.handle, target.handle, Int64(ignoreIndex), reduction.code, labelSmoothing)
    }
}

/// `count` samples of category indices from each row of non-negative weights `probabilities`.
public func multinomial(_ probabilities: Tensor, count: Int, replacement: Bool = false, generator: RandomGenerator? = nil) -> Tensor {
    Tensor.make("multinomial") { pt_multinomial($0, probabilities.handle, Int64(count), replacement, generator?.handle) }
}

/// A float32 weight matrix (out, in) packed once into MKL's GEMM layout, for `linear(_:packed:bias:)`.
///
/// libtorch's `linear` lets MKL repack the weight on every call, which at a few rows (a decode step's batch) is a
/// large share of the GEMM: measured here at 4-64 rows, the packed GEMM is 1.3-2.6x faster; at 1-2 rows and past
/// about 128 it gains nothing. The packed copy costs about the weight's bytes again. It is a snapshot: when the
/// weight is written in place (an optimizer step, a copy), its version counter moves and `isCurrent` turns false.
public final class PackedLinearWeight {
    /// The weight as it was packed (the same storage as the caller's tensor).
    public let weight: Tensor
    let packed: Tensor
    let version: Int

    /// Whether this libtorch has MKL's packed GEMM.
    public static let isAvailable: Bool = pt_has_packed_linear()

    /// Packs `weight` (2-D float32 on the CPU), or returns `nil` when this libtorch cannot.
    public init?(_ weight: Tensor) {
        guard Self.isAvailable, weight.dtype == .float32, weight.shape.count == 2, case .cpu = weight.device else { return nil }
        var out: pt_tensor?
        guard pt_pack_linear_weight(&out, weight.handle, 32) == 0, let out else { return nil }
        self.weight = weight
        packed = Tensor(handle: out)
        version = weight.version
    }

    /// Whether the weight is unchanged since it was packed.
    public var isCurrent: Bool { weight.version == version }
}

/// x Wᵀ + b with a packed weight (float32, no autograd: for inference under `withNoGrad`).
public func linear(_ x: Tensor, packed: PackedLinearWeight, bias: Tensor? = nil) -> Tensor {
    Tensor.make("packed linear of \(x.shape) with weight \(packed.weight.shape)") {
        pt_packed_linear($0, x.handle, packed.packed.handle, packed.weight.handle, bias?.handle)
    }
}

extension Tensor {
    /// The version counter of the tensor's storage: every in-place write increases it.
    public var version: Int { Int(pt_version(handle)) }
}
