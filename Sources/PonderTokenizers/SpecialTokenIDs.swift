import Foundation

/// The ids a model uses to begin, end and pad sequences, read from a Hugging Face model directory.
public struct SpecialTokenIDs: Sendable, Hashable {
    /// Beginning-of-sequence id, if the model has one.
    public var bos: Int?
    /// Every id that ends generation, most authoritative first (tokenizer_config's `eos_token`, then
    /// generation_config's and config's `eos_token_id`, which may be lists). Empty when none is known.
    public var eos: [Int]
    /// Padding id, if any.
    public var pad: Int?

    /// Makes a set of ids.
    public init(bos: Int? = nil, eos: [Int] = [], pad: Int? = nil) {
        self.bos = bos
        self.eos = eos
        self.pad = pad
    }

    /// Reads `tokenizer_config.json` (token strings, resolved with `tokenizer`), `generation_config.json` and
    /// `config.json` (ids) from `directory`; missing files are skipped, malformed ones throw naming the file.
    static func read(directory: URL, tokenizer: Tokenizer) throws -> SpecialTokenIDs {
        var result = SpecialTokenIDs()
        var eos: [Int] = []
        let tokenizerConfig = try readJSON(directory.appendingPathComponent("tokenizer_config.json"))
        let generation = try readJSON(directory.appendingPathComponent("generation_config.json"))
        let config = try readJSON(directory.appendingPathComponent("config.json"))

        func tokenID(_ key: String) -> Int? {
            guard let node = tokenizerConfig?[key], !node.isNull else { return nil }
            let content = node.stringValue ?? node["content"].stringValue
            return content.flatMap { tokenizer.id(for: $0) }
        }
        func ids(_ file: JSONNode?, _ key: String) -> [Int] {
            guard let node = file?[key], !node.isNull else { return [] }
            if let list = try? node.array() { return list.compactMap(\.intValue) }
            return node.intValue.map { [$0] } ?? []
        }
        result.bos = tokenID("bos_token") ?? ids(generation, "bos_token_id").first ?? ids(config, "bos_token_id").first
        if let id = tokenID("eos_token") { eos.append(id) }
        eos += ids(generation, "eos_token_id") + ids(config, "eos_token_id")
        var seen = Set<Int>()
        result.eos = eos.filter { seen.insert($0).inserted }
        result.pad = tokenID("pad_token") ?? ids(generation, "pad_token_id").first ?? ids(config, "pad_token_id").first
        return result
    }
}

/// Parses a JSON file, or returns `nil` when it does not exist.
func readJSON(_ url: URL) throws -> JSONNode? {
    guard FileManager.default.fileExists(atPath: url.path) else { return nil }
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw TokenizerError.unreadableFile(path: url.path, reason: error.localizedDescription)
    }
    return try JSONNode.parse(data, file: url.lastPathComponent)
}
