import Foundation

extension Tokenizer {
    /// Parses the contents of a `tokenizer.json`. `source` names the file in errors.
    ///
    /// Throws `TokenizerError` naming the JSON path of any missing, mistyped or unsupported part.
    public init(tokenizerJSON data: Data, source: String = "tokenizer.json") throws {
        let root = try JSONNode.parse(data, file: source)
        _ = try root.members()
        let normalizer = try Normalizer.load(root["normalizer"])
        let preTokenizer = try PreTokenizer.load(root["pre_tokenizer"])
        let postProcessor = try PostProcessor.load(root["post_processor"])
        let decoder = try TokenDecoder.load(root["decoder"])
        let model = try Self.loadModel(try root.required("model"), byteLevel: preTokenizer?.isByteLevel ?? false)
        var added: [AddedToken] = []
        if !root["added_tokens"].isNull {
            for node in try root["added_tokens"].array() { added.append(try AddedToken.load(node)) }
        }
        self.init(
            normalizer: normalizer, preTokenizer: preTokenizer, model: model, postProcessor: postProcessor,
            decoder: decoder, addedTokens: added)
    }

    /// Loads a `tokenizer.json` file.
    public init(contentsOf url: URL) throws {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
        }
        try self.init(tokenizerJSON: data, source: url.lastPathComponent)
    }

    /// Loads `tokenizer.json` from a Hugging Face model directory, with BOS/EOS/padding ids from its
    /// `tokenizer_config.json`, `generation_config.json` and `config.json`.
    public static func load(directory: URL) throws -> Tokenizer {
        var tokenizer = try Tokenizer(contentsOf: directory.appendingPathComponent("tokenizer.json"))
        tokenizer.specialTokenIDs = try SpecialTokenIDs.read(directory: directory, tokenizer: tokenizer)
        return tokenizer
    }

    static func loadModel(_ node: JSONNode, byteLevel: Bool) throws -> BPEModel {
        let type = node["type"].stringValue ?? (node["merges"].isNull ? "unknown" : "BPE")
        guard type == "BPE" else { throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type")) }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = node[key].stringValue, !s.isEmpty {
                throw TokenizerError.invalidValue(path: node.childPath(key), reason: "BPE affixes are not supported")
            }
        }
        if let dropout = node["dropout"].doubleValue, dropout > 0 {
            throw TokenizerError.invalidValue(path: node.childPath("dropout"), reason: "BPE dropout is not supported")
        }
        let vocabNode = try node.required("vocab")
        let (tokens, values) = try vocabNode.members()
        var ids: [Int32] = []
        ids.reserveCapacity(values.count)
        for (token, value) in zip(tokens, values) {
            guard case .int(let n) = value, n >= 0, n <= Int(Int32.max) else {
                throw TokenizerError.wrongType(path: vocabNode.childPath(token), expected: "an integer id")
            }
            ids.append(Int32(n))
        }
        let mergesNode = try node.required("merges")
        guard case .array(let list) = mergesNode.value else {
            throw TokenizerError.wrongType(path: mergesNode.path, expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            switch item {
            case .string(let line):
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(
                        path: "\(mergesNode.path)[\(i)]", reason: "expected \"left right\", got \"\(line)\"")
                }
                merges.append((String(parts[0]), String(parts[1])))
            case .array(let pair):
                guard pair.count == 2, case .string(let a) = pair[0], case .string(let b) = pair[1] else {
                    throw TokenizerError.wrongType(
                        path: "\(mergesNode.path)[\(i)]", expected: "a pair of token strings")
                }
                merges.append((a, b))
            default:
                throw TokenizerError.wrongType(path: "\(mergesNode.path)[\(i)]", expected: "a pair of token strings")
            }
        }
        return try BPEModel(
            tokens: tokens, ids: ids, merges: merges, byteLevel: byteLevel,
            ignoreMerges: try node["ignore_merges"].bool(default: false),
            byteFallback: try node["byte_fallback"].bool(default: false), unkToken: node["unk_token"].stringValue,
            fuseUnk: try node["fuse_unk"].bool(default: false), path: node.path)
    }
}
