import CTorch

extension Tensor {
    /// The same elements in a new shape (one size may be -1); copies only when a view is impossible.
    public func reshaped(_ shape: [Int]) -> Tensor {
        Tensor.make("reshaped(\(shape)) of \(self.shape)") { out in shape.int64s { pt_reshape(out, handle, $0, $1) } }
    }
    /// The same elements in a new shape (variadic form).
    public func reshaped(_ shape: Int...) -> Tensor { reshaped(shape) }
    /// A view with a new shape; fails when the strides do not allow one.
    public func view(_ shape: [Int]) -> Tensor {
        Tensor.make("view(\(shape)) of \(self.shape)") { out in shape.int64s { pt_view(out, handle, $0, $1) } }
    }
    /// The dimensions reordered (`permuted([0, 2, 1, 3])`).
    public func permuted(_ axes: [Int]) -> Tensor {
        Tensor.make("permuted(\(axes))") { out in axes.int64s { pt_permute(out, handle, $0, $1) } }
    }
    /// The dimensions reordered (variadic form).
    public func permuted(_ axes: Int...) -> Tensor { permuted(axes) }
    /// Two dimensions swapped (default: the last two).
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> Tensor {
        Tensor.make("transposed(\(axis0), \(axis1))") { pt_transpose($0, handle, Int64(axis0), Int64(axis1)) }
    }
    /// A broadcast view with the given shape (-1 keeps a size).
    public func expanded(_ shape: [Int]) -> Tensor {
        Tensor.make("expanded(\(shape)) of \(self.shape)") { out in shape.int64s { pt_expand(out, handle, $0, $1) } }
    }
    /// The dimension `axis` removed if its size is 1; all size-1 dimensions when `axis` is nil.
    public func squeezed(axis: Int? = nil) -> Tensor {
        if let axis { return Tensor.make("squeezed(axis: \(axis))") { pt_squeeze($0, handle, Int64(axis)) } }
        return Tensor.make("squeezed") { pt_squeeze_all($0, handle) }
    }
    /// A size-1 dimension inserted at `axis`.
    public func unsqueezed(axis: Int) -> Tensor {
        Tensor.make("unsqueezed(axis: \(axis))") { pt_unsqueeze($0, handle, Int64(axis)) }
    }
    /// Dimensions `start...end` merged into one.
    public func flattened(start: Int = 0, end: Int = -1) -> Tensor {
        Tensor.make("flattened") { pt_flatten($0, handle, Int64(start), Int64(end)) }
    }
    /// Pieces of the given sizes along `axis`.
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        var outs = [pt_tensor?](repeating: nil, count: sizes.count)
        let ok = outs.withUnsafeMutableBufferPointer { buf in
            sizes.int64s { check(pt_split_with_sizes(buf.baseAddress, handle, $0, $1, Int64(axis)), "split(sizes: \(sizes)) of \(shape)") }
        }
        return outs.map { ok ? Tensor(handle: $0!) : Tensor(handle: pt_undefined()) }
    }
    /// Pieces of `size` along `axis` (the last may be smaller).
    public func split(size: Int, axis: Int = 0) -> [Tensor] {
        precondition(size > 0, "split size must be positive")
        let total = self.size(axis)
        return split(sizes: stride(from: 0, to: total, by: size).map { Swift.min(size, total - $0) }, axis: axis)
    }
    /// `chunks` nearly equal pieces along `axis` (as torch.chunk).
    public func chunked(_ chunks: Int, axis: Int = 0) -> [Tensor] {
        precondition(chunks > 0, "chunk count must be positive")
        return split(size: Swift.max(1, (size(axis) + chunks - 1) / chunks), axis: axis)
    }
    /// `length` elements from `start` along `axis` (a view).
    /// The entries shifted by `shift` along `axis`, those pushed off the end coming back at the start (torch.roll).
    public func rolled(by shift: Int, axis: Int) -> Tensor {
        Tensor.make("roll(by: \(shift), axis: \(axis)) of \(shape)") { pt_roll($0, handle, Int64(shift), Int64(axis)) }
    }

    public func narrow(axis: Int, start: Int, length: Int) -> Tensor {
        Tensor.make("narrow(axis: \(axis), start: \(start), length: \(length)) of \(shape)") {
            pt_narrow($0, handle, Int64(axis), Int64(start), Int64(length))
        }
    }
    /// Elements `start ..< end` by `step` along `axis` (a view; negative indices count from the end).
    public func slice(axis: Int, start: Int = 0, end: Int = Int.max, step: Int = 1) -> Tensor {
        Tensor.make("slice(axis: \(axis), \(start)..<\(end))") {
            pt_slice($0, handle, Int64(axis), Int64(start), Int64(end), Int64(step))
        }
    }
    /// The slice at `index` along `axis`, with that dimension removed.
    public func select(axis: Int, index: Int) -> Tensor {
        Tensor.make("select(axis: \(axis), index: \(index)) of \(shape)") { pt_select($0, handle, Int64(axis), Int64(index)) }
    }
    /// The first-axis slice at `index`.
    public subscript(index: Int) -> Tensor { select(axis: 0, index: index) }
    /// The rows along `axis` named by a 1-D integer tensor.
    public func indexSelect(axis: Int, index: Tensor) -> Tensor {
        Tensor.make("indexSelect(axis: \(axis))") { pt_index_select($0, handle, Int64(axis), index.handle) }
    }
    /// `out[i][j] = self[i][index[i][j]]` for `axis` 1 (torch.gather).
    public func gather(axis: Int, index: Tensor) -> Tensor {
        Tensor.make("gather(axis: \(axis))") { pt_gather($0, handle, Int64(axis), index.handle) }
    }
    /// A copy with `src` written at `index` along `axis` (torch.scatter).
    public func scatter(axis: Int, index: Tensor, source: Tensor) -> Tensor {
        Tensor.make("scatter(axis: \(axis))") { pt_scatter($0, handle, Int64(axis), index.handle, source.handle) }
    }
    /// A copy with `src` added at `index` along `axis` (torch.scatter_add).
    public func scatterAdd(axis: Int, index: Tensor, source: Tensor) -> Tensor {
        Tensor.make("scatterAdd(axis: \(axis))") { pt_scatter_add($0, handle, Int64(axis), index.handle, source.handle) }
    }
    /// A copy with `value` where `mask` is true.
    public func maskedFill<S: TensorScalar>(_ mask: Tensor, with value: S) -> Tensor {
        Tensor.make("maskedFill") { pt_masked_fill($0, handle, mask.handle, value.ptScalar) }
    }
    /// Each element repeated `repeats` times along `axis`.
    public func repeatInterleaved(_ repeats: Int, axis: Int) -> Tensor {
        Tensor.make("repeatInterleaved") { pt_repeat_interleave($0, handle, Int64(repeats), Int64(axis)) }
    }
    /// The tensor tiled `repeats[i]` times along each dimension (torch.Tensor.repeat).
    public func tiled(_ repeats: [Int]) -> Tensor {
        Tensor.make("tiled(\(repeats))") { out in repeats.int64s { pt_repeat(out, handle, $0, $1) } }
    }
    /// Lower triangle (elements above `diagonal` zeroed).
    public func tril(_ diagonal: Int = 0) -> Tensor { Tensor.make("tril") { pt_tril($0, handle, Int64(diagonal)) } }
    /// Upper triangle (elements below `diagonal` zeroed).
    public func triu(_ diagonal: Int = 0) -> Tensor { Tensor.make("triu") { pt_triu($0, handle, Int64(diagonal)) } }
    /// The order of elements reversed along `axes`.
    public func flipped(_ axes: [Int]) -> Tensor {
        Tensor.make("flipped") { out in axes.int64s { pt_flip(out, handle, $0, $1) } }
    }
    /// Indices of non-zero elements, shape (count, rank).
    public func nonzero() -> Tensor { Tensor.make("nonzero") { pt_nonzero($0, handle) } }
    /// The elements where `mask` is true, as a 1-D tensor.
    public func maskedSelect(_ mask: Tensor) -> Tensor { Tensor.make("maskedSelect") { pt_masked_select($0, handle, mask.handle) } }
}

/// Tensors joined along an existing axis.
public func concatenated(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    Tensor.make("concatenated(\(tensors.map(\.shape)), axis: \(axis))") { out in
        tensors.handles { pt_cat(out, $0, $1, Int64(axis)) }
    }
}

/// Tensors of equal shape stacked along a new axis.
public func stacked(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
    Tensor.make("stacked(\(tensors.map(\.shape)), axis: \(axis))") { out in
        tensors.handles { pt_stack(out, $0, $1, Int64(axis)) }
    }
}

/// `a` where `condition` is true, else `b` (broadcasting).
public func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
    Tensor.make("where") { pt_where($0, condition.handle, a.handle, b.handle) }
}
