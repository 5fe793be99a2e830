import Foundation
import HeapModule

/// Trains a byte-level BPE tokenizer on text, the way Ponder's tiny models get their vocabularies.
///
/// The result has Qwen2's layout: NFC normalizer, a `Split` with the chosen regex followed by `ByteLevel`,
/// byte-level decoder; ids are the special tokens first, then the 256 bytes in byte order, then one token per
/// merge. Pairs are merged most frequent first; ties go to the pair with the smaller ids, so training is
/// deterministic. Counting uses unique pre-tokenized words, and each merge only revisits the words that contain
/// its pair, so a few MB train to a few thousand tokens in seconds.
public struct BPETrainer: Sendable {
    /// Target vocabulary size, special tokens and the 256 byte tokens included.
    public var vocabularySize: Int
    /// Special tokens (ids 0, 1, ...), never split and never learned from the text.
    public var specialTokens: [String]
    /// The pre-tokenizer regex; Qwen2's by default (digits one by one, which suits arithmetic).
    public var pattern: String
    /// Pairs seen fewer times than this are never merged.
    public var minFrequency: Int
    /// Whether text is NFC-normalized first (as Qwen2 does).
    public var normalizeNFC: Bool

    /// Makes a trainer.
    public init(
        vocabularySize: Int, specialTokens: [String] = [], pattern: String = SplitPattern.qwen2Regex,
        minFrequency: Int = 2, normalizeNFC: Bool = true
    ) {
        self.vocabularySize = vocabularySize
        self.specialTokens = specialTokens
        self.pattern = pattern
        self.minFrequency = minFrequency
        self.normalizeNFC = normalizeNFC
    }

