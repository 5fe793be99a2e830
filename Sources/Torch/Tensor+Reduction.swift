import CTorch

extension Tensor {
    @inline(__always)
    func reduce(_ op: pt_reduce_op, _ axes: [Int], _ keepDims: Bool, _ name: StaticString) -> Tensor {
        Tensor.make("\(name)(axes: \(axes)) of \(shape)") { out in axes.int64s { pt_reduce(out, op, handle, $0, $1, keepDims) } }
    }

    /// Sum over `axes` (all when empty).
    public func sum(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_SUM, axes, keepDims, "sum") }
    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }
    /// Mean over `axes` (all when empty).
    public func mean(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_MEAN, axes, keepDims, "mean") }
    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }
    /// Product over `axes` (all when empty).
    public func product(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_PROD, axes, keepDims, "product") }
    /// Largest value over `axes` (all when empty).
    public func max(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_AMAX, axes, keepDims, "max") }
    /// Smallest value over `axes` (all when empty).
    public func min(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_AMIN, axes, keepDims, "min") }
    /// log Σ exp(x) over `axes`, computed stably.
    public func logSumExp(axes: [Int], keepDims: Bool = false) -> Tensor { reduce(PT_LOGSUMEXP, axes, keepDims, "logSumExp") }
    /// Whether any element over `axes` is true.
    public func any(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_ANY, axes, keepDims, "any") }
    /// Whether every element over `axes` is true.
    public func all(axes: [Int] = [], keepDims: Bool = false) -> Tensor { reduce(PT_ALL, axes, keepDims, "all") }

    /// Variance over `axes` (all when empty) with `correction` (1 = Bessel's, as torch's default).
    public func variance(axes: [Int] = [], correction: Int = 1, keepDims: Bool = false) -> Tensor {
        Tensor.make("variance") { out in axes.int64s { pt_var(out, handle, $0, $1, Int64(correction), keepDims) } }
    }
    /// Standard deviation over `axes` (all when empty) with `correction` (1 = Bessel's).
    public func standardDeviation(axes: [Int] = [], correction: Int = 1, keepDims: Bool = false) -> Tensor {
        Tensor.make("standardDeviation") { out in axes.int64s { pt_std(out, handle, $0, $1, Int64(correction), keepDims) } }
    }
    /// Largest values along `axis` and their indices.
    public func max(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: Tensor) {
        Tensor.make2("max(axis: \(axis))") { pt_max_dim($0, $1, handle, Int64(axis), keepDims) }
    }
    /// Smallest values along `axis` and their indices.
    public func min(axis: Int, keepDims: Bool = false) -> (values: Tensor, indices: Tensor) {
        Tensor.make2("min(axis: \(axis))") { pt_min_dim($0, $1, handle, Int64(axis), keepDims) }
    }
    /// Index of the largest value along `axis`.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor {
        Tensor.make("argmax(axis: \(axis))") { pt_argmax($0, handle, Int64(axis), keepDims) }
    }
    /// Index of the smallest value along `axis`.
    public func argmin(axis: Int, keepDims: Bool = false) -> Tensor {
        Tensor.make("argmin(axis: \(axis))") { pt_argmin($0, handle, Int64(axis), keepDims) }
    }
    /// The `k` largest (or smallest) values along `axis` and their indices.
    public func topK(_ k: Int, axis: Int = -1, largest: Bool = true, sorted: Bool = true) -> (values: Tensor, indices: Tensor) {
        Tensor.make2("topK(\(k), axis: \(axis)) of \(shape)") { pt_topk($0, $1, handle, Int64(k), Int64(axis), largest, sorted) }
    }
    /// Values sorted along `axis` and the permutation that sorts them.
    public func sorted(axis: Int = -1, descending: Bool = false, stable: Bool = false) -> (values: Tensor, indices: Tensor) {
        Tensor.make2("sorted(axis: \(axis))") { pt_sort($0, $1, handle, Int64(axis), descending, stable) }
    }
    /// Running sum along `axis`.
    public func cumulativeSum(axis: Int) -> Tensor { Tensor.make("cumulativeSum") { pt_cumsum($0, handle, Int64(axis)) } }
    /// The p-norm over `axes` (all when empty).
    public func norm(_ p: Double = 2, axes: [Int] = [], keepDims: Bool = false) -> Tensor {
        Tensor.make("norm") { out in axes.int64s { pt_norm(out, handle, p, $0, $1, keepDims) } }
    }
}
