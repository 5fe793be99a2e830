import Torch

/// Checkpoint keys of the parameters outside the decoder layers, as Hugging Face names them.
enum ModelKey {
    static let embedding = "model.embed_tokens.weight"
    static let finalNorm = "model.norm.weight"
    static let head = "lm_head.weight"
    /// The prefix of layer `i`'s keys.
    static func layer(_ i: Int) -> String { "model.layers.\(i)." }
}

/// One parameter of a decoder layer, declared once: its checkpoint key (after `model.layers.N.`) and its shape.
/// Loading, saving, initialisation and the forward pass all go through this table. Case order is the order
/// parameters are initialised in (it fixes the random stream of a fresh model).
enum LayerParameter: Int, CaseIterable {
    case inputNorm, q, k, v, qBias, kBias, vBias, qNorm, kNorm, o, postNorm, gate, up, down

    var key: String {
        switch self {
        case .inputNorm: "input_layernorm.weight"
        case .q: "self_attn.q_proj.weight"
        case .k: "self_attn.k_proj.weight"
        case .v: "self_attn.v_proj.weight"
        case .qBias: "self_attn.q_proj.bias"
        case .kBias: "self_attn.k_proj.bias"
        case .vBias: "self_attn.v_proj.bias"
        case .qNorm: "self_attn.q_norm.weight"
        case .kNorm: "self_attn.k_norm.weight"
        case .o: "self_attn.o_proj.weight"
        case .postNorm: "post_attention_layernorm.weight"
        case .gate: "mlp.gate_proj.weight"
        case .up: "mlp.up_proj.weight"
        case .down: "mlp.down_proj.weight"
        }
    }

    /// The shape under `c`, or `nil` when the family has no such parameter (q/k/v biases are qwen2's, q/k norms
    /// qwen3's).
    func shape(_ c: ModelConfiguration) -> [Int]? {
        let q = c.headCount * c.headDimension
        let kv = c.keyValueHeadCount * c.headDimension
        switch self {
        case .inputNorm, .postNorm: return [c.hiddenSize]
        case .q: return [q, c.hiddenSize]
        case .k, .v: return [kv, c.hiddenSize]
        case .qBias: return c.attentionBias ? [q] : nil
        case .kBias, .vBias: return c.attentionBias ? [kv] : nil
        case .qNorm, .kNorm: return c.queryKeyNorm ? [c.headDimension] : nil
        case .o: return [c.hiddenSize, q]
        case .gate, .up: return [c.intermediateSize, c.hiddenSize]
        case .down: return [c.hiddenSize, c.intermediateSize]
        }
    }
}

extension ModelConfiguration {
    /// Every parameter the model needs, by checkpoint key, with its shape. Keys equal Hugging Face's, so loading a
    /// checkpoint is a dictionary update. The families differ only in q/k/v biases (qwen2) and q/k norms (qwen3).
    public var parameterShapes: [(key: String, shape: [Int])] {
        var out: [(String, [Int])] = [(ModelKey.embedding, [vocabularySize, hiddenSize])]
        for i in 0..<layerCount {
            for p in LayerParameter.allCases { if let shape = p.shape(self) { out.append((ModelKey.layer(i) + p.key, shape)) } }
        }
        out.append((ModelKey.finalNorm, [hiddenSize]))
        switch head {
        case .languageModel: if !tieWordEmbeddings { out.append((ModelKey.head, [vocabularySize, hiddenSize])) }
        case .sequenceClassification(let labels): out.append((ModelKey.score, [labels, hiddenSize]))
        case .tokenClassification(let labels, let bias):
            out.append((ModelKey.score, [labels, hiddenSize]))
            if bias { out.append((ModelKey.scoreBias, [labels])) }
        }
        return out
    }

    /// Freshly initialised parameters: normal(0, 0.02) matrices (down and output projections scaled by
    /// 1/√(2·layers), as GPT-2 does), unit norm weights, zero biases.
    public func initialParameters(seed: UInt64, dtype: DType = .float32) -> ParameterStore {
        let g = RandomGenerator(seed: seed)
        let store = ParameterStore()
        let residualScale = 1 / (2 * Double(layerCount)).squareRoot()
        for (key, shape) in parameterShapes {
            let t: Tensor
            if key.hasSuffix("norm.weight") {
                t = Tensor.ones(shape)
            } else if key.hasSuffix(".bias") {
                t = Tensor.zeros(shape)
            } else {
                let scale = key.hasSuffix("o_proj.weight") || key.hasSuffix("down_proj.weight") ? 0.02 * residualScale : 0.02
                t = Tensor.randn(shape, generator: g) * scale
            }
            store[key] = t.to(dtype)
        }
        return store
    }
}
