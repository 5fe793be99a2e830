import Foundation

extension Tokenizer {
    /// Parses the contents of a `tokenizer.json`. `source` names the file in errors.
    ///
    /// Throws `TokenizerError` naming the JSON path of any missing, mistyped or unsupported part.
    public init(tokenizerJSON data: Data, source: String = "tokenizer.json") throws {
        let root = try JSONNode.parse(data, file: source)
        _ = try root.object()
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
        let type = (node["type"].value as? String) ?? (node["merges"].isNull ? "unknown" : "BPE")
        guard type == "BPE" else { throw TokenizerError.unsupportedComponent(type: type, path: node.childPath("type")) }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = node[key].value as? String, !s.isEmpty {
                throw TokenizerError.invalidValue(path: node.childPath(key), reason: "BPE affixes are not supported")
            }
        }
        if let dropout = node["dropout"].value as? NSNumber, dropout.doubleValue > 0 {
            throw TokenizerError.invalidValue(path: node.childPath("dropout"), reason: "BPE dropout is not supported")
        }
        let vocabNode = try node.required("vocab")
        var vocab: [String: Int32] = [:]
        let object = try vocabNode.object()
        vocab.reserveCapacity(object.count)
        for (token, value) in object {
            guard let n = value as? NSNumber else {
                throw TokenizerError.wrongType(path: vocabNode.childPath(token), expected: "an integer id")
            }
            vocab[token] = Int32(truncatingIfNeeded: n.intValue)
        }
        let mergesNode = try node.required("merges")
        guard let list = mergesNode.value as? [Any] else {
            throw TokenizerError.wrongType(path: mergesNode.path, expected: "an array")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            if let line = item as? String {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else {
                    throw TokenizerError.invalidValue(
                        path: "\(mergesNode.path)[\(i)]", reason: "expected \"left right\", got \"\(line)\"")
                }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = item as? [Any], pair.count == 2, let a = pair[0] as? String, let b = pair[1] as? String
            {
                merges.append((a, b))
            } else {
                throw TokenizerError.wrongType(path: "\(mergesNode.path)[\(i)]", expected: "a pair of token strings")
            }
        }
        return try BPEModel(
            vocab: vocab, merges: merges, byteLevel: byteLevel,
            ignoreMerges: try node["ignore_merges"].bool(default: false),
            byteFallback: try node["byte_fallback"].bool(default: false), unkToken: node["unk_token"].value as? String,
            fuseUnk: try node["fuse_unk"].bool(default: false), path: node.path)
    }
}
