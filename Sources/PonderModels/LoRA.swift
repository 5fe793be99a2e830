import Foundation
import OrderedCollections
import Torch

/// Low-rank adapters (Hu et al. 2021) on chosen projections of a `CausalLM`, stored and named as PEFT stores them.
///
/// A projection `y = W x` becomes `y = W x + (α / r) · B A dropout(x)` with `A` (r × in), initialised as PEFT does
/// (Kaiming-uniform, bound 1/√in) and `B` (out × r) zero, so a fresh adapter changes nothing. The base weights stay
/// frozen; only `A` and `B` train. Dropout acts only while gradients are recorded (training forward passes), never in
/// generation. Saved as `adapter_config.json` + `adapter_model.safetensors` with PEFT's keys
/// (`base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight`), so `peft` loads them; `merge()` folds them
/// into the base.
public final class LoRA: @unchecked Sendable {
    /// Adapter settings, named as PEFT's `LoraConfig`.
    public struct Settings: Sendable, Hashable {
        /// The rank.
        public var r: Int
        /// The scale numerator: updates are scaled by `alpha / r`.
        public var alpha: Double
        /// Dropout on the adapter's input while training.
        public var dropout: Double
        /// Projections to adapt, by PEFT name: `q_proj`, `k_proj`, `v_proj`, `o_proj`, `gate_proj`, `up_proj`,
        /// `down_proj`.
        public var targetModules: [String]

        public init(r: Int = 8, alpha: Double = 16, dropout: Double = 0, targetModules: [String] = ["q_proj", "k_proj", "v_proj", "o_proj"]) {
            self.r = r
            self.alpha = alpha
            self.dropout = dropout
            self.targetModules = targetModules
        }

        /// The projections these settings name; throws naming an unknown module or a bad value.
        func parameters() throws -> [LayerParameter] {
            guard r >= 1 else { throw LoRAError.invalid("r = \(r): the rank must be at least 1") }
            guard alpha > 0 else { throw LoRAError.invalid("alpha = \(alpha) must be positive") }
            guard (0..<1).contains(dropout) else { throw LoRAError.invalid("dropout = \(dropout) must be in [0, 1)") }
            guard !targetModules.isEmpty else { throw LoRAError.invalid("target modules: name at least one projection") }
            return try targetModules.map { name in
                guard let p = LayerParameter.adaptable.first(where: { $0.moduleName == name }) else {
                    throw LoRAError.invalid(
                        "target module \"\(name)\" is not a projection of this model (known: \(LayerParameter.adaptable.map(\.moduleName).joined(separator: ", ")))"
                    )
                }
                return p
            }
        }
    }

    public let settings: Settings
    /// The adapter tensors by PEFT key.
    public let store: ParameterStore
    /// What `adapter_config.json` names as the base model.
    public var baseModel: String
    let scale: Double
    /// Per layer: the adapted projections' (A, B).
    private(set) var pairs: [[LayerParameter: (a: Tensor, b: Tensor)]]

    /// Fresh adapters for `configuration` (A Kaiming-uniform from `seed`, B zero), in `dtype`.
    public convenience init(settings: Settings, configuration: ModelConfiguration, dtype: DType, seed: UInt64, baseModel: String = "")
        throws
    {
        let targets = try settings.parameters()
        let g = RandomGenerator(seed: seed)
        let store = ParameterStore()
        for i in 0..<configuration.layerCount {
            for p in targets {
                guard let shape = p.shape(configuration) else { continue }
                let (out, fanIn) = (shape[0], shape[1])
                let bound = 1 / Double(fanIn).squareRoot()
                store[Self.key(layer: i, p, "A")] = ((Tensor.rand([settings.r, fanIn], generator: g) * 2 - 1) * bound).to(dtype)
                store[Self.key(layer: i, p, "B")] = Tensor.zeros([out, settings.r]).to(dtype)
            }
        }
        try self.init(settings: settings, store: store, configuration: configuration, baseModel: baseModel)
    }

