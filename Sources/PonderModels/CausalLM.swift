import Foundation
import OrderedCollections
import Torch

/// A decoder-only transformer language model (Llama, Qwen2, Qwen3): pre-norm blocks of grouped-query attention
/// with RoPE and a SwiGLU MLP, RMSNorm, optionally tied input/output embeddings.
///
/// Weights live in `parameters` under their checkpoint keys; the model reads them from there on every forward, so
/// an optimizer updating them in place is seen at once.
public final class CausalLM: @unchecked Sendable {
    /// The shape of the network.
    public let configuration: ModelConfiguration
    /// The weights by checkpoint key.
    public let parameters: ParameterStore
    /// The dtype activations and weights are computed in.
    public private(set) var dtype: DType
    let rope: RotaryEmbedding
    private var layers: [LayerWeights] = []
    private var embed: Tensor
    private var finalNorm: Tensor
    private var head: Tensor
    private var headBias: Tensor?
    /// Low-rank adapters added to the projections, when attached (see ``LoRA``).
    public internal(set) var adapters: LoRA?
    /// Whether float32 decode steps of 4-64 rows run their projections and output head on weights packed once
    /// for MKL's GEMM (``PackedLinearWeight``; 1.3-2.6x faster GEMMs at those rows on this CPU kind) instead of
    /// letting MKL repack every weight on every call. The packed copies cost about the projection weights' bytes
    /// again; they are made on the first such step, remade when a weight has changed, and dropped by any forward
    /// pass that records gradients (training), so a trainer never holds them beside its own memory.
    public var packsDecodeWeights = true
    /// Most bytes the packed decode weights may take (default: `defaultMaxPackedBytes`). Weights past it run
    /// unpacked, so a model too large to pack whole is packed in part (the first layers), never out of memory.
    public var maxPackedBytes = CausalLM.defaultMaxPackedBytes
    /// `maxPackedBytes` of models made from now on: a quarter of physical memory; 0 turns packing off process-wide
    /// (a process that needs the memory more than the faster decode steps, e.g. LoRA training on a small machine).
    nonisolated(unsafe) public static var defaultMaxPackedBytes = Int(Swift.min(ProcessInfo.processInfo.physicalMemory / 4, UInt64(Int.max)))
    private var packs: [ObjectIdentifier: PackedLinearWeight] = [:]
    private var packedBytes = 0
    private let packLock = NSLock()

    /// One layer's tensors, read from the store through the ``LayerParameter`` table.
    struct LayerWeights {
        let inputNorm, q, k, v, o, postNorm, gate, up, down: Tensor
        let qBias, kBias, vBias, qNorm, kNorm: Tensor?

        init(_ tensor: (LayerParameter) -> Tensor?) {
            (inputNorm, q, k, v) = (tensor(.inputNorm)!, tensor(.q)!, tensor(.k)!, tensor(.v)!)
            (o, postNorm, gate, up, down) = (tensor(.o)!, tensor(.postNorm)!, tensor(.gate)!, tensor(.up)!, tensor(.down)!)
            (qBias, kBias, vBias, qNorm, kNorm) = (tensor(.qBias), tensor(.kBias), tensor(.vBias), tensor(.qNorm), tensor(.kNorm))
        }
    }

    /// A model over `parameters`, which must hold exactly `configuration.parameterShapes` (an error names the
    /// first missing, mis-shaped or unexpected key; `path` names their source).
    public init(configuration: ModelConfiguration, parameters: ParameterStore, dtype: DType? = nil, path: String = "<memory>") throws {
        self.configuration = configuration
        self.parameters = parameters
        let shapes = configuration.parameterShapes
        for (key, shape) in shapes {
            guard let t = parameters[key] else { throw ModelError.missingWeight(path: path, key: key) }
            guard t.shape == shape else { throw ModelError.weightShape(path: path, key: key, expected: shape, found: t.shape) }
        }
        let known = Set(shapes.map(\.key))
        // Some tied checkpoints still store the output head; a classifier has none.
        if configuration.tieWordEmbeddings || configuration.head != .languageModel { parameters[ModelKey.head] = nil }
        let extra = parameters.keys.filter { !known.contains($0) && !$0.hasSuffix("rotary_emb.inv_freq") }
        guard extra.isEmpty else { throw ModelError.unexpectedWeights(path: path, keys: extra) }
        let target = dtype ?? parameters[ModelKey.embedding]!.dtype
        self.dtype = target
        parameters.convert(to: target)
        rope = RotaryEmbedding(configuration: configuration)
        embed = parameters[ModelKey.embedding]!
        finalNorm = parameters[ModelKey.finalNorm]!
        head = embed
        bindWeights()
    }

