/// How a `Split` pre-tokenizer treats the matches of its pattern (HF `SplitDelimiterBehavior`).
public enum SplitBehavior: String, Sendable {
    /// Drop the matches.
    case removed = "Removed"
    /// Keep each match as its own piece.
    case isolated = "Isolated"
    /// Glue each match to the piece before it.
    case mergedWithPrevious = "MergedWithPrevious"
    /// Glue each match to the piece after it.
    case mergedWithNext = "MergedWithNext"
    /// Merge runs of adjacent matches into one piece.
    case contiguous = "Contiguous"
}

/// A pre-tokenizer from `tokenizer.json`'s `pre_tokenizer` section: cuts normalized text into pieces that the
/// model encodes separately. Pieces are byte ranges of the UTF-8 text.
public indirect enum PreTokenizer: Sendable {
    /// GPT-2 byte-level: optionally prefixes a space and splits with the GPT-2 regex; marks text as byte-level.
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// Splits on a pattern.
    case split(pattern: SplitPattern, behavior: SplitBehavior, invert: Bool)
    /// Splits digits from the rest, one per piece or in runs.
    case digits(individualDigits: Bool)
    /// Applies pre-tokenizers in order, each to every piece of the one before.
    case sequence([PreTokenizer])

    /// Whether this pre-tokenizer (or one inside it) is `ByteLevel`.
    var isByteLevel: Bool {
        switch self {
        case .byteLevel: return true
        case .sequence(let items): return items.contains { $0.isByteLevel }
        default: return false
        }
    }

    /// The pieces this pre-tokenizer cuts `text` into (byte-level mapping aside), for inspection and tests.
    public func pieces(of text: String) -> [String] {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { buf in
            apply(buf, [0..<buf.count]).map { String(decoding: buf[$0], as: UTF8.self) }
        }
    }

    /// Cuts every range of `pieces` within `buf` and returns the new pieces.
    func apply(_ buf: UnsafeBufferPointer<UInt8>, _ pieces: [Range<Int>]) -> [Range<Int>] {
        switch self {
        case .sequence(let items):
            return items.reduce(pieces) { $1.apply(buf, $0) }
        case .byteLevel(_, let useRegex):
            guard useRegex else { return pieces }
            return Self.split(buf, pieces, Self.gpt2, .isolated, invert: false)
        case .split(let pattern, let behavior, let invert):
            return Self.split(buf, pieces, pattern, behavior, invert: invert)
        case .digits(let individual):
            return Self.digits(buf, pieces, individual: individual)
        }
    }

    private static let gpt2 = try! SplitPattern(regex: SplitPattern.gpt2Regex)

    private static func split(
        _ buf: UnsafeBufferPointer<UInt8>, _ pieces: [Range<Int>], _ pattern: SplitPattern, _ behavior: SplitBehavior,
        invert: Bool
    ) -> [Range<Int>] {
        var out: [Range<Int>] = []
        out.reserveCapacity(pieces.count * 4)
        if pattern.tilesInput && behavior == .isolated && !invert {
            for p in pieces { pattern.matches(buf, p.lowerBound, p.upperBound, into: &out) }
            return out
        }
        var matches: [Range<Int>] = []
        for p in pieces {
            matches.removeAll(keepingCapacity: true)
            pattern.matches(buf, p.lowerBound, p.upperBound, into: &matches)
            // Every stretch of the piece, flagged as a match or not.
            var parts: [(Range<Int>, Bool)] = []
            var last = p.lowerBound
            for m in matches {
                if m.lowerBound > last { parts.append((last..<m.lowerBound, invert)) }
                parts.append((m, !invert))
                last = m.upperBound
            }
            if last < p.upperBound { parts.append((last..<p.upperBound, invert)) }
            applyBehavior(parts, behavior, &out)
        }
        return out
    }

    static func applyBehavior(_ parts: [(Range<Int>, Bool)], _ behavior: SplitBehavior, _ out: inout [Range<Int>]) {
        switch behavior {
        case .isolated:
            out.append(contentsOf: parts.map(\.0))
        case .removed:
            out.append(contentsOf: parts.filter { !$0.1 }.map(\.0))
        case .contiguous:
            var current: Range<Int>? = nil
            var currentIsMatch = false
            for (r, isMatch) in parts {
                if let c = current, isMatch && currentIsMatch {
                    current = c.lowerBound..<r.upperBound
                } else {
                    if let c = current { out.append(c) }
                    current = r
                    currentIsMatch = isMatch
                }
            }
            if let c = current { out.append(c) }
        case .mergedWithPrevious:
            // As HF: a match joins the piece before it unless that piece was itself a match.
            var acc: [Range<Int>] = []
            var previousMatch = false
            for (r, isMatch) in parts {
                if isMatch && !previousMatch, let last = acc.last {
                    acc[acc.count - 1] = last.lowerBound..<r.upperBound
                } else {
                    acc.append(r)
                }
                previousMatch = isMatch
            }
            out.append(contentsOf: acc)
        case .mergedWithNext:
            // The mirror image: a match joins the piece after it unless that piece is itself a match.
            var acc: [Range<Int>] = []
            var nextMatch = false
            for (r, isMatch) in parts.reversed() {
                if isMatch && !nextMatch, let last = acc.last {
                    acc[acc.count - 1] = r.lowerBound..<last.upperBound
                } else {
                    acc.append(r)
                }
                nextMatch = isMatch
            }
            out.append(contentsOf: acc.reversed())
        }
    }

    private static func digits(_ buf: UnsafeBufferPointer<UInt8>, _ pieces: [Range<Int>], individual: Bool) -> [Range<
        Int
    >] {
        var out: [Range<Int>] = []
        for p in pieces {
            var parts: [(Range<Int>, Bool)] = []
            var i = p.lowerBound
            while i < p.upperBound {
                let (v, n) = decodeScalar(buf, i)
                parts.append((i..<(i + n), ScalarClass.of(v) == .number))
                i += n
            }
            // Runs of non-digits always merge; digits merge unless individual.
            var merged: [(Range<Int>, Bool)] = []
            for (r, isDigit) in parts {
                if let last = merged.last, last.1 == isDigit, !(isDigit && individual) {
                    merged[merged.count - 1].0 = last.0.lowerBound..<r.upperBound
                } else {
                    merged.append((r, isDigit))
                }
            }
            out.append(contentsOf: merged.map(\.0))
        }
        return out
    }

    /// Builds a pre-tokenizer from its JSON section; `nil` for a null section.
    static func load(_ node: JSONNode) throws -> PreTokenizer? {
        if node.isNull { return nil }
        let type = try node.componentType()
        switch type {
        case "ByteLevel":
            return .byteLevel(
                addPrefixSpace: try node["add_prefix_space"].bool(default: true),
                useRegex: try node["use_regex"].bool(default: true))
        case "Split":
            let behaviorNode = try node.required("behavior")
            let name = try behaviorNode.string()
            guard let behavior = SplitBehavior(rawValue: name) else {
                throw TokenizerError.invalidValue(path: behaviorNode.path, reason: "unknown split behavior \"\(name)\"")
            }
            return .split(
                pattern: try loadPattern(node.required("pattern")), behavior: behavior,
                invert: try node["invert"].bool(default: false))
        case "Digits":
            return .digits(individualDigits: try node["individual_digits"].bool(default: false))
        case "Sequence":
            let items = try node.required("pretokenizers").array().compactMap { try load($0) }
            // Byte-level mapping happens once, at the end; nothing may come after it.
            if let index = items.firstIndex(where: { $0.isByteLevel }), index != items.count - 1 {
                throw TokenizerError.invalidValue(
                    path: node.childPath("pretokenizers[\(index)]"),
                    reason: "ByteLevel must be the last pre-tokenizer of a Sequence in Ponder")
            }
            return .sequence(items)
        default:
            throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type"))
        }
    }
}
