/// Turns ids that arrive one at a time into text, emitting each character once, as soon as it is complete.
///
/// The concatenation of everything `push` and `finish` return equals `tokenizer.decode(allIDs)`: a UTF-8
/// sequence split across tokens is held back until complete, never emitted broken, repeated or dropped.
public struct StreamingDecoder: Sendable {
    private let tokenizer: Tokenizer
    private let skipSpecialTokens: Bool
    /// Byte-level path: bytes not yet emitted (an incomplete UTF-8 sequence at most).
    private var pending: [UInt8] = []
    /// General path: the last emitted ids (`window[..<readCount]`, kept as context) and ids not yet emitted.
    private var window: [Int] = []
    private var readCount = 0

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one id; returns the text that became final (possibly empty).
    public mutating func push(_ id: Int) -> String {
        if skipSpecialTokens && tokenizer.isSpecial(id) { return "" }
        if let bytes = tokenizer.bytes(for: id) {
            pending.append(contentsOf: bytes)
            let cut = Self.completePrefixLength(pending)
            guard cut > 0 else { return "" }
            let text = String(decoding: pending[0..<cut], as: UTF8.self)
            pending.removeFirst(cut)
            return text
        }
        // Decoders whose output depends on neighbours (Metaspace, ByteFallback, Strip...): as HF's DecodeStream,
        // decode the last emitted ids plus the new ones, and emit what they add once it no longer ends in a
        // replacement character. The window stays a few tokens long.
        window.append(id)
        let context = tokenizer.decode(Array(window[..<readCount]))
        let text = tokenizer.decode(window)
        let (new, extends) = Self.suffix(of: text, after: context)
        guard extends, !new.isEmpty, new.unicodeScalars.last != "\u{FFFD}" else { return "" }
        window.removeFirst(readCount)
        readCount = window.count
        return new
    }

    /// Adds several ids; returns the text that became final.
    public mutating func push<S: Sequence>(contentsOf ids: S) -> String where S.Element == Int {
        ids.reduce(into: "") { $0 += push($1) }
    }

    /// Ends the stream, flushing held bytes (an incomplete sequence at the very end becomes U+FFFD, as in `decode`).
    public mutating func finish() -> String {
        if !pending.isEmpty {
            let text = String(decoding: pending, as: UTF8.self)
            pending.removeAll()
            return text
        }
        guard window.count > readCount else { return "" }
        let context = tokenizer.decode(Array(window[..<readCount]))
        let text = tokenizer.decode(window)
        window.removeAll()
        readCount = 0
        return Self.suffix(of: text, after: context).0
    }

    /// What `text` adds after `context`, compared scalar by scalar (a combining mark may extend the last
    /// character); `extends` is false when `text` does not start with `context`.
    static func suffix(of text: String, after context: String) -> (String, extends: Bool) {
        let t = text.unicodeScalars
        let c = context.unicodeScalars
        guard t.starts(with: c) else { return ("", false) }
        return (String(String.UnicodeScalarView(t.dropFirst(c.count))), true)
    }

    /// Length of the prefix of `bytes` whose decoding no later byte can change: everything before a trailing
    /// sequence that is still a valid, incomplete UTF-8 prefix.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        // A lead byte can be at most 3 bytes from the end for an incomplete sequence.
        var start = n - 1
        while start >= 0 && start >= n - 3 {
            let b = bytes[start]
            if b & 0xC0 != 0x80 {
                // Lead byte (or ASCII) at `start`.
                let need = b >= 0xF0 && b <= 0xF4 ? 4 : b >= 0xE0 && b <= 0xEF ? 3 : b >= 0xC2 && b <= 0xDF ? 2 : 1
                let have = n - start
                if need > have && isValidPrefix(bytes, start) { return start }
                return n
            }
            start -= 1
        }
        return n
    }

    /// Whether the bytes from `start` to the end are a valid beginning of one UTF-8 sequence.
    private static func isValidPrefix(_ bytes: [UInt8], _ start: Int) -> Bool {
        let b0 = bytes[start]
        for k in (start + 1)..<bytes.count {
            let b = bytes[k]
            if k == start + 1 {
                // Second-byte ranges that exclude overlongs and surrogates.
                let lo: UInt8 = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80
                let hi: UInt8 = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF
                if b < lo || b > hi { return false }
            } else if b & 0xC0 != 0x80 {
                return false
            }
        }
        return true
    }
}