    /// Adapters over existing tensors; every adapted projection needs both matrices with the right shapes.
    init(settings: Settings, store: ParameterStore, configuration: ModelConfiguration, baseModel: String, path: String = "<memory>") throws {
        let targets = try settings.parameters()
        self.settings = settings
        self.store = store
        self.baseModel = baseModel
        scale = settings.alpha / Double(settings.r)
        var pairs: [[LayerParameter: (a: Tensor, b: Tensor)]] = []
        var expected = Set<String>()
        for i in 0..<configuration.layerCount {
            var layer: [LayerParameter: (a: Tensor, b: Tensor)] = [:]
            for p in targets {
                guard let shape = p.shape(configuration) else { continue }
                let (ka, kb) = (Self.key(layer: i, p, "A"), Self.key(layer: i, p, "B"))
                expected.formUnion([ka, kb])
                guard let a = store[ka] else { throw ModelError.missingWeight(path: path, key: ka) }
                guard let b = store[kb] else { throw ModelError.missingWeight(path: path, key: kb) }
                guard a.shape == [settings.r, shape[1]] else {
                    throw ModelError.weightShape(path: path, key: ka, expected: [settings.r, shape[1]], found: a.shape)
                }
                guard b.shape == [shape[0], settings.r] else {
                    throw ModelError.weightShape(path: path, key: kb, expected: [shape[0], settings.r], found: b.shape)
                }
                layer[p] = (a, b)
            }
            pairs.append(layer)
        }
        let extra = store.keys.filter { !expected.contains($0) }
        guard extra.isEmpty else { throw ModelError.unexpectedWeights(path: path, keys: extra) }
        self.pairs = pairs
    }

    /// PEFT's key of one adapter matrix.
    static func key(layer: Int, _ p: LayerParameter, _ matrix: String) -> String {
        "base_model.model." + ModelKey.layer(layer) + p.key.replacingOccurrences(of: ".weight", with: ".lora_\(matrix).weight")
    }

    /// The adapter's contribution to projection `p` of layer `i` for input `x`, or `nil` when it is not adapted.
    func delta(_ x: Tensor, layer i: Int, _ p: LayerParameter) -> Tensor? {
        guard let (a, b) = pairs[i][p] else { return nil }
        let input = settings.dropout > 0 && Torch.isGradEnabled ? x.dropout(settings.dropout, training: true) : x
        return linear(linear(input, weight: a), weight: b) * scale
    }

    /// The update `(α / r) · B A` of projection `p` in layer `i`.
    func update(layer i: Int, _ p: LayerParameter) -> Tensor? {
        guard let (a, b) = pairs[i][p] else { return nil }
        return withNoGrad { b.to(.float32).matmul(a.to(.float32)) * scale }
    }

    // MARK: PEFT files

