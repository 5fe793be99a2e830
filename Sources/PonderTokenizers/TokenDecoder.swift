/// A decoder from `tokenizer.json`'s `decoder` section: turns token strings back into text.
///
/// Mirrors HF `tokenizers`: each decoder maps a list of token strings to a new list (`decodeChain`), and the
/// final text is the concatenation of the last list.
public indirect enum TokenDecoder: Sendable {
    /// GPT-2 byte-level characters back to bytes, then UTF-8 (invalid sequences become U+FFFD). A token with a
    /// character outside the alphabet (an added token such as `<|im_end|>` is inside it) contributes its UTF-8.
    case byteLevel
    /// `<0xXX>` tokens back to bytes; runs that are not valid UTF-8 become one U+FFFD per byte.
    case byteFallback
    /// Joins all tokens into one.
    case fuse
    /// Removes up to `start` leading and `stop` trailing `content` characters from each token.
    case strip(content: Character, start: Int, stop: Int)
    /// SentencePiece's `▁` back to spaces; the first token loses its replacement when `prependFirst`.
    case metaspace(replacement: Character, prependFirst: Bool)
    /// Replaces a pattern in each token.
    case replace(pattern: SplitPattern, content: String)
    /// Applies decoders in order.
    case sequence([TokenDecoder])

    /// Whether the decoder is exactly byte-level, so a token's output bytes do not depend on its neighbours.
    var isPureByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let items): return items.count == 1 && items[0].isPureByteLevel
        default: return false
        }
    }

    /// The bytes `byteLevel` produces for one token.
    static func byteLevelBytes(_ token: String) -> [UInt8] {
        ByteLevelAlphabet.decode(token) ?? Array(token.utf8)
    }

    /// Applies this decoder to a list of token strings.
    public func decodeChain(_ tokens: [String]) -> [String] {
        switch self {
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { bytes.append(contentsOf: Self.byteLevelBytes(t)) }
            return [String(decoding: bytes, as: UTF8.self)]
        case .byteFallback:
            var out: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let s = String(validating: pending, as: UTF8.self) {
                    out.append(s)
                } else {
                    out.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
                }
                pending.removeAll()
            }
            for t in tokens {
                if let b = Self.fallbackByte(t) {
                    pending.append(b)
                } else {
                    flush()
                    out.append(t)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var chars = Array(token)
                var cutStart = 0
                while cutStart < start && cutStart < chars.count && chars[cutStart] == content { cutStart += 1 }
                chars.removeFirst(cutStart)
                var cutStop = 0
                while cutStop < stop && !chars.isEmpty && chars.last == content {
                    chars.removeLast()
                    cutStop += 1
                }
                return String(chars)
            }
        case .metaspace(let replacement, let prependFirst):
            return tokens.enumerated().map { i, token in
                var s = ""
                for c in token {
                    if c == replacement {
                        if !(i == 0 && prependFirst) { s.append(" ") }
                    } else {
                        s.append(c)
                    }
                }
                return s
            }
        case .replace(let pattern, let content):
            return tokens.map { Normalizer.replace(pattern: pattern, content: content).apply($0) }
        case .sequence(let items):
            return items.reduce(tokens) { $1.decodeChain($0) }
        }
    }

    /// The byte of a `<0xXX>` token.
    static func fallbackByte(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == UInt8(ascii: "<"), u[1] == UInt8(ascii: "0"), u[2] == UInt8(ascii: "x"),
            u[5] == UInt8(ascii: ">")
        else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// Builds a decoder from its JSON section; `nil` for a null section.
    static func load(_ node: JSONNode) throws -> TokenDecoder? {
        if node.isNull { return nil }
        let type = try node.componentType()
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip":
            let content = try node.required("content").string()
            guard let c = content.first, content.count == 1 else {
                throw TokenizerError.invalidValue(path: node.childPath("content"), reason: "expected one character")
            }
            return .strip(content: c, start: try node["start"].int(), stop: try node["stop"].int())
        case "Metaspace":
            let replacement = try node.required("replacement").string()
            guard let c = replacement.first, replacement.count == 1 else {
                throw TokenizerError.invalidValue(path: node.childPath("replacement"), reason: "expected one character")
            }
            var prependFirst = true
            if let scheme = node["prepend_scheme"].stringValue {
                prependFirst = scheme != "never"
            } else if !node["add_prefix_space"].isNull {
                prependFirst = try node["add_prefix_space"].bool(default: true)
            }
            return .metaspace(replacement: c, prependFirst: prependFirst)
        case "Replace":
            return .replace(
                pattern: try loadPattern(node.required("pattern")), content: try node.required("content").string())
        case "Sequence":
            return .sequence(try node.required("decoders").array().compactMap { try load($0) })
        default:
            throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type"))
        }
    }
}
