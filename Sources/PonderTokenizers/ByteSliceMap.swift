/// An immutable hash map from byte strings to token ids that can be probed with a slice of a buffer,
/// so looking up a piece of text allocates nothing.
struct ByteSliceMap: Sendable {
    private var pool: [UInt8] = []
    // Each slot: start in pool (Int32), length (Int32), value (Int32); start == -1 marks an empty slot.
    private var starts: [Int32]
    private var lengths: [Int32]
    private var values: [Int32]
    private var hashes: [UInt64]
    private let mask: Int
    private(set) var count = 0

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        starts = [Int32](repeating: -1, count: size)
        lengths = [Int32](repeating: 0, count: size)
        values = [Int32](repeating: 0, count: size)
        hashes = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in lo..<hi { h = (h ^ UInt64(p[i])) &* 0x0000_0100_0000_01B3 }
        return h ^ (h >> 29)
    }

    /// Inserts `key → value`; an existing key keeps its first value unless `overwrite`.
    mutating func insert(_ key: [UInt8], _ value: Int32, overwrite: Bool = false) {
        key.withUnsafeBufferPointer { k in
            let h = Self.hash(k, 0, k.count)
            var slot = Int(truncatingIfNeeded: h) & mask
            while starts[slot] >= 0 {
                if hashes[slot] == h && Int(lengths[slot]) == k.count && equal(slot, k, 0, k.count) {
                    if overwrite { values[slot] = value }
                    return
                }
                slot = (slot + 1) & mask
            }
            starts[slot] = Int32(pool.count)
            lengths[slot] = Int32(k.count)
            values[slot] = value
            hashes[slot] = h
            pool.append(contentsOf: k)
            count += 1
        }
    }

    @inline(__always)
    private func equal(_ slot: Int, _ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Bool {
        let s = Int(starts[slot])
        return pool.withUnsafeBufferPointer { pool in
            for i in 0..<(hi - lo) where pool[s + i] != p[lo + i] { return false }
            return true
        }
    }

    /// The value for the bytes `p[lo..<hi]`, or `nil`.
    @inline(__always)
    func lookup(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> Int32? {
        let h = Self.hash(p, lo, hi)
        var slot = Int(truncatingIfNeeded: h) & mask
        while starts[slot] >= 0 {
            if hashes[slot] == h && Int(lengths[slot]) == hi - lo && equal(slot, p, lo, hi) { return values[slot] }
            slot = (slot + 1) & mask
        }
        return nil
    }
}