    /// A freshly initialised model (see `ModelConfiguration.initialParameters`).
    public convenience init(configuration: ModelConfiguration, seed: UInt64, dtype: DType = .float32) throws {
        try self.init(configuration: configuration, parameters: configuration.initialParameters(seed: seed, dtype: dtype), dtype: dtype)
    }

    /// Re-reads the weight tensors from `parameters` (after tensors were replaced rather than updated in place).
    public func bindWeights() {
        let p = parameters
        embed = p[ModelKey.embedding]!
        finalNorm = p[ModelKey.finalNorm]!
        switch configuration.head {
        case .languageModel: (head, headBias) = (configuration.tieWordEmbeddings ? embed : p[ModelKey.head]!, nil)
        case .sequenceClassification, .tokenClassification: (head, headBias) = (p[ModelKey.score]!, p[ModelKey.scoreBias])
        }
        layers = (0..<configuration.layerCount).map { i in LayerWeights { p[ModelKey.layer(i) + $0.key] } }
        releasePackedWeights()
    }

    /// Drops the packed decode weights (they are remade on the next decode step that can use them).
    public func releasePackedWeights() {
        packLock.lock()
        var held = packs
        if !packs.isEmpty { (packs, packedBytes) = ([:], 0) }
        packLock.unlock()
        guard !held.isEmpty else { return }
        // Free the copies here (not under the lock) and hand their memory back: the training pass that drops them
        // allocates activations in other sizes, which would otherwise come on top of the freed copies.
        held = [:]
        HostMemory.trim()
    }

    /// Bytes of the packed decode weights held now (their weights' size, about what the packed copies take).
    public var packedWeightBytes: Int {
        packLock.lock()
        defer { packLock.unlock() }
        return packedBytes
    }

    /// Whether a forward pass of `rows` × `length` tokens uses packed weights.
    private func usesPacks(rows: Int, length: Int) -> Bool {
        guard length == 1, (4...64).contains(rows), dtype == .float32, packsDecodeWeights, PackedLinearWeight.isAvailable else { return false }
        return !Torch.isGradEnabled
    }

    /// x Wᵀ + b, on `weight`'s packed copy when `packed` (made or remade here when missing or out of date).
    private func applyLinear(_ x: Tensor, _ weight: Tensor, _ bias: Tensor?, packed: Bool) -> Tensor {
        guard packed else { return linear(x, weight: weight, bias: bias) }
        packLock.lock()
        let key = ObjectIdentifier(weight)
        var pack = packs[key]
        if pack?.isCurrent != true {
            let bytes = weight.count * weight.dtype.byteSize
            if packs.removeValue(forKey: key) != nil { packedBytes -= bytes }  // the stale copy goes first
            pack = packedBytes + bytes <= maxPackedBytes ? PackedLinearWeight(weight) : nil
            if let pack {
                packs[key] = pack
                packedBytes += bytes
            }
        }
        packLock.unlock()
        guard let pack else { return linear(x, weight: weight, bias: bias) }
        return linear(x, packed: pack, bias: bias)
    }

    /// Converts the weights to `dtype` for computing (new tensors; rebinds).
    public func convert(to dtype: DType) {
        self.dtype = dtype
        parameters.convert(to: dtype)
        bindWeights()
    }

    /// Final hidden states (B, T, C) for token ids (B, T).
    ///
    /// - Parameters:
    ///   - positions: RoPE positions (B, T); defaults to 0..<T, or continues the cache.
    ///   - cache: when given, keys and values are appended to it and attention covers every cached column.
    ///   - mask: boolean (B, 1, T, S) attention mask over all S = cached + new columns (true = attend); `nil`
    ///     means plain causal attention.
    public func hiddenStates(_ ids: Tensor, positions: Tensor? = nil, cache: KVCache? = nil, mask: Tensor? = nil) -> Tensor {
        rmsNorm(residualStream(ids, positions: positions, cache: cache, mask: mask), weight: finalNorm, eps: configuration.rmsNormEps)
    }

    /// Next-token logits (B, V) of the last position of each row, in the compute dtype: the final norm and the
    /// output head run on that position alone (what generation needs; see `hiddenStates` for the arguments).
    public func lastLogits(_ ids: Tensor, positions: Tensor? = nil, cache: KVCache? = nil, mask: Tensor? = nil) -> Tensor {
        let x = residualStream(ids, positions: positions, cache: cache, mask: mask)  // (B, T, C)
        let last = rmsNorm(x.select(axis: 1, index: x.size(1) - 1), weight: finalNorm, eps: configuration.rmsNormEps)
        return applyLinear(last, head, headBias, packed: usesPacks(rows: ids.size(0), length: ids.size(1)))
    }

