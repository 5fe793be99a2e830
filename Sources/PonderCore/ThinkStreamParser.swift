/// Incremental form of ``ThinkParser``: feed chunks of a streamed completion and receive reasoning and
/// answer deltas as soon as they are certain.
///
/// Tags may be split across chunks, and chunks may even split a UTF-8 character (``feed(bytes:)``).
/// Text that could still be the start of a tag is held back until the next chunk decides it. After
/// ``finish()``, the concatenated deltas equal ``ThinkParser/parse(_:)`` of the whole text.
public struct ThinkStreamParser: Sendable {
    /// Text released by one call to ``feed(_:)`` or ``finish()``.
    public struct Delta: Sendable, Hashable {
        /// New reasoning text (may be empty).
        public var reasoning: String
        /// New answer text (may be empty).
        public var answer: String
        /// Makes a delta.
        public init(reasoning: String = "", answer: String = "") {
            self.reasoning = reasoning
            self.answer = answer
        }
    }

    private enum Phase: Sendable { case beforeOpen, reasoningStart, reasoning, after }

    private let open: [UInt8]
    private let close: [UInt8]
    private var phase: Phase
    private var pending: [UInt8] = []
    private var reasoningCarry: [UInt8] = []
    private var answerCarry: [UInt8] = []
    private var sawReasoning: Bool

    /// The state so far: `truncated` while inside reasoning, `complete` after the closing tag.
    public var state: ThinkParser.State {
        switch phase {
        case .beforeOpen: return .noReasoning
        case .reasoningStart, .reasoning: return .truncated
        case .after: return sawReasoning ? .complete : .noReasoning
        }
    }

    /// Makes a streaming parser with the same settings as `parser`.
    public init(_ parser: ThinkParser = ThinkParser()) {
        open = Array(parser.openTag.utf8)
        close = Array(parser.closeTag.utf8)
        phase = parser.startsInReasoning ? .reasoningStart : .beforeOpen
        sawReasoning = parser.startsInReasoning
    }

    /// Feeds a chunk of text.
    public mutating func feed(_ chunk: String) -> Delta { feed(bytes: Array(chunk.utf8)) }

    /// Feeds raw UTF-8 bytes; a character split across chunks is emitted once complete.
    public mutating func feed(bytes chunk: [UInt8]) -> Delta {
        pending += chunk
        var r: [UInt8] = []
        var a: [UInt8] = []
        process(final: false, reasoning: &r, answer: &a)
        return Delta(reasoning: decode(&reasoningCarry, r, final: false), answer: decode(&answerCarry, a, final: false))
    }

    /// Ends the stream, releasing any held-back text.
    public mutating func finish() -> Delta {
        var r: [UInt8] = []
        var a: [UInt8] = []
        process(final: true, reasoning: &r, answer: &a)
        return Delta(reasoning: decode(&reasoningCarry, r, final: true), answer: decode(&answerCarry, a, final: true))
    }

    private mutating func process(final: Bool, reasoning r: inout [UInt8], answer a: inout [UInt8]) {
        while true {
            switch phase {
            case .after:
                a += pending
                pending.removeAll()
                return
            case .reasoningStart:
                // Drop leading whitespace followed by a repeated opening tag.
                var i = 0
                while i < pending.count, ThinkParser.isASCIISpace(pending[i]) { i += 1 }
                let rest = pending[i...]
                if rest.starts(with: open) {
                    pending.removeFirst(i + open.count)
                    phase = .reasoning
                    continue
                }
                if !final, open.starts(with: rest) { return }  // still undecided
                phase = .reasoning
            case .beforeOpen, .reasoning:
                let tag = phase == .beforeOpen ? open : close
                if let m = ThinkParser.find(tag, in: pending[...]) {
                    if phase == .beforeOpen { a += pending[..<m.lowerBound] } else { r += pending[..<m.lowerBound] }
                    pending.removeFirst(m.upperBound)
                    phase = phase == .beforeOpen ? .reasoning : .after
                    sawReasoning = true
                    continue
                }
                let keep = final ? 0 : Self.heldBack(pending, tag)
                let emit = pending[..<(pending.count - keep)]
                if phase == .beforeOpen { a += emit } else { r += emit }
                pending.removeFirst(pending.count - keep)
                return
            }
        }
    }

    /// Length of the longest suffix of `buffer` that is a proper prefix of `tag`.
    private static func heldBack(_ buffer: [UInt8], _ tag: [UInt8]) -> Int {
        var n = min(buffer.count, tag.count - 1)
        while n > 0 {
            if buffer[(buffer.count - n)...].elementsEqual(tag[..<n]) { return n }
            n -= 1
        }
        return 0
    }

    /// Decodes complete UTF-8 characters, keeping an incomplete trailing sequence in `carry`.
    private func decode(_ carry: inout [UInt8], _ bytes: [UInt8], final: Bool) -> String {
        var all = carry + bytes
        carry.removeAll()
        if !final {
            let cut = Self.completePrefixLength(all)
            carry = Array(all[cut...])
            all.removeSubrange(cut...)
        }
        return String(decoding: all, as: UTF8.self)
    }

    /// The length of `bytes` up to the start of a trailing, incomplete UTF-8 sequence.
    private static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        var i = bytes.count - 1
        var continuation = 0
        while i >= 0, continuation < 3, bytes[i] & 0xC0 == 0x80 {
            continuation += 1
            i -= 1
        }
        guard i >= 0 else { return bytes.count }
        let lead = bytes[i]
        let needed: Int
        if lead & 0x80 == 0 {
            needed = 0
        } else if lead & 0xE0 == 0xC0 {
            needed = 1
        } else if lead & 0xF0 == 0xE0 {
            needed = 2
        } else if lead & 0xF8 == 0xF0 {
            needed = 3
        } else {
            return bytes.count
        }
        return continuation < needed ? i : bytes.count
    }
}
