import CTorch

/// An n-dimensional array held by libtorch.
///
/// A `Tensor` owns one libtorch handle and frees it in `deinit`; several `Tensor`s may share storage (views).
/// Ops never throw: see `withTorchErrors(_:)` for how failures surface.
///
/// Concurrency: `Tensor` is `Sendable`. libtorch reads are thread-safe, so tensors may be shared between tasks
/// and read concurrently; mutating a tensor in place (`copy_`, optimizer steps) while another task reads or
/// writes it is a data race the caller must prevent, as with any shared mutable buffer. Grad mode is
/// thread-local in libtorch, so `withNoGrad` takes a synchronous closure only.
public final class Tensor: @unchecked Sendable {
    /// The libtorch handle (owned).
    public let handle: pt_tensor

    /// Takes ownership of a handle returned by the C API.
    public init(handle: pt_tensor) {
        self.handle = handle
    }

    deinit { pt_free(handle) }

    /// Runs a C function writing one tensor and wraps its result; on failure reports `operation`.
    @inline(__always)
    static func make(_ operation: @autoclosure () -> String, _ body: (UnsafeMutablePointer<pt_tensor?>) -> Int32) -> Tensor {
        Tensor(handle: makeHandle(operation(), body))
    }

    /// Like `make`, returning the raw handle (an undefined tensor on failure).
    @inline(__always)
    static func makeHandle(_ operation: @autoclosure () -> String, _ body: (UnsafeMutablePointer<pt_tensor?>) -> Int32) -> pt_tensor {
        var out: pt_tensor?
        if check(body(&out), operation()), let out { return out }
        return pt_undefined()
    }

    /// Runs a C function writing two tensors (values and indices).
    static func make2(_ operation: String, _ body: (UnsafeMutablePointer<pt_tensor?>, UnsafeMutablePointer<pt_tensor?>) -> Int32)
        -> (Tensor, Tensor)
    {
        var a: pt_tensor?
        var b: pt_tensor?
        if check(body(&a, &b), operation), let a, let b { return (Tensor(handle: a), Tensor(handle: b)) }
        return (Tensor(handle: pt_undefined()), Tensor(handle: pt_undefined()))
    }

    // MARK: - From Swift values

