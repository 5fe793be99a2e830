import Foundation
import PonderCore
import Torch

/// What sits on top of the decoder's final hidden states, as a Hugging Face `architectures` entry names it.
///
/// - `languageModel`: `*ForCausalLM`, logits over the vocabulary (`lm_head.weight`, or the tied embedding).
/// - `sequenceClassification`: `*ForSequenceClassification`, an outcome reward model: `score.weight`
///   (labels, C), no bias, read at each row's last non-pad token.
/// - `tokenClassification`: `*ForTokenClassification`, a process reward model: `score.weight` (labels, C) and, unless
///   `token_classification_bias` is false, `score.bias` (labels), read at every token (Ponder reads it at step ends).
public enum ModelHead: Sendable, Equatable {
    case languageModel
    case sequenceClassification(labels: Int)
    case tokenClassification(labels: Int, bias: Bool)

    /// The number of outputs per position: labels for a classifier, `nil` for a language model.
    public var labelCount: Int? {
        switch self {
        case .languageModel: nil
        case .sequenceClassification(let n), .tokenClassification(let n, _): n
        }
    }

    /// The reward model this head makes: outcome for a sequence classifier, process for a token classifier.
    public var rewardKind: RewardModelKind? {
        switch self {
        case .languageModel: nil
        case .sequenceClassification: .outcome
        case .tokenClassification: .process
        }
    }

    /// The class-name suffix transformers uses (`ForCausalLM`, `ForSequenceClassification`, `ForTokenClassification`).
    var architectureSuffix: String {
        switch self {
        case .languageModel: "ForCausalLM"
        case .sequenceClassification: "ForSequenceClassification"
        case .tokenClassification: "ForTokenClassification"
        }
    }

    /// Reads the head from config.json's `architectures`, `num_labels` / `id2label` and `token_classification_bias`.
    static func read(_ r: FieldReader) throws -> ModelHead {
        let architectures: [Any]? = try r.optional("architectures")
        let name = architectures?.first as? String ?? ""
        var labels: Int? = try r.optional("num_labels")
        if labels == nil, let id2label: [String: Any] = try r.optional("id2label") { labels = id2label.count }
        let count = labels ?? 2  // transformers' PretrainedConfig default
        guard count > 0 else { throw ModelError.invalidField(path: r.path, field: "num_labels", reason: "= \(count) must be positive") }
        if name.hasSuffix("ForSequenceClassification") { return .sequenceClassification(labels: count) }
        if name.hasSuffix("ForTokenClassification") {
            let bias: Bool? = try r.optional("token_classification_bias")
            return .tokenClassification(labels: count, bias: bias ?? true)
        }
        if name.isEmpty || name.hasSuffix("ForCausalLM") { return .languageModel }
        throw ModelError.invalidField(
            path: r.path, field: "architectures",
            reason:
                "is [\"\(name)\"]; supported: *ForCausalLM, *ForSequenceClassification (outcome reward model), *ForTokenClassification (process reward model)"
        )
    }
}

extension ModelKey {
    static let score = "score.weight"
    static let scoreBias = "score.bias"
}

extension CausalLM {
    /// A copy of this model's decoder under a new `head` with freshly initialised head weights (normal(0, 0.02), zero
    /// bias, as transformers initialises them): how a reward model starts from a base model. `padTokenId` is what
    /// a sequence classifier reads past (transformers needs it for batches of more than one row).
    public func withHead(_ head: ModelHead, padTokenId: Int?, seed: UInt64) throws -> CausalLM {
        var c = configuration
        c.head = head
        c.padTokenId = padTokenId ?? c.padTokenId
        c.labelNames = nil
        let store = ParameterStore()
        for (key, shape) in c.parameterShapes {
            if let t = parameters[key], key != ModelKey.score, key != ModelKey.scoreBias {
                store[key] = t.detached().clone()
            } else if key == ModelKey.head {
                store[key] = (configuration.tieWordEmbeddings ? parameters[ModelKey.embedding]! : parameters[key]!).detached().clone()
            } else if key == ModelKey.scoreBias {
                store[key] = Tensor.zeros(shape).to(dtype)
            } else {
                store[key] = (Tensor.randn(shape, generator: RandomGenerator(seed: seed)) * 0.02).to(dtype)
            }
        }
        return try CausalLM(configuration: c, parameters: store, dtype: dtype)
    }

    /// The position of each row's last token that is not `padTokenId` (B,), as transformers'
    /// `*ForSequenceClassification` finds it: the rightmost non-pad token, so left and right padding both work; 0
    /// when a row is all padding; the last position when there is no pad token.
    public static func lastNonPadPositions(_ ids: [[Int]], padTokenId: Int?) -> [Int] {
        ids.map { row in
            guard let pad = padTokenId else { return row.count - 1 }
            return row.lastIndex(where: { $0 != pad }) ?? 0
        }
    }

    /// Sequence-classification logits (B, labels) of token id rows (right-padded here with the pad token; under causal
    /// attention right padding does not change the real positions): the head's output at each row's last non-pad
    /// token (see ``lastNonPadPositions(_:padTokenId:)``). For a ``ModelHead/sequenceClassification(labels:)`` model
    /// this equals transformers' `logits`.
    public func sequenceLogits(_ ids: [[Int]]) -> Tensor {
        let width = ids.map(\.count).max() ?? 0
        let pad = configuration.padTokenId ?? 0
        let rows = ids.map { $0 + Array(repeating: pad, count: width - $0.count) }
        let input = Tensor(rows.flatMap { $0.map(Int64.init) }, shape: [rows.count, width])
        let out = callAsFunction(input)  // (B, T, labels)
        let last = Self.lastNonPadPositions(rows, padTokenId: configuration.padTokenId)
        let index = Tensor(last.map(Int64.init), shape: [rows.count, 1, 1]).expanded([rows.count, 1, out.size(-1)])
        return out.gather(axis: 1, index: index).squeezed(axis: 1)  // (B, labels)
    }
}
