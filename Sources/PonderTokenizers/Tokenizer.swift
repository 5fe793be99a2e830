import Dispatch
import Foundation

/// A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json` (GPT-2, Llama-3, Qwen2/2.5/3,
/// DeepSeek-R1-Distill) or trained by `BPETrainer`. Encodes and decodes exactly as HF `tokenizers` does.
///
/// Immutable and `Sendable`: share one instance across threads.
public struct Tokenizer: Sendable {
    /// The normalizer applied before pre-tokenization, if any.
    public let normalizer: Normalizer?
    /// The pre-tokenizer, if any.
    public let preTokenizer: PreTokenizer?
    /// The BPE model.
    public let model: BPEModel
    /// The post-processor that adds special tokens, if any.
    public let postProcessor: PostProcessor?
    /// The decoder, if any (without one, tokens are joined with spaces, as in HF).
    public let decoder: TokenDecoder?
    /// Added tokens, special or not, in file order.
    public let addedTokens: [AddedToken]
    /// BOS, EOS and padding ids read from the model directory's configs (empty when loaded from a lone file).
    public var specialTokenIDs: SpecialTokenIDs

    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let addedById: [Int: AddedToken]
    private let addedByContent: [String: Int]
    private let addedText: [Int: String]
    /// When the pre-tokenizer ends with a ByteLevel that adds a prefix space: the pre-tokenizers before it, and it.
    private let prefixSpaceSplit: (earlier: [PreTokenizer], byteLevel: PreTokenizer)?
    /// For a pure byte-level decoder: the bytes each id decodes to.
    private let decodedBytes: [[UInt8]]?

    /// Assembles a tokenizer from its components.
    public init(
        normalizer: Normalizer?, preTokenizer: PreTokenizer?, model: BPEModel, postProcessor: PostProcessor?,
        decoder: TokenDecoder?, addedTokens: [AddedToken], specialTokenIDs: SpecialTokenIDs = SpecialTokenIDs()
    ) {
        self.normalizer = normalizer
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.addedTokens = addedTokens
        self.specialTokenIDs = specialTokenIDs
        let raw = addedTokens.filter { !$0.normalized }
        let norm = addedTokens.filter { $0.normalized }
        rawMatcher = AddedTokenMatcher(tokens: raw, patterns: raw.map(\.content))
        normalizedMatcher = AddedTokenMatcher(
            tokens: norm, patterns: norm.map { normalizer?.apply($0.content) ?? $0.content })
        var byId: [Int: AddedToken] = [:]
        var byContent: [String: Int] = [:]
        var text: [Int: String] = [:]
        for t in addedTokens {
            byId[t.id] = t
            byContent[t.content] = t.id
            // As HF: a normalized added token reads back as its normalized content.
            text[t.id] = t.normalized ? (normalizer?.apply(t.content) ?? t.content) : t.content
        }
        addedById = byId
        addedByContent = byContent
        addedText = text
        switch preTokenizer {
        case .byteLevel(true, _)?:
            prefixSpaceSplit = ([], preTokenizer!)
        case .sequence(let items)?
        where items.last.map({ if case .byteLevel(true, _) = $0 { true } else { false } }) ?? false:
            prefixSpaceSplit = (Array(items.dropLast()), items.last!)
        default:
            prefixSpaceSplit = nil
        }
        if decoder?.isPureByteLevel == true {
            let count = max(model.size, (addedTokens.map(\.id).max() ?? -1) + 1)
            decodedBytes = (0..<count).map { id in
                if let t = text[id] { return TokenDecoder.byteLevelBytes(t) }
                if let t = model.token(for: id) { return TokenDecoder.byteLevelBytes(t) }
                return []
            }
        } else {
            decodedBytes = nil
        }
    }

    // MARK: Lookups

    /// Number of ids: the model's vocabulary plus added tokens beyond it.
    public var vocabularySize: Int { max(model.size, (addedTokens.map(\.id).max() ?? -1) + 1) }

    /// The id of a token string (added tokens first, then the model's vocabulary), or `nil`.
    public func id(for token: String) -> Int? {
        if let id = addedByContent[token] { return id }
        return model.id(for: token).map(Int.init)
    }

    /// The token string of an id (byte-level characters for model tokens), or `nil` for an unknown id.
    public func token(for id: Int) -> String? { addedText[id] ?? model.token(for: id) }

    /// Whether `id` is a special added token.
    public func isSpecial(_ id: Int) -> Bool { addedById[id]?.special ?? false }

    // MARK: Encoding