    /// A tensor holding a copy of `values` with the given shape (default: 1-D).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil) {
        let shape = shape ?? [values.count]
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        let handle = values.withUnsafeBytes { raw in
            Tensor.makeHandle("Tensor(values:shape:)") { out in
                shape.int64s { pt_from_data(out, raw.baseAddress, $0, $1, T.dtype.rawValue) }
            }
        }
        self.init(handle: handle)
    }

    /// A tensor holding a copy of `values` converted to `dtype` (for dtypes without a Swift type, e.g. `.bfloat16`).
    public convenience init<T: TensorElement>(_ values: [T], shape: [Int]? = nil, dtype: DType) {
        let t = Tensor(values, shape: shape)
        self.init(handle: (t.dtype == dtype ? t : t.to(dtype)).handleCopy())
    }

    /// A 0-dimensional tensor holding `value`.
    public convenience init<T: TensorElement>(scalar value: T) {
        self.init([value], shape: [])
    }

    /// A tensor whose element bytes are copied from `bytes` (little-endian, row-major), as safetensors stores them.
    public convenience init(bytes: UnsafeRawBufferPointer, shape: [Int], dtype: DType) {
        precondition(bytes.count == shape.reduce(1, *) * dtype.byteSize, "\(bytes.count) bytes for shape \(shape) of \(dtype)")
        self.init(
            handle: Tensor.makeHandle("Tensor(bytes:shape:dtype:)") { out in
                shape.int64s { pt_from_data(out, bytes.baseAddress, $0, $1, dtype.rawValue) }
            })
    }

    /// A new handle sharing this tensor (no copy of data).
    func handleCopy() -> pt_tensor {
        var out: pt_tensor?
        _ = pt_shallow_clone(&out, handle)
        return out ?? pt_undefined()
    }

    // MARK: - Inspection

    /// Whether the tensor holds a value (false only for the placeholder left by a failed op in `withTorchErrors`).
    public var isDefined: Bool { pt_defined(handle) }
    /// Number of dimensions.
    public var rank: Int { Int(pt_dim(handle)) }
    /// Size of each dimension.
    public var shape: [Int] {
        let n = rank
        var sizes = [Int64](repeating: 0, count: n)
        sizes.withUnsafeMutableBufferPointer { pt_sizes(handle, $0.baseAddress) }
        return sizes.map(Int.init)
    }
    /// Element strides of each dimension.
    public var strides: [Int] {
        var s = [Int64](repeating: 0, count: rank)
        s.withUnsafeMutableBufferPointer { pt_strides(handle, $0.baseAddress) }
        return s.map(Int.init)
    }
    /// Size of dimension `axis` (negative counts from the end).
    public func size(_ axis: Int) -> Int {
        let s = shape
        return s[axis < 0 ? axis + s.count : axis]
    }
    /// Element type.
    public var dtype: DType { DType(rawValue: pt_dtype(handle)) ?? .float32 }
    /// The device the data lives on.
    public var device: Device { pt_device(handle) == Int32(PT_CUDA) ? .cuda(0) : .cpu }
    /// Number of elements.
    public var count: Int { Int(pt_numel(handle)) }
    /// Whether the elements are laid out contiguously in row-major order.
    public var isContiguous: Bool { pt_is_contiguous(handle) }

    // MARK: - To Swift values

    /// The elements in row-major order, converted to `T`'s dtype if needed.
    public func toArray<T: TensorElement>(_ type: T.Type = T.self) -> [T] {
        let source = dtype == T.dtype ? self : to(T.dtype)
        let n = source.count
        guard source.isDefined else { return [] }
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            let ok = check(pt_copy_to_buffer(source.handle, buffer.baseAddress, n * MemoryLayout<T>.stride), "toArray")
            initialized = ok ? n : 0
        }
    }

    /// The element bytes (contiguous, little-endian), as safetensors stores them.
    public func bytes() -> [UInt8] {
        let n = count * dtype.byteSize
        return [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            initialized = check(pt_copy_to_buffer(handle, buffer.baseAddress, n), "bytes") ? n : 0
        }
    }

    /// The single element of a one-element tensor as a `Double`.
    public func item() -> Double {
        var s = pt_scalar()
        guard check(pt_item(&s, handle), "item") else { return .nan }
        switch s.kind {
        case 0: return s.d
        default: return Double(s.i)
        }
    }

    /// The single element of a one-element tensor as `T`.
    public func item<T: TensorElement>(_ type: T.Type) -> T {
        precondition(count == 1, "item() needs a one-element tensor, this one has shape \(shape)")
        return toArray(T.self)[0]
    }
}

extension Tensor: CustomStringConvertible {
    /// libtorch's own formatting of the values, followed by dtype and shape.
    public var description: String {
        var cstr: UnsafeMutablePointer<CChar>?
        guard pt_description(&cstr, handle) == 0, let cstr else { return "Tensor(\(dtype), \(shape))" }
        defer { pt_free_string(cstr) }
        return String(cString: cstr)
    }
}

extension Array where Element == Int {
    /// Calls `body` with this list as a C `(const int64_t *, int)` pair.
    @inline(__always)
    func int64s<R>(_ body: (UnsafePointer<Int64>?, Int32) -> R) -> R {
        // Int is 64-bit on every platform Ponder supports, so the buffer can be reinterpreted without a copy.
        withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: Int64.self) { body($0.baseAddress, Int32(count)) }
        }
    }
}

extension Array where Element == Tensor {
    /// Calls `body` with the handles as a C array.
    func handles<R>(_ body: (UnsafePointer<pt_tensor?>?, Int32) -> R) -> R {
        let hs: [pt_tensor?] = map { $0.handle }
        return withExtendedLifetime(self) { hs.withUnsafeBufferPointer { body($0.baseAddress, Int32(count)) } }
    }
}
