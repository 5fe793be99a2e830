import Foundation

/// A bounded, thread-safe cache from a piece's bytes to its token ids, shared by all encoding threads.
///
/// Direct-mapped (a new entry replaces whatever shared its slot) and split into independently locked shards,
/// so concurrent batch encoding rarely contends and memory stays bounded.
final class PieceCache: @unchecked Sendable {
    private struct Entry {
        var hash: UInt64 = 0
        var key: [UInt8] = []
        var ids: [Int32] = []
    }

    private final class Shard {
        let lock = NSLock()
        var entries: [Entry]
        init(slots: Int) { entries = Array(repeating: Entry(), count: slots) }
    }

    private let shards: [Shard]
    private let shardMask: Int
    private let slotMask: Int

    /// `shards × slotsPerShard` entries; both must be powers of two.
    init(shards: Int = 64, slotsPerShard: Int = 512) {
        self.shards = (0..<shards).map { _ in Shard(slots: slotsPerShard) }
        shardMask = shards - 1
        slotMask = slotsPerShard - 1
    }

    /// Appends the cached ids of `p[lo..<hi]` to `out` and returns true, or returns false on a miss.
    @inline(__always)
    func lookup(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, hash: UInt64, into out: inout [Int32]) -> Bool {
        let shard = shards[Int(truncatingIfNeeded: hash) & shardMask]
        let slot = Int(truncatingIfNeeded: hash >> 32) & slotMask
        shard.lock.lock()
        defer { shard.lock.unlock() }
        let entry = shard.entries[slot]
        guard entry.hash == hash, entry.key.count == hi - lo else { return false }
        let equal = entry.key.withUnsafeBufferPointer { k in
            for i in 0..<(hi - lo) where k[i] != p[lo + i] { return false }
            return true
        }
        if equal { out.append(contentsOf: entry.ids) }
        return equal
    }

    /// Stores the ids of a piece.
    func store(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, hash: UInt64, ids: ArraySlice<Int32>) {
        let shard = shards[Int(truncatingIfNeeded: hash) & shardMask]
        let slot = Int(truncatingIfNeeded: hash >> 32) & slotMask
        let entry = Entry(hash: hash, key: Array(p[lo..<hi]), ids: Array(ids))
        shard.lock.lock()
        shard.entries[slot] = entry
        shard.lock.unlock()
    }
}
