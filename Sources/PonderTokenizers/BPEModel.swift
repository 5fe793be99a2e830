import HeapModule

/// A byte-pair-encoding model: a vocabulary and merges ranked by priority (`tokenizer.json`'s `model`).
///
/// Pieces are merged lowest rank first, leftmost first on ties, as HF `tokenizers` does. Short pieces use a
/// linear scan; long ones a priority queue over a linked list of symbols. Ids are `Int32` internally.
public struct BPEModel: Sendable {
    /// Token string → id (built on demand; prefer `id(for:)`).
    public var vocab: [String: Int32] {
        var out: [String: Int32] = [:]
        for (id, token) in idToToken.enumerated() { if let token { out[token] = Int32(id) } }
        return out
    }
    /// Id → token string (`nil` for ids the model does not define).
    let idToToken: [String?]
    /// Merges in rank order, as token strings.
    public let merges: [(String, String)]
    /// Whether a piece found whole in the vocabulary is emitted without merging (Llama-3).
    public let ignoreMerges: Bool
    /// Whether unknown characters become `<0xXX>` byte tokens.
    public let byteFallback: Bool
    /// The unknown token, if any.
    public let unkToken: String?
    /// Whether consecutive unknown tokens fuse into one.
    public let fuseUnk: Bool
    /// Whether input bytes map to GPT-2 byte-level characters (set when the pre-tokenizer is `ByteLevel`).
    public let byteLevel: Bool

    private let pairs: PairTable
    private let tokenIds: ByteSliceMap  // UTF-8 of a token string → id (no String hashing)
    private let wholeWords: ByteSliceMap  // raw bytes a token stands for → id
    private let byteIds: [Int32]  // byte → id of its byte-level character token, -1 when absent
    private let fallbackIds: [Int32]  // byte → id of `<0xXX>`, -1 when absent
    private let unkId: Int32
    private let cache = PieceCache()

    /// Makes a model. Throws `invalidValue` naming `model.merges[i]` when a merge refers to an unknown token.
    public init(
        vocab: [String: Int32], merges: [(String, String)], byteLevel: Bool, ignoreMerges: Bool = false,
        byteFallback: Bool = false, unkToken: String? = nil, fuseUnk: Bool = false, path: String = "model"
    ) throws {
        try self.init(
            tokens: Array(vocab.keys), ids: Array(vocab.values), merges: merges, byteLevel: byteLevel,
            ignoreMerges: ignoreMerges, byteFallback: byteFallback, unkToken: unkToken, fuseUnk: fuseUnk, path: path)
    }