    /// The decoder's output (B, T, C) before the final norm.
    private func residualStream(_ ids: Tensor, positions: Tensor?, cache: KVCache?, mask: Tensor?) -> Tensor {
        let (b, t) = (ids.size(0), ids.size(1))
        let start = cache?.length ?? 0
        let pos = positions ?? (Tensor.arange(start, start + t).unsqueezed(axis: 0).expanded([b, t]))
        let (cos, sin) = rope.cosSin(positions: pos, dtype: dtype)
        let c = configuration
        var x = embedding(ids, weight: embed)  // (B, T, C)
        let blocked = t == 1 ? mask?.logicalNot() : nil  // a decode step's masked keys, once for every layer
        let packed = usesPacks(rows: b, length: t)
        if Torch.isGradEnabled { releasePackedWeights() }  // training: the weights will change
        for (i, w) in layers.enumerated() {
            let h = rmsNorm(x, weight: w.inputNorm, eps: c.rmsNormEps)
            // A projection, plus its adapter's low-rank update when one is attached.
            func project(_ input: Tensor, _ weight: Tensor, _ bias: Tensor?, _ p: LayerParameter) -> Tensor {
                let y = applyLinear(input, weight, bias, packed: packed)
                guard let adapters, let delta = adapters.delta(input, layer: i, p) else { return y }
                return y + delta
            }
            var q = project(h, w.q, w.qBias, .q).reshaped(b, t, c.headCount, c.headDimension)
            var k = project(h, w.k, w.kBias, .k).reshaped(b, t, c.keyValueHeadCount, c.headDimension)
            let v = project(h, w.v, w.vBias, .v).reshaped(b, t, c.keyValueHeadCount, c.headDimension).transposed(1, 2)
            if let qn = w.qNorm, let kn = w.kNorm {  // qwen3: RMSNorm of each head before RoPE
                q = rmsNorm(q, weight: qn, eps: c.rmsNormEps)
                k = rmsNorm(k, weight: kn, eps: c.rmsNormEps)
            }
            q = RotaryEmbedding.apply(q.transposed(1, 2), cos: cos, sin: sin)  // (B, H, T, D)
            k = RotaryEmbedding.apply(k.transposed(1, 2), cos: cos, sin: sin)  // (B, KV, T, D)
            var keys = k
            var values = v
            if let cache { (keys, values) = cache.store(layer: i, k: k, v: v) }
            let attended: Tensor
            if t == 1 {
                attended = Self.singleQueryAttention(q, keys, values, blocked: blocked)
            } else {
                let causal = mask == nil && start == 0
                attended = scaledDotProductAttention(
                    query: q, key: keys, value: values, mask: mask, causal: causal, grouped: c.keyValueHeadCount != c.headCount)
            }
            x = x + project(attended.transposed(1, 2).reshaped(b, t, c.headCount * c.headDimension), w.o, nil, .o)
            let m = rmsNorm(x, weight: w.postNorm, eps: c.rmsNormEps)
            x = x + project(project(m, w.gate, nil, .gate).silu() * project(m, w.up, nil, .up), w.down, nil, .down)
        }
        cache?.advance(by: t)
        return x
    }

    /// Attention of one new query per row over the cached keys (a decode step), written out with matmuls.
    ///
    /// libtorch's fused CPU kernel is tuned for long queries; for one query in bfloat16 at batch 32 it measured
    /// 1.9 ms per layer against 0.12 ms for this form. Query heads are grouped over their key/value head, so
    /// grouped-query attention needs no copies: q (B, H, 1, D) → (B, KV, H/KV, D) against k, v (B, KV, S, D).
    /// `blocked` (B, 1, 1, S) is true at the keys a row must not see.
    static func singleQueryAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, blocked: Tensor?) -> Tensor {
        let (b, h, d) = (q.size(0), q.size(1), q.size(3))
        let kv = k.size(1)
        let grouped = q.reshaped(b, kv, h / kv, d)
        var scores = grouped.matmul(k.transposed()).to(.float32) * (1 / Double(d).squareRoot())  // (B, KV, G, S)
        if let blocked { scores = scores.maskedFill(blocked, with: -Double.infinity) }
        return scores.softmax(axis: -1).to(v.dtype).matmul(v).reshaped(b, h, 1, d)
    }

    /// Output logits for hidden states (…, C) → (…, V), or (…, labels) for a classifier head (see ``ModelHead``).
    public func logits(_ hidden: Tensor) -> Tensor { linear(hidden, weight: head, bias: headBias) }

    /// Logits (B, T, V) for token ids (B, T) — (B, T, labels) for a classifier head; see `hiddenStates` for the
    /// arguments.
    public func callAsFunction(_ ids: Tensor, positions: Tensor? = nil, cache: KVCache? = nil, mask: Tensor? = nil) -> Tensor {
        logits(hiddenStates(ids, positions: positions, cache: cache, mask: mask))
    }

    /// Number of parameters.
    public var parameterCount: Int { parameters.parameterCount }
}
