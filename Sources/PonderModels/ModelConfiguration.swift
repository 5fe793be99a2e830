import Foundation

/// The transformer families Ponder runs, by `config.json`'s `model_type`.
public enum ModelFamily: String, Sendable, CaseIterable, Codable {
    case llama, qwen2, qwen3
}

/// RoPE frequency scaling (`rope_scaling` / `rope_parameters` in config.json).
public enum RopeScaling: Sendable, Equatable {
    /// Plain RoPE.
    case none
    /// Llama 3.1's piecewise scaling of long wavelengths.
    case llama3(factor: Double, lowFrequencyFactor: Double, highFrequencyFactor: Double, originalContextLength: Int)
    /// Position interpolation: positions divided by `factor`.
    case linear(factor: Double)
}

/// A decoder-only transformer's shape, read from a Hugging Face `config.json`.
///
/// Both the classic layout (`rope_theta`, `rope_scaling`) and the newer `rope_parameters` are read. Unknown
/// keys are kept and written back unchanged by `save`, so a checkpoint round-trips.
public struct ModelConfiguration: Sendable, Equatable {
    public var family: ModelFamily
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var keyValueHeadCount: Int
    public var headDimension: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// Whether q/k/v projections have biases (always for qwen2; `attention_bias` otherwise).
    public var attentionBias: Bool
    /// Whether queries and keys are RMS-normalised per head before RoPE (qwen3).
    public var queryKeyNorm: Bool
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    /// The dtype the weights were saved in (`torch_dtype` / `dtype`), if stated.
    public var savedDType: String?
    /// What reads the final hidden states: a language-model head, or a reward model's classifier (`architectures`).
    public var head: ModelHead = .languageModel
    /// The padding token (`pad_token_id`): a sequence classifier reads each row at its last token that is not this.
    public var padTokenId: Int?
    /// Classifier label names by index (`id2label`); `nil` writes transformers' `LABEL_i`.
    public var labelNames: [String]?
    /// The file's bytes, so `jsonObject()` can write back keys Ponder does not model.
    var rawJSON: Data?

    public static func == (a: ModelConfiguration, b: ModelConfiguration) -> Bool {
        a.family == b.family && a.vocabularySize == b.vocabularySize && a.hiddenSize == b.hiddenSize
            && a.intermediateSize == b.intermediateSize && a.layerCount == b.layerCount && a.headCount == b.headCount
            && a.keyValueHeadCount == b.keyValueHeadCount && a.headDimension == b.headDimension && a.rmsNormEps == b.rmsNormEps
            && a.ropeTheta == b.ropeTheta && a.ropeScaling == b.ropeScaling && a.maxPositionEmbeddings == b.maxPositionEmbeddings
            && a.tieWordEmbeddings == b.tieWordEmbeddings && a.attentionBias == b.attentionBias && a.queryKeyNorm == b.queryKeyNorm
            && a.bosTokenId == b.bosTokenId && a.eosTokenIds == b.eosTokenIds && a.head == b.head && a.padTokenId == b.padTokenId
    }

    /// A configuration built in code (for models Ponder creates and pretrains).
    public init(
        family: ModelFamily, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int,
        keyValueHeadCount: Int? = nil, headDimension: Int? = nil, rmsNormEps: Double = 1e-6, ropeTheta: Double = 10_000,
        ropeScaling: RopeScaling = .none, maxPositionEmbeddings: Int = 2048, tieWordEmbeddings: Bool = true,
        bosTokenId: Int? = nil, eosTokenIds: [Int] = []
    ) {
        self.family = family
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.keyValueHeadCount = keyValueHeadCount ?? headCount
        self.headDimension = headDimension ?? hiddenSize / headCount
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = family == .qwen2
        self.queryKeyNorm = family == .qwen3
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.savedDType = "float32"
    }

