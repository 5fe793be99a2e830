import Foundation

/// A text normalizer from `tokenizer.json`'s `normalizer` section, applied before pre-tokenization.
public indirect enum Normalizer: Sendable {
    /// Unicode canonical composition (Qwen2 and its descendants).
    case nfc
    /// Unicode canonical decomposition.
    case nfd
    /// Unicode compatibility composition.
    case nfkc
    /// Unicode compatibility decomposition.
    case nfkd
    /// Lower-cases the text.
    case lowercase
    /// Replaces every occurrence of a literal or regex with `content`.
    case replace(pattern: SplitPattern, content: String)
    /// Prepends `prefix` to non-empty text.
    case prepend(String)
    /// Applies normalizers in order.
    case sequence([Normalizer])

    /// Returns the normalized text.
    public func apply(_ text: String) -> String {
        switch self {
        case .nfc: return Self.isKnownNFC(text) ? text : text.precomposedStringWithCanonicalMapping
        case .nfd: return Self.isASCII(text) ? text : text.decomposedStringWithCanonicalMapping
        case .nfkc: return Self.isASCII(text) ? text : text.precomposedStringWithCompatibilityMapping
        case .nfkd: return Self.isASCII(text) ? text : text.decomposedStringWithCompatibilityMapping
        case .lowercase: return text.lowercased()
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .sequence(let items): return items.reduce(text) { $1.apply($0) }
        case .replace(let pattern, let content):
            var bytes = Array(text.utf8)
            var ranges: [Range<Int>] = []
            bytes.withUnsafeBufferPointer { pattern.matches($0, 0, $0.count, into: &ranges) }
            guard !ranges.isEmpty else { return text }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var last = 0
            for r in ranges {
                out.append(contentsOf: bytes[last..<r.lowerBound])
                out.append(contentsOf: content.utf8)
                last = r.upperBound
            }
            out.append(contentsOf: bytes[last...])
            bytes = out
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func isASCII(_ s: String) -> Bool { s.utf8.allSatisfy { $0 < 0x80 } }

    /// Whether every scalar lies in a range whose characters are unchanged by NFC and never compose with a
    /// neighbour (NFC_Quick_Check=Yes, no decomposition, combining class 0), so NFC is the identity and the
    /// slow Foundation call can be skipped. Other text is normalized for real.
    static func isKnownNFC(_ s: String) -> Bool {
        for u in s.unicodeScalars {
            let v = u.value
            if v < 0x300 || (0x4E00...0x9FFF).contains(v) || (0xAC00...0xD7A3).contains(v)
                || (0x3040...0x3096).contains(v) || (0x309B...0x30FF).contains(v) || (0x1F000...0x1FAFF).contains(v)
            {
                continue
            }
            return false
        }
        return true
    }

    /// Builds a normalizer from its JSON section; `nil` for a null section.
    static func load(_ node: JSONNode) throws -> Normalizer? {
        if node.isNull { return nil }
        let type = try node.componentType()
        switch type {
        case "NFC": return .nfc
        case "NFD": return .nfd
        case "NFKC": return .nfkc
        case "NFKD": return .nfkd
        case "Lowercase": return .lowercase
        case "Prepend": return .prepend(try node.required("prepend").string())
        case "Replace":
            return .replace(
                pattern: try loadPattern(node.required("pattern")), content: try node.required("content").string())
        case "Sequence":
            return .sequence(try node.required("normalizers").array().compactMap { try load($0) })
        default:
            throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type"))
        }
    }
}

/// Reads a pattern object `{"Regex": "..."}` or `{"String": "..."}`.
func loadPattern(_ node: JSONNode) throws -> SplitPattern {
    _ = try node.members()
    if !node["Regex"].isNull {
        let text = try node["Regex"].string()
        do {
            return try SplitPattern(regex: text)
        } catch TokenizerError.invalidValue(_, let reason) {
            throw TokenizerError.invalidValue(path: node.childPath("Regex"), reason: reason)
        }
    }
    if !node["String"].isNull {
        return SplitPattern(literal: try node["String"].string())
    }
    throw TokenizerError.missingKey(path: node.childPath("Regex"))
}
