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

    init(keys: [Tensor], values: [Tensor], length: Int, capacity: Int, padding: [Int]) {
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

/// A preallocated key/value buffer with one row per decoding sequence, for a batch that rows join and leave
/// (continuous batching).
///
/// Layout per layer: (rows, KV heads, columns, D). Every live row ends at the same column (`end`), so one decode
/// step writes one column for all of them; row `r` begins at its own column. A joining row copies in only its own
/// keys and values; a leaving row is replaced by the last live row (one row copied), so the live rows stay the
/// first ones and the running rows are never copied as a whole. The model sees a ``KVCache`` whose tensors are
/// views of the live rows, from the first column any of them uses.
final class KVSlots {
    let keys: [Tensor]
    let values: [Tensor]
    /// Rows allocated.
    let rowCapacity: Int
    /// Columns allocated.
    let columnCapacity: Int

    /// A buffer whose first `zeroed` columns are zeros; the rest is uninitialised.
    ///
    /// Attention masks a row's columns before its first token, but masked values still enter the products (with
    /// weight 0), so they must be finite: every live row keeps finite values (its own or zeros) in every column
    /// before the batch's end. Columns from the end on are written by decode steps before anything reads them, so
    /// they are not cleared (clearing the whole buffer cost more than the copies it saves).
    init(configuration c: ModelConfiguration, dtype: DType, rows: Int, columns: Int, zeroed: Int) {
        let shape = [rows, c.keyValueHeadCount, columns, c.headDimension]
        func make() -> Tensor {
            let t = Tensor.empty(shape, dtype: dtype)
            if zeroed > 0 { t.narrow(axis: 2, start: 0, length: zeroed).zero_() }
            return t
        }
        keys = (0..<c.layerCount).map { _ in make() }
        values = (0..<c.layerCount).map { _ in make() }
        rowCapacity = rows
        columnCapacity = columns
    }

    /// Takes over a cache's tensors as the buffer (no copy); its rows keep their columns.
    init(adopting cache: KVCache) {
        keys = cache.keys
        values = cache.values
        rowCapacity = cache.batchSize
        columnCapacity = cache.capacity
    }

    /// Bytes allocated.
    func bytes(configuration c: ModelConfiguration, dtype: DType) -> Int {
        KVCache.bytes(configuration: c, batch: rowCapacity, capacity: columnCapacity, dtype: dtype)
    }

    /// The first `rows` rows from column `first` on, as a cache whose writes land in this buffer.
    ///
    /// - Parameters:
    ///   - end: the column after every row's newest one.
    ///   - starts: each row's first column.
    func window(rows: Int, first: Int, end: Int, starts: [Int]) -> KVCache {
        func view(_ t: Tensor) -> Tensor { t.narrow(axis: 0, start: 0, length: rows).narrow(axis: 2, start: first, length: columnCapacity - first) }
        return KVCache(
            keys: keys.map(view), values: values.map(view), length: end - first, capacity: columnCapacity - first,
            padding: starts.map { $0 - first })
    }

    /// Copies rows `pick` of `part` (in order) into rows `row...`, each row's filled columns ending at column `end`;
    /// the columns before them are zeroed. Returns the bytes copied.
    @discardableResult
    func write(_ part: KVCache, rows pick: [Int], at row: Int, end: Int) -> Int {
        let content = part.contentLength
        guard content > 0 else { return 0 }
        let identity = pick == Array(0..<part.batchSize)
        let index = identity ? nil : Tensor(pick.map(Int64.init))
        var bytes = 0
        for (target, source) in zip(keys + values, part.keys + part.values) {
            var from = source.narrow(axis: 2, start: part.length - content, length: content)
            if let index { from = from.indexSelect(axis: 0, index: index) }
            let rows = target.narrow(axis: 0, start: row, length: pick.count)
            if end > content { rows.narrow(axis: 2, start: 0, length: end - content).zero_() }
            rows.narrow(axis: 2, start: end - content, length: content).copy_(from)
            bytes += from.count * from.dtype.byteSize
        }
        return bytes
    }

    /// Copies row `source`'s columns `first..<end` onto row `target`. Returns the bytes copied.
    @discardableResult
    func moveRow(_ source: Int, to target: Int, first: Int, end: Int) -> Int {
        guard end > first else { return 0 }
        var bytes = 0
        for t in keys + values {
            let from = t.narrow(axis: 0, start: source, length: 1).narrow(axis: 2, start: first, length: end - first)
            t.narrow(axis: 0, start: target, length: 1).narrow(axis: 2, start: first, length: end - first).copy_(from)
            bytes += from.count * from.dtype.byteSize
        }
        return bytes
    }
}
