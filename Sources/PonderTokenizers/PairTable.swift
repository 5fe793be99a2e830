/// An immutable open-addressing map from a pair of token ids to (merge rank, merged id).
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var vals: [UInt64]
    private let mask: Int
    private let shift: UInt64

    init(capacity: Int) {
        var size = 16
        var bits: UInt64 = 4
        while size < capacity * 2 {
            size <<= 1
            bits += 1
        }
        keys = [UInt64](repeating: .max, count: size)
        vals = [UInt64](repeating: 0, count: size)
        mask = size - 1
        shift = 64 - bits
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// Sets the merge for `(a, b)`; a later call for the same pair replaces the earlier one (as HF does).
    mutating func set(_ a: Int32, _ b: Int32, rank: Int32, merged: Int32) {
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var s = slot(key)
        while keys[s] != .max && keys[s] != key { s = (s + 1) & mask }
        keys[s] = key
        vals[s] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// The packed `(rank << 32) | merged` for `(a, b)`, or `UInt64.max` when the pair has no merge.
    @inline(__always)
    func get(_ a: Int32, _ b: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var s = slot(key)
        while true {
            let k = keys[s]
            if k == key { return vals[s] }
            if k == .max { return .max }
            s = (s + 1) & mask
        }
    }
}
