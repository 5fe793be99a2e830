import Torch

extension ModelConfiguration {
    /// Every parameter the model needs, by checkpoint key, with its shape. Keys equal Hugging Face's, so loading a
    /// checkpoint is a dictionary update. The families differ only in q/k/v biases (qwen2) and q/k norms (qwen3).
    public var parameterShapes: [(key: String, shape: [Int])] {
        let q = headCount * headDimension
        let kv = keyValueHeadCount * headDimension
        var out: [(String, [Int])] = [("model.embed_tokens.weight", [vocabularySize, hiddenSize])]
        for i in 0..<layerCount {
            let p = "model.layers.\(i)."
            out.append((p + "input_layernorm.weight", [hiddenSize]))
            out.append((p + "self_attn.q_proj.weight", [q, hiddenSize]))
            out.append((p + "self_attn.k_proj.weight", [kv, hiddenSize]))
            out.append((p + "self_attn.v_proj.weight", [kv, hiddenSize]))
            if attentionBias {
                out.append((p + "self_attn.q_proj.bias", [q]))
                out.append((p + "self_attn.k_proj.bias", [kv]))
                out.append((p + "self_attn.v_proj.bias", [kv]))
            }
            if queryKeyNorm {
                out.append((p + "self_attn.q_norm.weight", [headDimension]))
                out.append((p + "self_attn.k_norm.weight", [headDimension]))
            }
            out.append((p + "self_attn.o_proj.weight", [hiddenSize, q]))
            out.append((p + "post_attention_layernorm.weight", [hiddenSize]))
            out.append((p + "mlp.gate_proj.weight", [intermediateSize, hiddenSize]))
            out.append((p + "mlp.up_proj.weight", [intermediateSize, hiddenSize]))
            out.append((p + "mlp.down_proj.weight", [hiddenSize, intermediateSize]))
        }
        out.append(("model.norm.weight", [hiddenSize]))
        if !tieWordEmbeddings { out.append(("lm_head.weight", [vocabularySize, hiddenSize])) }
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
