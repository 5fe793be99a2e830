import Torch

/// Keys and values of past positions for every layer, preallocated to a fixed capacity.
///
/// Layout per layer: (B, KV heads, capacity, D). Column `c` of every row holds the same step of the batch; rows
/// that were left-padded have `padding[b]` unused leading columns. `fork(rows:)` copies rows into a new cache, so a
/// tree search can extend one prefix several ways without recomputing it.
public final class KVCache {
    /// Per-layer keys.
    public private(set) var keys: [Tensor]
    /// Per-layer values.
    public private(set) var values: [Tensor]
    /// Columns in use.
    public private(set) var length: Int
    /// Columns allocated.
    public private(set) var capacity: Int
    /// Leading pad columns per row.
    public private(set) var padding: [Int]

    /// An empty cache for `batch` rows of up to `capacity` positions.
    public init(configuration c: ModelConfiguration, batch: Int, capacity: Int, dtype: DType, padding: [Int]? = nil) {
        let shape = [batch, c.keyValueHeadCount, capacity, c.headDimension]
        keys = (0..<c.layerCount).map { _ in Tensor.zeros(shape, dtype: dtype) }
        values = (0..<c.layerCount).map { _ in Tensor.zeros(shape, dtype: dtype) }
        self.capacity = capacity
        self.length = 0
        self.padding = padding ?? Array(repeating: 0, count: batch)
    }

    private init(keys: [Tensor], values: [Tensor], length: Int, capacity: Int, padding: [Int]) {
        self.keys = keys
        self.values = values
        self.length = length
        self.capacity = capacity
        self.padding = padding
    }

    /// Rows in the batch.
    public var batchSize: Int { padding.count }

    /// Bytes a cache of this shape takes.
    public static func bytes(configuration c: ModelConfiguration, batch: Int, capacity: Int, dtype: DType) -> Int {
        2 * c.layerCount * batch * c.keyValueHeadCount * capacity * c.headDimension * dtype.byteSize
    }

    /// Writes `k`, `v` (B, KV heads, T, D) of `layer` at the current end; returns every cached key and value so far.
    func store(layer: Int, k: Tensor, v: Tensor) -> (Tensor, Tensor) {
        let t = k.size(2)
        precondition(length + t <= capacity, "KV cache capacity \(capacity) exceeded")
        keys[layer].narrow(axis: 2, start: length, length: t).copy_(k)
        values[layer].narrow(axis: 2, start: length, length: t).copy_(v)
        return (keys[layer].narrow(axis: 2, start: 0, length: length + t), values[layer].narrow(axis: 2, start: 0, length: length + t))
    }

    /// Marks `count` more columns as filled (after every layer stored them).
    func advance(by count: Int) { length += count }

    /// A new cache holding copies of `rows` (repeats allowed, in order) and of their first `length` columns
    /// (default: all that are filled), with room for `capacity` columns.
    public func fork(rows: [Int], capacity newCapacity: Int? = nil, length keep: Int? = nil) -> KVCache {
        let index = Tensor(rows.map(Int64.init))
        let kept = keep ?? length
        let cap = newCapacity ?? capacity
        precondition(kept <= length && cap >= kept, "a forked cache needs room for the \(kept) copied columns")
        func copy(_ t: Tensor) -> Tensor {
            let picked = t.indexSelect(axis: 0, index: index).narrow(axis: 2, start: 0, length: kept)
            if cap == kept { return picked.contiguous() }
            var shape = picked.shape
            shape[2] = cap
            let out = Tensor.zeros(shape, dtype: t.dtype)
            out.narrow(axis: 2, start: 0, length: kept).copy_(picked)
            return out
        }
        return KVCache(keys: keys.map(copy), values: values.map(copy), length: kept, capacity: cap, padding: rows.map { padding[$0] })
    }

    /// One-row caches laid side by side as a batch: each row's filled columns are right-aligned at the longest
    /// row's length and the columns before them become padding.
    public static func merge(_ rows: [KVCache], capacity: Int) -> KVCache {
        let longest = rows.map { $0.length - $0.padding[0] }.max() ?? 0
        precondition(capacity >= longest, "merged cache needs room for \(longest) columns")
        return stacked(rows, extra: capacity - longest)
    }

    /// Filled columns of the longest row, counted from the first column any row uses.
    public var contentLength: Int { length - (padding.min() ?? 0) }

    /// Caches of any batch sizes stacked into one batch (rows in order), with `extra` free columns after the filled
    /// ones. Each part's columns are right-aligned at the longest part's ``contentLength``; the columns before them
    /// become padding, and columns that every row of a part left unused are dropped, so the result is as short as
    /// its rows allow. Positions are unchanged: a row's first real token stays at its position 0.
    public static func stacked(_ parts: [KVCache], extra: Int) -> KVCache {
        let content = parts.map(\.contentLength)
        let longest = content.max() ?? 0
        let capacity = longest + extra
        let layers = parts[0].keys.count
        var padding: [Int] = []
        for (i, part) in parts.enumerated() {
            let unused = part.padding.min() ?? 0
            padding += part.padding.map { $0 - unused + longest - content[i] }
        }
        func stack(_ pick: (KVCache) -> [Tensor]) -> [Tensor] {
            (0..<layers).map { l in
                var shape = pick(parts[0])[l].shape
                shape[0] = parts.reduce(0) { $0 + $1.batchSize }
                shape[2] = capacity
                let out = Tensor.zeros(shape, dtype: pick(parts[0])[l].dtype)
                var row = 0
                for (i, part) in parts.enumerated() {
                    if content[i] > 0 {
                        out.narrow(axis: 0, start: row, length: part.batchSize).narrow(axis: 2, start: longest - content[i], length: content[i])
                            .copy_(pick(part)[l].narrow(axis: 2, start: part.length - content[i], length: content[i]))
                    }
                    row += part.batchSize
                }
                return out
            }
        }
        return KVCache(keys: stack(\.keys), values: stack(\.values), length: longest, capacity: capacity, padding: padding)
    }

    /// Row `row`'s filled columns without its left padding, as a one-row cache with no free columns.
    public func unpadded(row: Int) -> KVCache {
        let start = padding[row]
        let kept = length - start
        func copy(_ t: Tensor) -> Tensor { t.narrow(axis: 0, start: row, length: 1).narrow(axis: 2, start: start, length: kept).contiguous() }
        return KVCache(keys: keys.map(copy), values: values.map(copy), length: kept, capacity: kept, padding: [0])
    }

    /// Keeps only the first `newLength` columns (later columns are overwritten by the next writes).
    public func truncate(to newLength: Int) {
        precondition(newLength <= length)
        length = newLength
    }

    /// Keeps only `rows` (to drop finished sequences from a decoding batch). Leading columns that none of the kept
    /// rows uses are dropped in the same copy, so a batch whose long rows left does not keep paying for their
    /// padding.
    public func keepRows(_ rows: [Int]) {
        let index = Tensor(rows.map(Int64.init))
        let unused = rows.map { padding[$0] }.min() ?? 0
        func keep(_ t: Tensor) -> Tensor {
            unused > 0 ? t.narrow(axis: 2, start: unused, length: capacity - unused).indexSelect(axis: 0, index: index) : t.indexSelect(axis: 0, index: index)
        }
        keys = keys.map(keep)
        values = values.map(keep)
        padding = rows.map { padding[$0] - unused }
        length -= unused
        capacity -= unused
    }
}
