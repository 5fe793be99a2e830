/// Finds added tokens in text: leftmost match first, longest on ties (as HF's Aho-Corasick `LeftmostLongest`),
/// then the single-word, lstrip and rstrip rules.
struct AddedTokenMatcher: Sendable {
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]  // node → index into `tokens`
    private var firstBytes = [Bool](repeating: false, count: 256)
    let tokens: [AddedToken]

    var isEmpty: Bool { tokens.isEmpty }

    /// `patterns[i]` is the text to find for `tokens[i]` (its content, normalized when the token is).
    init(tokens: [AddedToken], patterns: [String]) {
        self.tokens = tokens
        for (index, pattern) in patterns.enumerated() {
            let bytes = Array(pattern.utf8)
            guard let first = bytes.first else { continue }
            firstBytes[Int(first)] = true
            var node = 0
            for b in bytes {
                if let child = children[node][b] {
                    node = Int(child)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][b] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            if terminal[node] < 0 { terminal[node] = Int32(index) }
        }
    }

    /// Cuts `p[lo..<hi]` into stretches, each either plain text (`token == nil`) or one added token.
    func split(_ p: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> [(range: Range<Int>, token: Int?)] {
        var out: [(range: Range<Int>, token: Int?)] = []
        var startOffset = lo
        var i = lo
        while i < hi {
            guard firstBytes[Int(p[i])] else {
                i += 1
                continue
            }
            var node = 0
            var best = -1
            var bestEnd = i
            var j = i
            while j < hi, let child = children[node][p[j]] {
                node = Int(child)
                j += 1
                if terminal[node] >= 0 {
                    best = Int(terminal[node])
                    bestEnd = j
                }
            }
            guard best >= 0 else {
                i += 1
                continue
            }
            let token = tokens[best]
            var start = i
            var stop = bestEnd
            if token.singleWord {
                let leftOK = start == lo || !Self.isWordScalar(before: start, p, lo)
                let rightOK = stop == hi || !Self.isWordScalar(at: stop, p)
                if !(leftOK && rightOK) {
                    i = bestEnd  // the automaton resumes after a discarded match
                    continue
                }
            }
            if token.lstrip {
                var s = start
                while s > lo, let (v, n) = Self.scalar(before: s, p, lo), ScalarClass.of(v).isWhitespace {
                    s -= n
                }
                start = max(s, startOffset)
            }
            if token.rstrip {
                while stop < hi {
                    let (v, n) = decodeScalar(p, stop)
                    guard ScalarClass.of(v).isWhitespace else { break }
                    stop = min(stop + n, hi)
                }
            }
            if startOffset < start { out.append((startOffset..<start, nil)) }
            out.append((start..<stop, token.id))
            startOffset = stop
            i = max(stop, bestEnd)
        }
        if startOffset < hi { out.append((startOffset..<hi, nil)) }
        return out
    }

    private static func scalar(before i: Int, _ p: UnsafeBufferPointer<UInt8>, _ lo: Int) -> (UInt32, Int)? {
        guard i > lo else { return nil }
        var s = i - 1
        while s > lo && p[s] & 0xC0 == 0x80 { s -= 1 }
        let (v, n) = decodeScalar(p, s)
        return (v, n)
    }

    private static func isWordScalar(before i: Int, _ p: UnsafeBufferPointer<UInt8>, _ lo: Int) -> Bool {
        guard let (v, _) = scalar(before: i, p, lo) else { return false }
        return isWord(v)
    }

    private static func isWordScalar(at i: Int, _ p: UnsafeBufferPointer<UInt8>) -> Bool {
        isWord(decodeScalar(p, i).0)
    }

    /// `\w` as Rust's regex crate defines it: Alphabetic, marks, decimal digits, connector punctuation, joiners.
    private static func isWord(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let props = s.properties
        if props.isAlphabetic || props.isJoinControl { return true }
        switch props.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