    /// Writes `adapter_config.json` and `adapter_model.safetensors` into `directory` (PEFT's layout).
    public func save(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": settings.r, "lora_alpha": settings.alpha, "lora_dropout": settings.dropout,
            "target_modules": settings.targetModules, "bias": "none", "fan_in_fan_out": false, "base_model_name_or_path": baseModel,
            "inference_mode": true, "use_rslora": false, "use_dora": false, "init_lora_weights": true, "modules_to_save": NSNull(),
            "layers_to_transform": NSNull(), "layers_pattern": NSNull(), "rank_pattern": [String: Int](),
            "alpha_pattern": [String: Double](), "revision": NSNull(),
        ]
        let data = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: directory.appendingPathComponent("adapter_config.json"), options: .atomic)
        try Safetensors.write(
            store.tensors.mapValues { $0.detached().contiguous() }, metadata: ["format": "pt"],
            to: directory.appendingPathComponent("adapter_model.safetensors"))
    }

    /// Reads PEFT adapters for a model of `configuration`, in `dtype`. Errors name the file and the field or key.
    public static func load(_ directory: URL, configuration: ModelConfiguration, dtype: DType) throws -> LoRA {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let data = FileManager.default.contents(atPath: configURL.path) else { throw ModelError.missingFile(configURL.path) }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ModelError.unreadable(path: configURL.path, reason: "not a JSON object")
        }
        if let type = object["peft_type"] as? String, type != "LORA" {
            throw ModelError.invalidField(path: configURL.path, field: "peft_type", reason: "is \(type); only LORA adapters are supported")
        }
        guard let r = (object["r"] as? NSNumber)?.intValue else { throw ModelError.missingField(path: configURL.path, field: "r") }
        guard let alpha = (object["lora_alpha"] as? NSNumber)?.doubleValue else {
            throw ModelError.missingField(path: configURL.path, field: "lora_alpha")
        }
        let targets: [String]
        if let list = object["target_modules"] as? [String] {
            targets = list
        } else if let one = object["target_modules"] as? String {
            targets = one == "all-linear" ? LayerParameter.adaptable.map(\.moduleName) : [one]
        } else {
            throw ModelError.missingField(path: configURL.path, field: "target_modules")
        }
        for (field, bad) in [("use_dora", true), ("use_rslora", true), ("fan_in_fan_out", true)] where object[field] as? Bool == bad {
            throw ModelError.invalidField(path: configURL.path, field: field, reason: "is true; Ponder's adapters support plain LoRA only")
        }
        if let bias = object["bias"] as? String, bias != "none" {
            throw ModelError.invalidField(path: configURL.path, field: "bias", reason: "is \"\(bias)\"; only \"none\" is supported")
        }
        let settings = Settings(r: r, alpha: alpha, dropout: (object["lora_dropout"] as? NSNumber)?.doubleValue ?? 0, targetModules: targets)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        let tensors = try Safetensors.read(weightsURL)
        let store = ParameterStore()
        // PEFT writes the adapter name into keys only for non-default adapters; accept `.default.` too.
        for (k, v) in tensors { store[k.replacingOccurrences(of: ".default.weight", with: ".weight")] = v.to(dtype) }
        return try LoRA(
            settings: settings, store: store, configuration: configuration, baseModel: object["base_model_name_or_path"] as? String ?? "",
            path: weightsURL.path)
    }
}

/// A problem with LoRA settings.
public enum LoRAError: Error, LocalizedError, Equatable {
    case invalid(String)

    public var errorDescription: String? {
        switch self {
        case .invalid(let m): "LoRA: \(m)"
        }
    }
}

extension LayerParameter {
    /// The projections adapters can attach to.
    static let adaptable: [LayerParameter] = [.q, .k, .v, .o, .gate, .up, .down]

    /// PEFT's module name (`q_proj`, `gate_proj`...).
    var moduleName: String { String(key.split(separator: ".")[1]) }
}

extension CausalLM {
    /// Attaches `lora` (its matrices must fit this model).
    public func attach(_ lora: LoRA) { adapters = lora }

    /// Fresh adapters with `settings`, attached; returns them.
    @discardableResult
    public func addAdapters(_ settings: LoRA.Settings, seed: UInt64 = 0, baseModel: String = "") throws -> LoRA {
        let lora = try LoRA(settings: settings, configuration: configuration, dtype: dtype, seed: seed, baseModel: baseModel)
        adapters = lora
        return lora
    }

    /// Adds each adapter's `(α / r) · B A` to its base weight, in place, and detaches the adapters: the model then
    /// computes what it computed with them, with no adapter cost.
    public func mergeAdapters() {
        guard let lora = adapters else { return }
        withNoGrad {
            for i in 0..<configuration.layerCount {
                for p in LayerParameter.adaptable {
                    guard let update = lora.update(layer: i, p), let w = parameters[ModelKey.layer(i) + p.key] else { continue }
                    w.copy_(w.to(.float32) + update)
                }
            }
        }
        adapters = nil
    }

    /// What an optimizer trains: the adapters when attached (the base frozen), else every weight. Marks them as
    /// requiring gradients.
    public func prepareForTraining() -> OrderedDictionary<String, Tensor> {
        if let adapters {
            parameters.setRequiresGrad(false)
            adapters.store.setRequiresGrad(true)
            return adapters.store.trainable
        }
        parameters.setRequiresGrad(true)
        return parameters.trainable
    }

    /// Runs `body` with the adapters switched off (the base model: GRPO's reference without a second copy).
    public func withoutAdapters<R>(_ body: () throws -> R) rethrows -> R {
        let saved = adapters
        adapters = nil
        defer { adapters = saved }
        return try body()
    }
}
