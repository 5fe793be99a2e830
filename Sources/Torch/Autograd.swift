import CTorch

extension Tensor {
    /// Whether gradients flow to this tensor. Setting it makes the tensor a leaf that accumulates `grad`.
    public var requiresGrad: Bool {
        get { pt_requires_grad(handle) }
        set { check(pt_set_requires_grad(handle, newValue), "requiresGrad") }
    }

    /// Marks the tensor as requiring gradients and returns it.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        requiresGrad = flag
        return self
    }

    /// Back-propagates from this tensor. A non-scalar tensor needs the gradient of the loss with respect to it.
    public func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        check(pt_backward(handle, gradient?.handle, retainGraph), "backward of \(shape)")
    }

    /// The accumulated gradient, or `nil` when none has been computed.
    public var grad: Tensor? {
        var out: pt_tensor?
        guard check(pt_grad(&out, handle), "grad"), let out else { return nil }
        return Tensor(handle: out)
    }

    /// Drops the accumulated gradient (the next backward starts from none).
    public func zeroGrad() { check(pt_zero_grad(handle), "zeroGrad") }

    /// The same data cut from the autograd graph.
    public func detached() -> Tensor { Tensor.make("detached") { pt_detach($0, handle) } }

    // MARK: In-place updates (for optimizers and caches; not recorded for autograd when inside withNoGrad)

    /// Copies `source`'s values into this tensor (broadcasting, converting dtype).
    public func copy_(_ source: Tensor) { check(pt_copy_(handle, source.handle), "copy_ of \(source.shape) into \(shape)") }
    /// Sets every element to `value`.
    public func fill_<S: TensorScalar>(_ value: S) { check(pt_fill_(handle, value.ptScalar), "fill_") }
    /// Sets every element to zero.
    public func zero_() { check(pt_zero_(handle), "zero_") }
    /// `self += alpha * other`.
    public func add_<S: TensorScalar>(_ other: Tensor, alpha: S) { check(pt_add_(handle, other.handle, alpha.ptScalar), "add_") }
    /// `self += other`.
    public func add_(_ other: Tensor) { add_(other, alpha: 1) }
    /// `self *= scalar`.
    public func mul_<S: TensorScalar>(_ scalar: S) { check(pt_mul_scalar_(handle, scalar.ptScalar), "mul_") }
    /// Writes the rows of `source` at positions `index` along `axis`.
    public func indexCopy_(axis: Int, index: Tensor, source: Tensor) {
        check(pt_index_copy_(handle, Int64(axis), index.handle, source.handle), "indexCopy_")
    }
}

/// Runs `body` with gradient recording off on this thread (inference, optimizer steps).
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = pt_set_grad_enabled(false)
    defer { pt_set_grad_enabled(previous) }
    return try body()
}

/// Runs `body` with gradient recording on (inside an outer `withNoGrad`).
public func withGrad<R>(_ body: () throws -> R) rethrows -> R {
    let previous = pt_set_grad_enabled(true)
    defer { pt_set_grad_enabled(previous) }
    return try body()
}