    /// Trains on `texts` and returns the tokenizer. Throws when the vocabulary cannot hold the special tokens
    /// and the byte alphabet, or the pattern does not compile.
    public func train(_ texts: [String]) throws -> Tokenizer {
        let base = specialTokens.count + 256
        guard vocabularySize >= base else {
            throw TokenizerError.invalidTrainingRequest(
                reason: "vocabularySize \(vocabularySize) is below \(base) (special tokens plus 256 bytes)")
        }
        guard Set(specialTokens).count == specialTokens.count, !specialTokens.contains("") else {
            throw TokenizerError.invalidTrainingRequest(reason: "special tokens must be distinct and non-empty")
        }
        let split = try SplitPattern(regex: pattern)
        let normalizer: Normalizer? = normalizeNFC ? .nfc : nil
        let preTokenizer = PreTokenizer.sequence([
            .split(pattern: split, behavior: .isolated, invert: false),
            .byteLevel(addPrefixSpace: false, useRegex: false),
        ])
        let added = specialTokens.enumerated().map { AddedToken(id: $0.offset, content: $0.element, special: true) }
        let matcher = AddedTokenMatcher(tokens: added, patterns: specialTokens)

        // 1. Unique words and their counts.
        var wordIndex: [[UInt8]: Int] = [:]
        var words: [[Int32]] = []
        var counts: [Int] = []
        for text in texts {
            let normalized = normalizer?.apply(text) ?? text
            let bytes = Array(normalized.utf8)
            bytes.withUnsafeBufferPointer { buf in
                for part in matcher.split(buf, 0, buf.count) where part.token == nil {
                    for piece in preTokenizer.apply(buf, [part.range]) {
                        let key = Array(buf[piece])
                        if let i = wordIndex[key] {
                            counts[i] += 1
                        } else {
                            wordIndex[key] = words.count
                            words.append(key.map { Int32(base - 256) + Int32($0) })
                            counts.append(1)
                        }
                    }
                }
            }
        }

        // 2. Pair counts, where each pair occurs, and a max-queue of (count, pair) with lazy invalidation.
        var tokenBytes: [[UInt8]] = specialTokens.map { Array($0.utf8) } + (0..<256).map { [UInt8($0)] }
        var idOfBytes: [[UInt8]: Int32] = [:]
        for b in 0..<256 { idOfBytes[[UInt8(b)]] = Int32(base - 256 + b) }
        var pairCount: [UInt64: Int] = [:]
        var pairWords: [UInt64: [Int32]] = [:]
        @inline(__always) func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(a)) << 32 | UInt64(UInt32(b)) }
        for (w, word) in words.enumerated() where word.count > 1 {
            for k in 0..<(word.count - 1) {
                let p = key(word[k], word[k + 1])
                pairCount[p, default: 0] += counts[w]
                pairWords[p, default: []].append(Int32(w))
            }
        }
        var queue = Heap<QueueEntry>()
        for (p, c) in pairCount { queue.insert(QueueEntry(count: c, pair: p)) }

        // 3. Merge until the vocabulary is full.
        var merges: [(Int32, Int32)] = []
        var seen = [Int](repeating: -1, count: words.count)
        while tokenBytes.count < vocabularySize, let top = queue.popMax() {
            guard let current = pairCount[top.pair], current == top.count else { continue }
            if current < minFrequency { break }
            let a = Int32(truncatingIfNeeded: top.pair >> 32)
            let b = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            // Two merges can spell the same bytes ("a"+"bc", "ab"+"c"): they share one id, as in HF.
            let merged = tokenBytes[Int(a)] + tokenBytes[Int(b)]
            let newId: Int32
            if let existing = idOfBytes[merged] {
                newId = existing
            } else {
                newId = Int32(tokenBytes.count)
                tokenBytes.append(merged)
                idOfBytes[merged] = newId
            }
            merges.append((a, b))
            var changed: Set<UInt64> = []
            for w32 in pairWords[top.pair] ?? [] {
                let w = Int(w32)
                if seen[w] == merges.count { continue }
                seen[w] = merges.count
                let old = words[w]
                var new: [Int32] = []
                new.reserveCapacity(old.count)
                var k = 0
                while k < old.count {
                    if k + 1 < old.count && old[k] == a && old[k + 1] == b {
                        new.append(newId)
                        k += 2
                    } else {
                        new.append(old[k])
                        k += 1
                    }
                }
                if new.count == old.count { continue }
                let c = counts[w]
                for k in 0..<(old.count - 1) {
                    let p = key(old[k], old[k + 1])
                    pairCount[p, default: 0] -= c
                    changed.insert(p)
                }
                for k in 0..<max(new.count - 1, 0) {
                    let p = key(new[k], new[k + 1])
                    pairCount[p, default: 0] += c
                    changed.insert(p)
                    if new[k] == newId || new[k + 1] == newId { pairWords[p, default: []].append(w32) }
                }
                words[w] = new
            }
            pairCount[top.pair] = nil
            pairWords[top.pair] = nil
            for p in changed where p != top.pair {
                if let c = pairCount[p], c > 0 {
                    queue.insert(QueueEntry(count: c, pair: p))
                } else {
                    pairCount[p] = nil
                }
            }
        }

        // 4. Assemble the tokenizer.
        var vocab: [String: Int32] = [:]
        for (id, bytes) in tokenBytes.enumerated() {
            vocab[id < specialTokens.count ? specialTokens[id] : ByteLevelAlphabet.encode(bytes)] = Int32(id)
        }
        let mergeStrings = merges.map {
            (ByteLevelAlphabet.encode(tokenBytes[Int($0.0)]), ByteLevelAlphabet.encode(tokenBytes[Int($0.1)]))
        }
        let model = try BPEModel(vocab: vocab, merges: mergeStrings, byteLevel: true)
        return Tokenizer(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: .byteLevel,
            decoder: .byteLevel, addedTokens: added)
    }

    /// Trains on one text.
    public func train(_ text: String) throws -> Tokenizer { try train([text]) }

    private struct QueueEntry: Comparable {
        let count: Int
        let pair: UInt64
        // Larger count first; on ties, the smaller pair of ids.
        static func < (x: QueueEntry, y: QueueEntry) -> Bool {
            x.count != y.count ? x.count < y.count : x.pair > y.pair
        }
    }
}
