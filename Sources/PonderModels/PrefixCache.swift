import Torch

/// Recently computed token sequences and their KV caches, so a request that extends one (a search step, a
/// multi-turn chat) computes only its new tokens.
///
/// Entries hold one row each, without the left padding of the batch they came from. A `PrefixCache` is not
/// thread-safe: the ``Engine`` touches it only from its scheduler.
public final class PrefixCache {
    struct Entry {
        let tokens: [Int]
        let cache: KVCache  // one row, no padding; cache.length == tokens.count
        var lastUse: Int
        let bytes: Int
    }

    /// Upper bound on the bytes of cached keys and values; least recently used entries go first.
    public let maxBytes: Int
    private var entries: [Entry] = []
    private var clock = 0
    /// Bytes held now.
    public private(set) var bytes = 0

    /// A cache holding at most `maxBytes`.
    public init(maxBytes: Int) { self.maxBytes = maxBytes }

    /// Number of stored sequences.
    public var count: Int { entries.count }

    /// Stores row `row` of `cache`, which holds `tokens` (after the row's padding).
    func insert(tokens: [Int], from cache: KVCache, row: Int) {
        guard !tokens.isEmpty, !entries.contains(where: { $0.tokens == tokens }) else { return }
        let copy = cache.unpadded(row: row)
        precondition(copy.length == tokens.count, "a cached row holds \(copy.length) positions for \(tokens.count) tokens")
        let size = copy.keys.reduce(0) { $0 + $1.count * $1.dtype.byteSize } * 2
        guard size <= maxBytes else { return }
        clock += 1
        entries.append(Entry(tokens: tokens, cache: copy, lastUse: clock, bytes: size))
        bytes += size
        while bytes > maxBytes, let oldest = entries.indices.min(by: { entries[$0].lastUse < entries[$1].lastUse }) {
            bytes -= entries[oldest].bytes
            entries.remove(at: oldest)
        }
    }

    /// The entry sharing the longest prefix with `tokens` (at least `minimum` tokens), and that length.
    func longestPrefix(of tokens: [Int], minimum: Int = 1) -> (KVCache, Int)? {
        var best: (Int, Int)?
        for (i, e) in entries.enumerated() {
            var n = 0
            let limit = Swift.min(e.tokens.count, tokens.count)
            while n < limit && e.tokens[n] == tokens[n] { n += 1 }
            if n >= minimum && n > (best?.1 ?? 0) { best = (i, n) }
        }
        guard let (i, n) = best else { return nil }
        clock += 1
        entries[i].lastUse = clock
        return (entries[i].cache, n)
    }

    /// The stored token sequences and the shape of their caches (length, padding), oldest first (for tests).
    var stored: [(tokens: [Int], length: Int, padding: Int)] { entries.map { ($0.tokens, $0.cache.length, $0.cache.padding[0]) } }

    /// Drops every entry.
    public func removeAll() {
        entries.removeAll()
        bytes = 0
    }
}
