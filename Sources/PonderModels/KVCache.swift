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
    public let capacity: Int
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
        let lengths = rows.map { $0.length - $0.padding[0] }
        let longest = lengths.max() ?? 0
        precondition(capacity >= longest, "merged cache needs room for \(longest) columns")
        let layers = rows[0].keys.count
        func merged(_ pick: (KVCache) -> [Tensor]) -> [Tensor] {
            (0..<layers).map { l in
                var shape = pick(rows[0])[l].shape
                shape[0] = rows.count
                shape[2] = capacity
                let out = Tensor.zeros(shape, dtype: pick(rows[0])[l].dtype)
                for (i, row) in rows.enumerated() where lengths[i] > 0 {
                    out.narrow(axis: 0, start: i, length: 1).narrow(axis: 2, start: longest - lengths[i], length: lengths[i])
                        .copy_(pick(row)[l].narrow(axis: 2, start: row.padding[0], length: lengths[i]))
                }
                return out
            }
        }
        return KVCache(
            keys: merged(\.keys), values: merged(\.values), length: longest, capacity: capacity, padding: lengths.map { longest - $0 })
    }

    /// Keeps only the first `newLength` columns (later columns are overwritten by the next writes).
    public func truncate(to newLength: Int) {
        precondition(newLength <= length)
        length = newLength
    }

    /// Keeps only `rows` (to drop finished sequences from a decoding batch).
    public func keepRows(_ rows: [Int]) {
        let index = Tensor(rows.map(Int64.init))
        keys = keys.map { $0.indexSelect(axis: 0, index: index) }
        values = values.map { $0.indexSelect(axis: 0, index: index) }
        padding = rows.map { padding[$0] }
    }
}
