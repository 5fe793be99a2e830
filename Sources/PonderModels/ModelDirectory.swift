import Foundation
import OrderedCollections
import Torch

/// Reading and writing models in the Hugging Face directory layout: `config.json`, `model.safetensors` (or shards
/// listed in `model.safetensors.index.json`), `generation_config.json`, and the tokenizer files beside them.
public enum ModelDirectory {
    /// The configuration in `directory/config.json`.
    public static func configuration(at directory: URL) throws -> ModelConfiguration {
        try ModelConfiguration(contentsOf: directory.appendingPathComponent("config.json"))
    }

    /// Loads the model in `directory`, computing in `dtype` (default: the dtype the weights were saved in).
    public static func load(_ directory: URL, dtype: DType? = nil) throws -> CausalLM {
        let configuration = try configuration(at: directory)
        let store = ParameterStore(try weights(in: directory))
        return try CausalLM(configuration: configuration, parameters: store, dtype: dtype, path: directory.path)
    }

    /// Every weight tensor in the directory, from one file or from the shards its index lists.
    public static func weights(in directory: URL) throws -> OrderedDictionary<String, Tensor> {
        let single = directory.appendingPathComponent("model.safetensors")
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if FileManager.default.fileExists(atPath: single.path) { return try Safetensors.read(single) }
        guard FileManager.default.fileExists(atPath: index.path) else { throw ModelError.missingFile(single.path) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any],
            let map = object["weight_map"] as? [String: String]
        else { throw ModelError.invalidField(path: index.path, field: "weight_map", reason: "must be an object of key → shard file name") }
        var out = OrderedDictionary<String, Tensor>()
        for shard in Set(map.values).sorted() {
            let file = try SafetensorsFile(url: directory.appendingPathComponent(shard))
            for key in file.entries.keys where map[key] == shard { out[key] = try file.tensor(key) }
        }
        if let missing = map.keys.sorted().first(where: { out[$0] == nil }) {
            throw ModelError.missingWeight(path: index.path, key: missing)
        }
        return out
    }

    /// Writes `model` to `directory` (created if needed): config.json, model.safetensors (in `dtype`, default the
    /// model's), generation_config.json, and copies of `tokenizerFiles`. Each file is written atomically.
    public static func save(
        _ model: CausalLM, to directory: URL, dtype: DType? = nil, generationConfig: [String: Any]? = nil, tokenizerFiles: [URL] = []
    ) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let saveType = dtype ?? model.dtype
        var config = model.configuration
        config.savedDType = saveType.description
        try writeJSON(config.jsonObject(), to: directory.appendingPathComponent("config.json"))
        var generation = generationConfig ?? [:]
        if generation["bos_token_id"] == nil, let bos = config.bosTokenId { generation["bos_token_id"] = bos }
        if generation["eos_token_id"] == nil, !config.eosTokenIds.isEmpty {
            generation["eos_token_id"] = config.eosTokenIds.count == 1 ? config.eosTokenIds[0] as Any : config.eosTokenIds as Any
        }
        try writeJSON(generation, to: directory.appendingPathComponent("generation_config.json"))
        let tensors = model.parameters.tensors.mapValues { $0.detached().to(saveType).contiguous() }
        try Safetensors.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        for file in tokenizerFiles where file.deletingLastPathComponent().standardizedFileURL != directory.standardizedFileURL {
            let data = try Data(contentsOf: file)
            try data.write(to: directory.appendingPathComponent(file.lastPathComponent), options: .atomic)
        }
    }

    /// Reads `generation_config.json` if present (empty otherwise).
    public static func generationConfig(at directory: URL) throws -> [String: Any] {
        let url = directory.appendingPathComponent("generation_config.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        guard let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any] else {
            throw ModelError.unreadable(path: url.path, reason: "not a JSON object")
        }
        return object
    }

    static func writeJSON(_ object: [String: Any], to url: URL) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: url, options: .atomic)
    }
}