    /// Reads `config.json` at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ModelError.missingFile(url.path) }
        try self.init(json: data, path: url.path)
    }

    /// Parses config.json bytes; `path` names the file in errors.
    public init(json data: Data, path: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: data), let dict = object as? [String: Any] else {
            throw ModelError.unreadable(path: path, reason: "not a JSON object")
        }
        let r = FieldReader(dict: dict, path: path)
        let type: String = try r.required("model_type")
        guard let family = ModelFamily(rawValue: type) else { throw ModelError.unsupportedModelType(path: path, modelType: type) }
        self.family = family
        self.rawJSON = data
        vocabularySize = try r.positive("vocab_size")
        hiddenSize = try r.positive("hidden_size")
        intermediateSize = try r.positive("intermediate_size")
        layerCount = try r.positive("num_hidden_layers")
        headCount = try r.positive("num_attention_heads")
        keyValueHeadCount = try r.positive("num_key_value_heads", default: headCount)
        guard headCount % keyValueHeadCount == 0 else {
            throw ModelError.invalidField(
                path: path, field: "num_key_value_heads", reason: "= \(keyValueHeadCount) must divide num_attention_heads = \(headCount)")
        }
        headDimension = try r.positive("head_dim", default: hiddenSize / headCount)
        guard headDimension % 2 == 0 else {
            throw ModelError.invalidField(path: path, field: "head_dim", reason: "= \(headDimension) must be even for RoPE")
        }
        rmsNormEps = try r.optional("rms_norm_eps") ?? 1e-6
        maxPositionEmbeddings = try r.positive("max_position_embeddings", default: 2048)
        tieWordEmbeddings = try r.optional("tie_word_embeddings") ?? false
        let bias: Bool? = try r.optional("attention_bias")
        attentionBias = family == .qwen2 ? true : (bias ?? false)
        queryKeyNorm = family == .qwen3
        if let act: String = try r.optional("hidden_act"), act != "silu" {
            throw ModelError.invalidField(path: path, field: "hidden_act", reason: "is \"\(act)\"; only \"silu\" (SwiGLU) is supported")
        }
        if let sliding: Bool = try r.optional("use_sliding_window"), sliding {
            throw ModelError.invalidField(
                path: path, field: "use_sliding_window", reason: "is true; sliding-window attention is not supported")
        }
        bosTokenId = try r.optional("bos_token_id")
        eosTokenIds = try r.intOrList("eos_token_id")
        padTokenId = try r.optional("pad_token_id")
        head = try ModelHead.read(r)
        if let id2label: [String: Any] = try r.optional("id2label"), head.labelCount == id2label.count {
            labelNames = (0..<id2label.count).map { id2label[String($0)] as? String ?? "LABEL_\($0)" }
        }
        let torchDType: String? = try r.optional("torch_dtype")
        let dtypeName: String? = try r.optional("dtype")
        savedDType = torchDType ?? dtypeName
        // RoPE: `rope_parameters` (newer files) or `rope_theta` + `rope_scaling` (classic files).
        let ropeParameters: [String: Any]? = try r.optional("rope_parameters")
        let classicScaling: [String: Any]? = try r.optional("rope_scaling")
        let scalingDict = ropeParameters ?? classicScaling
        let scalingField = ropeParameters != nil ? "rope_parameters" : "rope_scaling"
        let classicTheta: Double? = try r.optional("rope_theta")
        ropeTheta = (ropeParameters?["rope_theta"] as? NSNumber)?.doubleValue ?? classicTheta ?? 10_000
        ropeScaling = try Self.scaling(scalingDict, field: scalingField, path: path)
    }

    private static func scaling(_ dict: [String: Any]?, field: String, path: String) throws -> RopeScaling {
        guard let dict else { return .none }
        let r = FieldReader(dict: dict, path: path, prefix: field + ".")
        let ropeType: String? = try r.optional("rope_type")
        let legacyType: String? = try r.optional("type")
        let type = ropeType ?? legacyType ?? "default"
        switch type {
        case "default": return .none
        case "linear": return .linear(factor: try r.required("factor"))
        case "llama3":
            return .llama3(
                factor: try r.required("factor"), lowFrequencyFactor: try r.required("low_freq_factor"),
                highFrequencyFactor: try r.required("high_freq_factor"),
                originalContextLength: try r.required("original_max_position_embeddings"))
        default:
            throw ModelError.invalidField(
                path: path, field: "\(field).rope_type", reason: "is \"\(type)\"; supported: default, linear, llama3")
        }
    }

    /// The configuration as config.json content: the original keys, with Ponder's typed fields written over them.
    public func jsonObject() -> [String: Any] {
        var d = rawJSON.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        d["model_type"] = family.rawValue
        d["architectures"] = [["llama": "Llama", "qwen2": "Qwen2", "qwen3": "Qwen3"][family.rawValue]! + head.architectureSuffix]
        if let padTokenId { d["pad_token_id"] = padTokenId }
        if let labels = head.labelCount {
            for key in ["num_labels", "id2label", "label2id", "token_classification_bias"] { d.removeValue(forKey: key) }
            let names = labelNames ?? (0..<labels).map { "LABEL_\($0)" }
            d["id2label"] = Dictionary(uniqueKeysWithValues: names.enumerated().map { (String($0.offset), $0.element) })
            d["label2id"] = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($0.element, $0.offset) })
            d["num_labels"] = labels
            if case .tokenClassification(_, false) = head { d["token_classification_bias"] = false }
        }
        d["vocab_size"] = vocabularySize
        d["hidden_size"] = hiddenSize
        d["intermediate_size"] = intermediateSize
        d["num_hidden_layers"] = layerCount
        d["num_attention_heads"] = headCount
        d["num_key_value_heads"] = keyValueHeadCount
        d["head_dim"] = headDimension
        d["rms_norm_eps"] = rmsNormEps
        d["max_position_embeddings"] = maxPositionEmbeddings
        d["tie_word_embeddings"] = tieWordEmbeddings
        d["hidden_act"] = "silu"
        if family != .qwen2 { d["attention_bias"] = attentionBias }
        if let bosTokenId { d["bos_token_id"] = bosTokenId }
        if !eosTokenIds.isEmpty { d["eos_token_id"] = eosTokenIds.count == 1 ? eosTokenIds[0] as Any : eosTokenIds as Any }
        d["torch_dtype"] = savedDType ?? "float32"
        d.removeValue(forKey: "dtype")
        d.removeValue(forKey: "rope_parameters")
        d["rope_theta"] = ropeTheta
        switch ropeScaling {
        case .none: d["rope_scaling"] = NSNull()
        case .linear(let f): d["rope_scaling"] = ["rope_type": "linear", "factor": f]
        case .llama3(let f, let lo, let hi, let orig):
            d["rope_scaling"] = [
                "rope_type": "llama3", "factor": f, "low_freq_factor": lo, "high_freq_factor": hi, "original_max_position_embeddings": orig,
            ]
        }
        return d
    }
}

