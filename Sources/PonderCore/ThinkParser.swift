/// Splits a completion into its reasoning (`<think>…</think>`) and its answer.
///
/// Handles the three shapes reasoning models produce:
/// - `<think>reasoning</think>answer`: reasoning and answer.
/// - `reasoning</think>answer`, when the chat template pre-filled `<think>` (set
///   `startsInReasoning`, or use ``split(_:)`` which detects it).
/// - `<think>reasoning…` with no closing tag: truncated thinking, the answer is empty.
///
/// Segments are returned raw (tags removed, whitespace kept) so that the streaming form,
/// ``ThinkStreamParser``, produces exactly the same text; use ``Parsed/trimmedAnswer`` to grade.
public struct ThinkParser: Sendable, Hashable {
    /// How a completion ended with respect to reasoning.
    public enum State: String, Sendable, Hashable, Codable {
        /// No reasoning was seen.
        case noReasoning
        /// Reasoning was opened and closed.
        case complete
        /// Reasoning was opened (or pre-filled) and never closed.
        case truncated
    }

    /// A completion split into reasoning and answer.
    public struct Parsed: Sendable, Hashable {
        /// The reasoning text without tags; `nil` when there was none.
        public var reasoning: String?
        /// The answer text: what follows the closing tag (plus any text before an opening tag).
        public var answer: String
        /// Whether reasoning was absent, complete or truncated.
        public var state: State

        /// Makes a parsed completion.
        public init(reasoning: String?, answer: String, state: State) {
            self.reasoning = reasoning
            self.answer = answer
            self.state = state
        }

        /// The answer with surrounding whitespace removed.
        public var trimmedAnswer: String { answer.trimmingWhitespace() }
    }

    /// The tag that opens reasoning, `<think>` by default.
    public var openTag: String
    /// The tag that closes reasoning, `</think>` by default.
    public var closeTag: String
    /// `true` when the chat template already wrote the opening tag, so output starts inside reasoning.
    public var startsInReasoning: Bool

    /// Makes a parser. Tags must be non-empty; an empty tag is replaced by the default one.
    public init(openTag: String = "<think>", closeTag: String = "</think>", startsInReasoning: Bool = false) {
        self.openTag = openTag.isEmpty ? "<think>" : openTag
        self.closeTag = closeTag.isEmpty ? "</think>" : closeTag
        self.startsInReasoning = startsInReasoning
    }

    /// Splits `text` under this parser's settings (the same result ``ThinkStreamParser`` gives).
    public func parse(_ text: String) -> Parsed {
        let bytes = Array(text.utf8)
        let open = Array(openTag.utf8)
        let close = Array(closeTag.utf8)
        if startsInReasoning {
            var start = 0
            while start < bytes.count, Self.isASCIISpace(bytes[start]) { start += 1 }
            if bytes[start...].starts(with: open) { start += open.count } else { start = 0 }
            let rest = bytes[start...]
            if let r = Self.find(close, in: rest) {
                return Parsed(
                    reasoning: Self.string(rest[..<r.lowerBound]), answer: Self.string(rest[r.upperBound...]),
                    state: .complete)
            }
            return Parsed(reasoning: Self.string(rest), answer: "", state: .truncated)
        }
        guard let o = Self.find(open, in: bytes[...]) else {
            return Parsed(reasoning: nil, answer: text, state: .noReasoning)
        }
        let prefix = bytes[..<o.lowerBound]
        let rest = bytes[o.upperBound...]
        if let c = Self.find(close, in: rest) {
            return Parsed(
                reasoning: Self.string(rest[..<c.lowerBound]),
                answer: Self.string(prefix) + Self.string(rest[c.upperBound...]), state: .complete)
        }
        return Parsed(reasoning: Self.string(rest), answer: Self.string(prefix), state: .truncated)
    }

    /// Splits `text`, detecting a pre-filled opening tag: when the closing tag occurs with no
    /// opening tag before it, everything before the closing tag is reasoning.
    public func split(_ text: String) -> Parsed {
        let bytes = Array(text.utf8)
        if let c = Self.find(Array(closeTag.utf8), in: bytes[...]) {
            let before = bytes[..<c.lowerBound]
            if Self.find(Array(openTag.utf8), in: before) == nil {
                var copy = self
                copy.startsInReasoning = true
                return copy.parse(text)
            }
        }
        return parse(text)
    }

    /// Whether `prompt` leaves a thinking section open, so the model's output starts inside reasoning (chat
    /// templates that pre-fill the opening tag): the last opening tag comes after the last closing tag.
    public func opensReasoning(_ prompt: String) -> Bool {
        let bytes = Array(prompt.utf8)
        guard let open = Self.findLast(Array(openTag.utf8), in: bytes) else { return false }
        guard let close = Self.findLast(Array(closeTag.utf8), in: bytes) else { return true }
        return close < open
    }

    /// A parser for a completion of `prompt`: it starts inside reasoning when the prompt leaves thinking open.
    public func continuing(_ prompt: String) -> ThinkParser {
        var copy = self
        copy.startsInReasoning = opensReasoning(prompt)
        return copy
    }

    /// The final answer region of a completion: what follows the reasoning (`""` while thinking is unfinished),
    /// detecting a pre-filled opening tag. Graders, judges and voters read this.
    public func answerRegion(_ text: String) -> String { split(text).answer }

    /// Removes reasoning from an assistant turn, e.g. when re-templating a conversation.
    public func stripReasoning(_ text: String) -> String { split(text).trimmedAnswer }

    /// First occurrence of `needle` in `hay` (indices of `hay`'s base array).
    static func find(_ needle: [UInt8], in hay: ArraySlice<UInt8>) -> Range<Int>? {
        guard let first = needle.first, needle.count <= hay.count else { return nil }
        var i = hay.startIndex
        let last = hay.endIndex - needle.count
        while i <= last {
            if hay[i] == first {
                var j = 1
                while j < needle.count, hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i..<(i + needle.count) }
            }
            i += 1
        }
        return nil
    }

    /// Start of the last occurrence of `needle` in `hay`.
    static func findLast(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard !needle.isEmpty, needle.count <= hay.count else { return nil }
        var i = hay.count - needle.count
        while i >= 0 {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }

    static func isASCIISpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x09 || b == 0x0D }

    static func string<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes, as: UTF8.self)
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