    /// Encodes text to ids. With `addSpecialTokens`, the post-processor adds its tokens (Llama-3's BOS).
    /// Added tokens written in the text (`<|im_start|>`...) are always recognised, as in HF.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        encodeIDs(text, addSpecialTokens: addSpecialTokens).map(Int.init)
    }

    /// Encodes many texts concurrently on all cores; `result[i]` is `encode(texts[i])`.
    public func encodeBatch(_ texts: [String], addSpecialTokens: Bool = true) -> [[Int]] {
        let results = ResultSlots<[Int]>(count: texts.count)
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in
            results.set(i, encode(texts[i], addSpecialTokens: addSpecialTokens))
        }
        return results.values
    }

    /// Encodes text to `Int32` ids (the hot path used by `encode`).
    public func encodeIDs(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 4)
        var scratch = BPEModel.Scratch()
        var text = text
        text.withUTF8 { buf in
            let parts = rawMatcher.isEmpty ? [(range: 0..<buf.count, token: nil)] : rawMatcher.split(buf, 0, buf.count)
            for part in parts {
                if let id = part.token {
                    out.append(Int32(id))
                } else if let normalizer {
                    var normalized = normalizer.apply(
                        String(decoding: UnsafeBufferPointer(rebasing: buf[part.range]), as: UTF8.self))
                    normalized.withUTF8 { nbuf in encodeNormalized(nbuf, 0..<nbuf.count, &out, &scratch) }
                } else {
                    encodeNormalized(buf, part.range, &out, &scratch)
                }
            }
        }
        if addSpecialTokens, let postProcessor { out = postProcessor.process(out) }
        return out
    }

    private func encodeNormalized(
        _ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ out: inout [Int32], _ scratch: inout BPEModel.Scratch
    ) {
        if normalizedMatcher.isEmpty {
            encodeSegment(buf, range, &out, &scratch)
            return
        }
        for part in normalizedMatcher.split(buf, range.lowerBound, range.upperBound) {
            if let id = part.token { out.append(Int32(id)) } else { encodeSegment(buf, part.range, &out, &scratch) }
        }
    }

    private func encodeSegment(
        _ buf: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ out: inout [Int32], _ scratch: inout BPEModel.Scratch
    ) {
        if range.isEmpty { return }
        guard let preTokenizer else {
            model.encode(buf, range.lowerBound, range.upperBound, into: &out, &scratch)
            return
        }
        guard let prefixed = prefixSpaceSplit else {
            for piece in preTokenizer.apply(buf, [range]) {
                model.encode(buf, piece.lowerBound, piece.upperBound, into: &out, &scratch)
            }
            return
        }
        // ByteLevel with add_prefix_space, as HF applies it: to every piece the earlier pre-tokenizers made, a
        // space is prepended unless the piece starts with one, then the piece is split by ByteLevel's regex.
        let earlier = prefixed.earlier.isEmpty ? [range] : PreTokenizer.sequence(prefixed.earlier).apply(buf, [range])
        for piece in earlier {
            if buf[piece.lowerBound] == UInt8(ascii: " ") {
                for p in prefixed.byteLevel.apply(buf, [piece]) {
                    model.encode(buf, p.lowerBound, p.upperBound, into: &out, &scratch)
                }
            } else {
                var spaced = [UInt8(ascii: " ")]
                spaced.append(contentsOf: buf[piece])
                spaced.withUnsafeBufferPointer { sbuf in
                    for p in prefixed.byteLevel.apply(sbuf, [0..<sbuf.count]) {
                        model.encode(sbuf, p.lowerBound, p.upperBound, into: &out, &scratch)
                    }
                }
            }
        }
    }

    // MARK: Decoding

    /// Decodes ids to text. Unknown ids are ignored; with `skipSpecialTokens`, special added tokens are dropped.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        if let decodedBytes {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(ids.count * 4)
            for id in ids where id >= 0 && id < decodedBytes.count {
                if skipSpecialTokens && isSpecial(id) { continue }
                bytes.append(contentsOf: decodedBytes[id])
            }
            return String(decoding: bytes, as: UTF8.self)
        }
        let tokens = ids.compactMap { id -> String? in
            if skipSpecialTokens && isSpecial(id) { return nil }
            return token(for: id)
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.decodeChain(tokens).joined()
    }

    /// The bytes one id decodes to when the decoder is purely byte-level (`nil` otherwise).
    func bytes(for id: Int) -> [UInt8]? {
        guard let decodedBytes else { return nil }
        return id >= 0 && id < decodedBytes.count ? decodedBytes[id] : []
    }

    /// A decoder for ids that arrive one at a time (see `StreamingDecoder`).
    public func makeStreamingDecoder(skipSpecialTokens: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }
}
