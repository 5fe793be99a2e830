import Foundation

extension Tokenizer {
    /// The `tokenizer.json` text for this tokenizer, loadable by HF `tokenizers` and by `Tokenizer(tokenizerJSON:)`.
    /// Keys and vocabulary are written in a fixed order (vocabulary by id), so equal tokenizers give equal files.
    public func tokenizerJSON() -> String {
        let added: [OrderedJSON] = addedTokens.sorted { $0.id < $1.id }.map { t in
            .object([
                ("id", .int(t.id)), ("content", .string(t.content)), ("single_word", .bool(t.singleWord)),
                ("lstrip", .bool(t.lstrip)), ("rstrip", .bool(t.rstrip)), ("normalized", .bool(t.normalized)),
                ("special", .bool(t.special)),
            ])
        }
        let vocab = model.idToToken.enumerated().compactMap { id, token in token.map { (key: $0, value: id) } }
        let modelJSON: OrderedJSON = .object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", model.unkToken.map { .string($0) } ?? .null),
            ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(model.fuseUnk)),
            ("byte_fallback", .bool(model.byteFallback)), ("ignore_merges", .bool(model.ignoreMerges)),
            ("vocab", .object(vocab.map { ($0.key, .int($0.value)) })),
            ("merges", .array(model.merges.map { .array([.string($0.0), .string($0.1)]) })),
        ])
        let root: OrderedJSON = .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", .array(added)),
            ("normalizer", normalizer?.json ?? .null), ("pre_tokenizer", preTokenizer?.json ?? .null),
            ("post_processor", postProcessor?.json ?? .null), ("decoder", decoder?.json ?? .null), ("model", modelJSON),
        ])
        return root.rendered()
    }

    /// Writes `tokenizer.json` and, when `config` is given, `tokenizer_config.json` into `directory`
    /// (created if needed). Files are written atomically.
    public func save(to directory: URL, config: TokenizerConfig? = nil) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(tokenizerJSON().utf8).write(
                to: directory.appendingPathComponent("tokenizer.json"), options: .atomic)
            if let config {
                try Data(config.json(tokenizer: self).rendered().utf8).write(
                    to: directory.appendingPathComponent("tokenizer_config.json"), options: .atomic)
            }
        } catch {
            throw TokenizerError.unreadableFile(
                path: directory.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

extension SplitPattern {
    var json: OrderedJSON { .object([(isRegex ? "Regex" : "String", .string(source))]) }
}

extension Normalizer {
    var json: OrderedJSON {
        switch self {
        case .nfc: return .object([("type", .string("NFC"))])
        case .nfd: return .object([("type", .string("NFD"))])
        case .nfkc: return .object([("type", .string("NFKC"))])
        case .nfkd: return .object([("type", .string("NFKD"))])
        case .lowercase: return .object([("type", .string("Lowercase"))])
        case .prepend(let p): return .object([("type", .string("Prepend")), ("prepend", .string(p))])
        case .replace(let pattern, let content):
            return .object([("type", .string("Replace")), ("pattern", pattern.json), ("content", .string(content))])
        case .sequence(let items):
            return .object([("type", .string("Sequence")), ("normalizers", .array(items.map(\.json)))])
        }
    }
}

extension PreTokenizer {
    var json: OrderedJSON {
        switch self {
        case .byteLevel(let add, let useRegex):
            return .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(add)), ("trim_offsets", .bool(false)),
                ("use_regex", .bool(useRegex)),
            ])
        case .split(let pattern, let behavior, let invert):
            return .object([
                ("type", .string("Split")), ("pattern", pattern.json), ("behavior", .string(behavior.rawValue)),
                ("invert", .bool(invert)),
            ])
        case .digits(let individual):
            return .object([("type", .string("Digits")), ("individual_digits", .bool(individual))])
        case .sequence(let items):
            return .object([("type", .string("Sequence")), ("pretokenizers", .array(items.map(\.json)))])
        }
    }
}

extension PostProcessor {
    var json: OrderedJSON {
        switch self {
        case .byteLevel:
            return .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(false)),
                ("use_regex", .bool(false)),
            ])
        case .sequence(let items):
            return .object([("type", .string("Sequence")), ("processors", .array(items.map(\.json)))])
        case .template(let single):
            var specials: [(String, OrderedJSON)] = []
            let items: [OrderedJSON] = single.map { (piece: PostProcessor.TemplatePiece) -> OrderedJSON in
                switch piece {
                case .sequence:
                    return .object([("Sequence", .object([("id", .string("A")), ("type_id", .int(0))]))])
                case .special(let name, let ids, let tokens):
                    if !specials.contains(where: { $0.0 == name }) {
                        specials.append(
                            (
                                name,
                                .object([
                                    ("id", .string(name)), ("ids", .array(ids.map { .int($0) })),
                                    ("tokens", .array(tokens.map { .string($0) })),
                                ])
                            ))
                    }
                    return .object([("SpecialToken", .object([("id", .string(name)), ("type_id", .int(0))]))])
                }
            }
            // The pair template repeats the single one for each sequence (Ponder encodes single sequences only).
            let sequenceB = OrderedJSON.object([("Sequence", .object([("id", .string("B")), ("type_id", .int(1))]))])
            let pair: [OrderedJSON] =
                items
                + zip(single, items).map { (piece, item) -> OrderedJSON in
                    piece == .sequence ? sequenceB : item
                }
            return .object([
                ("type", .string("TemplateProcessing")), ("single", .array(items)), ("pair", .array(pair)),
                ("special_tokens", .object(specials)),
            ])
        }
    }
}

extension TokenDecoder {
    var json: OrderedJSON {
        switch self {
        case .byteLevel:
            return .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(false)),
                ("use_regex", .bool(false)),
            ])
        case .byteFallback: return .object([("type", .string("ByteFallback"))])
        case .fuse: return .object([("type", .string("Fuse"))])
        case .strip(let c, let start, let stop):
            return .object([
                ("type", .string("Strip")), ("content", .string(String(c))), ("start", .int(start)),
                ("stop", .int(stop)),
            ])
        case .metaspace(let r, let prependFirst):
            return .object([
                ("type", .string("Metaspace")), ("replacement", .string(String(r))),
                ("prepend_scheme", .string(prependFirst ? "always" : "never")), ("split", .bool(true)),
            ])
        case .replace(let pattern, let content):
            return .object([("type", .string("Replace")), ("pattern", pattern.json), ("content", .string(content))])
        case .sequence(let items):
            return .object([("type", .string("Sequence")), ("decoders", .array(items.map(\.json)))])
        }
    }
}