    /// Makes a model from parallel arrays of tokens and ids (a later duplicate token wins, as in HF).
    init(
        tokens: [String], ids: [Int32], merges: [(String, String)], byteLevel: Bool, ignoreMerges: Bool = false,
        byteFallback: Bool = false, unkToken: String? = nil, fuseUnk: Bool = false, path: String = "model"
    ) throws {
        self.merges = merges
        self.byteLevel = byteLevel
        self.ignoreMerges = ignoreMerges
        self.byteFallback = byteFallback
        self.unkToken = unkToken
        self.fuseUnk = fuseUnk
        let maxId = Int(ids.max() ?? -1)
        var idToToken = [String?](repeating: nil, count: maxId + 1)
        var tokenIds = ByteSliceMap(capacity: tokens.count)
        var whole = ByteSliceMap(capacity: tokens.count)
        for (token, id) in zip(tokens, ids) {
            idToToken[Int(id)] = token
            let utf8 = Array(token.utf8)
            tokenIds.insert(utf8, id, overwrite: true)
            if byteLevel {
                if let bytes = ByteLevelAlphabet.decode(token) { whole.insert(bytes, id, overwrite: true) }
            } else {
                whole.insert(utf8, id, overwrite: true)
            }
        }
        self.idToToken = idToToken
        self.tokenIds = tokenIds
        self.wholeWords = whole
        func lookup(_ s: String) -> Int32? {
            var s = s
            return s.withUTF8 { tokenIds.lookup($0, 0, $0.count) }
        }
        var byteIds = [Int32](repeating: -1, count: 256)
        var fallbackIds = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = lookup(String(ByteLevelAlphabet.byteToScalar[b])) { byteIds[b] = id }
            if let id = lookup(String(format: "<0x%02X>", b)) { fallbackIds[b] = id }
        }
        self.byteIds = byteIds
        self.fallbackIds = fallbackIds
        if let unk = unkToken {
            guard let id = lookup(unk) else {
                throw TokenizerError.invalidValue(
                    path: "\(path).unk_token", reason: "\"\(unk)\" is not in the vocabulary")
            }
            unkId = id
        } else {
            unkId = -1
        }
        var table = PairTable(capacity: max(merges.count, 1))
        var joined: [UInt8] = []
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = lookup(a) else {
                throw TokenizerError.invalidValue(
                    path: "\(path).merges[\(rank)]", reason: "token \"\(a)\" is not in the vocabulary")
            }
            guard let ib = lookup(b) else {
                throw TokenizerError.invalidValue(
                    path: "\(path).merges[\(rank)]", reason: "token \"\(b)\" is not in the vocabulary")
            }
            joined.removeAll(keepingCapacity: true)
            joined.append(contentsOf: a.utf8)
            joined.append(contentsOf: b.utf8)
            guard let merged = joined.withUnsafeBufferPointer({ tokenIds.lookup($0, 0, $0.count) }) else {
                throw TokenizerError.invalidValue(
                    path: "\(path).merges[\(rank)]", reason: "merged token \"\(a + b)\" is not in the vocabulary")
            }
            table.set(ia, ib, rank: Int32(rank), merged: merged)
        }
        pairs = table
    }

    /// The id of a token string, or `nil`.
    public func id(for token: String) -> Int32? {
        var token = token
        return token.withUTF8 { tokenIds.lookup($0, 0, $0.count) }
    }

    /// Number of ids the model defines (highest id + 1).
    public var size: Int { idToToken.count }

    /// The token string of `id`, or `nil`.
    public func token(for id: Int) -> String? { id >= 0 && id < idToToken.count ? idToToken[id] : nil }

    /// Reusable buffers for one encoding thread.
    struct Scratch {
        var symbols: [Int32] = []
        var ranks: [UInt64] = []
        init() {
            symbols.reserveCapacity(64)
            ranks.reserveCapacity(64)
        }
    }

    /// Appends the ids of the piece `p[lo..<hi]` (raw UTF-8 bytes) to `out`.
    func encode(
        _ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, into out: inout [Int32], _ scratch: inout Scratch
    ) {
        guard lo < hi else { return }
        if ignoreMerges, let id = wholeWords.lookup(p, lo, hi) {
            out.append(id)
            return
        }
        // Pieces long enough for merging to cost more than a lookup go through the shared cache.
        let cacheable = hi - lo >= Self.cacheMinimumBytes && hi - lo <= 256
        var hash: UInt64 = 0
        if cacheable {
            hash = ByteSliceMap.hash(p, lo, hi)
            if cache.lookup(p, lo, hi, hash: hash, into: &out) { return }
        }
        let start = out.count
        defer { if cacheable { cache.store(p, lo, hi, hash: hash, ids: out[start...]) } }
        var symbols = scratch.symbols
        symbols.removeAll(keepingCapacity: true)
        if byteLevel {
            for i in lo..<hi {
                let id = byteIds[Int(p[i])]
                if id >= 0 { symbols.append(id) } else { appendUnknown(p, i, i + 1, &symbols) }
            }
        } else {
            var i = lo
            while i < hi {
                let n = utf8Length(p[i])
                let end = min(i + n, hi)
                if let id = wholeWords.lookup(p, i, end) {
                    symbols.append(id)
                } else {
                    appendUnknown(p, i, end, &symbols)
                }
                i = end
            }
        }
        if symbols.count > Self.heapThreshold {
            mergeWithHeap(&symbols)
        } else if symbols.count > 1 {
            mergeLinear(&symbols, &scratch.ranks)
        }
        out.append(contentsOf: symbols)
        scratch.symbols = symbols
    }

    /// Pieces with more symbols than this merge with the priority queue, shorter ones with a linear scan.
    static let heapThreshold = 64
    /// Pieces shorter than this are merged directly; longer ones are looked up in the cache first.
    static let cacheMinimumBytes = 4

    /// Merges byte-level `bytes` with the chosen strategy (for tests comparing the two).
    func mergeForTesting(_ bytes: [UInt8], heap: Bool) -> [Int32] {
        var symbols = bytes.map { byteIds[Int($0)] }
        var ranks: [UInt64] = []
        if symbols.count > 1 {
            if heap { mergeWithHeap(&symbols) } else { mergeLinear(&symbols, &ranks) }
        }
        return symbols
    }

    @inline(__always)
    private func utf8Length(_ b: UInt8) -> Int { b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4 }

    private func appendUnknown(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ symbols: inout [Int32]) {
        if byteFallback && (lo..<hi).allSatisfy({ fallbackIds[Int(p[$0])] >= 0 }) {
            for i in lo..<hi { symbols.append(fallbackIds[Int(p[i])]) }
            return
        }
        guard unkId >= 0 else { return }  // as HF: no unknown token means the character is dropped
        if fuseUnk, symbols.last == unkId { return }
        symbols.append(unkId)
    }

    /// Repeatedly merges the lowest-ranked adjacent pair (leftmost on ties); O(n²) but fast for short pieces.
    private func mergeLinear(_ symbols: inout [Int32], _ ranks: inout [UInt64]) {
        ranks.removeAll(keepingCapacity: true)
        for k in 0..<(symbols.count - 1) { ranks.append(pairs.get(symbols[k], symbols[k + 1])) }
        while true {
            var best = UInt64.max
            var at = -1
            for k in 0..<ranks.count where ranks[k] < best {
                best = ranks[k]
                at = k
            }
            if at < 0 { return }
            symbols[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
            symbols.remove(at: at + 1)
            ranks.remove(at: at)
            if at < ranks.count { ranks[at] = pairs.get(symbols[at], symbols[at + 1]) }
            if at > 0 { ranks[at - 1] = pairs.get(symbols[at - 1], symbols[at]) }
        }
    }

    private struct Candidate: Comparable {
        let rank: UInt32
        let position: Int32
        let left: Int32
        let right: Int32
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.position < b.position
        }
    }

    /// The same merges with a priority queue over a linked list of symbols, for long pieces.
    private func mergeWithHeap(_ symbols: inout [Int32]) {
        let n = symbols.count
        var next = [Int32](unsafeUninitializedCapacity: n) { buf, count in
            for i in 0..<n { buf[i] = i + 1 < n ? Int32(i + 1) : -1 }
            count = n
        }
        var prev = (0..<n).map { Int32($0 - 1) }
        var alive = [Bool](repeating: true, count: n)
        var heap = Heap<Candidate>()
        func push(_ i: Int) {
            let j = Int(next[i])
            guard j >= 0 else { return }
            let packed = pairs.get(symbols[i], symbols[j])
            if packed != .max {
                heap.insert(
                    Candidate(rank: UInt32(packed >> 32), position: Int32(i), left: symbols[i], right: symbols[j]))
            }
        }
        for i in 0..<(n - 1) { push(i) }
        while let top = heap.popMin() {
            let i = Int(top.position)
            guard alive[i], next[i] >= 0 else { continue }
            let j = Int(next[i])
            guard symbols[i] == top.left, symbols[j] == top.right else { continue }
            let packed = pairs.get(top.left, top.right)
            symbols[i] = Int32(truncatingIfNeeded: packed & 0xFFFF_FFFF)
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[Int(next[j])] = Int32(i) }
            if prev[i] >= 0 { push(Int(prev[i])) }
            push(i)
        }
        var result: [Int32] = []
        result.reserveCapacity(n)
        var k: Int32 = 0
        while k >= 0 {
            result.append(symbols[Int(k)])
            k = next[Int(k)]
        }
        symbols = result
    }
}