/// Reads typed fields from a JSON object, with errors naming the file and the field.
struct FieldReader {
    let dict: [String: Any]
    let path: String
    var prefix = ""

    func optional<T>(_ key: String) throws -> T? {
        guard let value = dict[key], !(value is NSNull) else { return nil }
        if let v = value as? T { return v }
        if T.self == Int.self, let n = value as? NSNumber, let i = Int(exactly: n.doubleValue) { return (i as! T) }
        if T.self == Double.self, let n = value as? NSNumber { return (n.doubleValue as! T) }
        throw ModelError.invalidField(path: path, field: prefix + key, reason: "has value \(value), expected \(T.self)")
    }

    func required<T>(_ key: String) throws -> T {
        guard let v: T = try optional(key) else { throw ModelError.missingField(path: path, field: prefix + key) }
        return v
    }

    func positive(_ key: String, default fallback: Int? = nil) throws -> Int {
        let v: Int? = try optional(key)
        guard let value = v ?? fallback else { throw ModelError.missingField(path: path, field: prefix + key) }
        guard value > 0 else { throw ModelError.invalidField(path: path, field: prefix + key, reason: "= \(value) must be positive") }
        return value
    }

    func intOrList(_ key: String) throws -> [Int] {
        if let one: Int = try? optional(key) { return [one] }
        if let many = dict[key] as? [Any] {
            return try many.map {
                guard let n = $0 as? NSNumber, let i = Int(exactly: n.doubleValue) else {
                    throw ModelError.invalidField(path: path, field: prefix + key, reason: "must be an integer or a list of integers")
                }
                return i
            }
        }
        guard dict[key] == nil || dict[key] is NSNull else {
            throw ModelError.invalidField(path: path, field: prefix + key, reason: "must be an integer or a list of integers")
        }
        return []
    }
}
