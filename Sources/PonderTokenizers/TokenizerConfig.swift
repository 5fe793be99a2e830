/// The parts of `tokenizer_config.json` that transformers needs to use a saved tokenizer.
public struct TokenizerConfig: Sendable, Hashable {
    /// Beginning-of-sequence token text, if any.
    public var bosToken: String?
    /// End-of-sequence token text, if any.
    public var eosToken: String?
    /// Padding token text, if any.
    public var padToken: String?
    /// Longest sequence the model accepts, in tokens.
    public var modelMaxLength: Int

    /// Makes a config.
    public init(bosToken: String? = nil, eosToken: String? = nil, padToken: String? = nil, modelMaxLength: Int = 2048) {
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.padToken = padToken
        self.modelMaxLength = modelMaxLength
    }

    func json(tokenizer: Tokenizer) -> OrderedJSON {
        let decoderEntries: [(String, OrderedJSON)] = tokenizer.addedTokens.sorted { $0.id < $1.id }.map { t in
            (
                String(t.id),
                .object([
                    ("content", .string(t.content)), ("lstrip", .bool(t.lstrip)), ("normalized", .bool(t.normalized)),
                    ("rstrip", .bool(t.rstrip)), ("single_word", .bool(t.singleWord)), ("special", .bool(t.special)),
                ])
            )
        }
        func token(_ s: String?) -> OrderedJSON { s.map { .string($0) } ?? .null }
        return .object([
            ("added_tokens_decoder", .object(decoderEntries)), ("bos_token", token(bosToken)),
            ("clean_up_tokenization_spaces", .bool(false)), ("eos_token", token(eosToken)),
            ("model_max_length", .int(modelMaxLength)), ("pad_token", token(padToken)),
            ("tokenizer_class", .string("PreTrainedTokenizerFast")),
        ])
    }
}
