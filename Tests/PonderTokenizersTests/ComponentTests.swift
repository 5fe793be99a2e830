import Foundation
import Testing

@testable import PonderTokenizers

/// Components the fixture tokenizers do not exercise, checked against values printed by HF `tokenizers` 0.23.
@Suite struct ComponentTests {
    @Test func normalizers() throws {
        #expect(Normalizer.nfc.apply("e\u{301}") == "\u{e9}")
        #expect(Normalizer.nfkc.apply("ﬁ²") == "fi2")
        #expect(Normalizer.lowercase.apply("ÀB") == "àb")
        #expect(Normalizer.prepend("▁").apply("a") == "▁a")
        #expect(Normalizer.prepend("▁").apply("") == "")
        #expect(Normalizer.replace(pattern: SplitPattern(literal: " "), content: "▁").apply("a b  c") == "a▁b▁▁c")
        #expect(Normalizer.replace(pattern: try SplitPattern(regex: "\\d+"), content: "#").apply("a12b3") == "a#b#")
        #expect(Normalizer.sequence([.nfkc, .lowercase]).apply("Ⅻ") == "xii")
    }

    @Test func decoders() {
        #expect(TokenDecoder.byteFallback.decodeChain(["<0xE2>", "<0x82>", "<0xAC>", "a"]) == ["€", "a"])
        #expect(TokenDecoder.byteFallback.decodeChain(["<0xE2>", "b"]) == ["\u{FFFD}", "b"])
        #expect(TokenDecoder.fuse.decodeChain(["a", "b"]) == ["ab"])
        #expect(TokenDecoder.strip(content: " ", start: 1, stop: 0).decodeChain(["  a ", " b"]) == [" a ", "b"])
        #expect(
            TokenDecoder.metaspace(replacement: "▁", prependFirst: true).decodeChain(["▁Hey", "▁friend"])
                == ["Hey", " friend"])
        // Llama-2 style chain: Replace, ByteFallback, Fuse, Strip.
        let chain = TokenDecoder.sequence([
            .replace(pattern: SplitPattern(literal: "▁"), content: " "), .byteFallback, .fuse,
            .strip(content: " ", start: 1, stop: 0),
        ])
        #expect(chain.decodeChain(["▁Hello", "<0xF0>", "<0x9F>", "<0x8E>", "<0x89>", "▁!"]).joined() == "Hello🎉 !")
        #expect(TokenDecoder.byteLevel.decodeChain(["Ġhello", "<|im_end|>", "Ċ"]) == [" hello<|im_end|>\n"])
    }

    /// lstrip, rstrip and single-word added tokens follow HF's rules (values from the gpt2 fixture).
    @Test func addedTokenOptions() throws {
        let tokenizer = try Fixtures.tokenizer("gpt2")
        let mask = try #require(tokenizer.id(for: "<mask>"))
        let sw = try #require(tokenizer.id(for: "[[sw]]"))
        // lstrip swallows the spaces before <mask>.
        let ids = tokenizer.encode("a  <mask>b")
        #expect(ids.contains(mask))
        #expect(tokenizer.decode(ids) == "a<mask>b")
        // single_word: matched between spaces, not inside a word.
        #expect(tokenizer.encode("w [[sw]] w").contains(sw))
        #expect(!tokenizer.encode("x[[sw]]y").contains(sw))
    }

    /// Byte-fallback BPE without a byte-level pre-tokenizer (SentencePiece-style): unknown characters become
    /// `<0xXX>` tokens, or `<unk>` without fallback.
    @Test func byteFallbackModel() throws {
        var vocab: [String: Int32] = ["<unk>": 0, "a": 1, "b": 2, "ab": 3]
        for b in 0..<256 { vocab[String(format: "<0x%02X>", b)] = Int32(4 + b) }
        let model = try BPEModel(
            vocab: vocab, merges: [("a", "b")], byteLevel: false, byteFallback: true, unkToken: "<unk>")
        let tokenizer = Tokenizer(
            normalizer: nil, preTokenizer: nil, model: model, postProcessor: nil,
            decoder: .sequence([.byteFallback, .fuse]), addedTokens: [])
        #expect(tokenizer.encode("abé") == [3, 4 + 0xC3, 4 + 0xA9])
        #expect(tokenizer.decode([3, 4 + 0xC3, 4 + 0xA9]) == "abé")
        let noFallback = try BPEModel(
            vocab: vocab, merges: [("a", "b")], byteLevel: false, unkToken: "<unk>", fuseUnk: true)
        let t2 = Tokenizer(
            normalizer: nil, preTokenizer: nil, model: noFallback, postProcessor: nil, decoder: nil, addedTokens: [])
        #expect(t2.encode("aéèb") == [1, 0, 2])
    }

    /// Long pieces go through the priority-queue merge, short ones through a linear scan: both give the same
    /// merges on every piece of every fixture string (and on the whole strings, as one long piece).
    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func heapAndLinearMergesAgree(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let pre = try #require(tokenizer.preTokenizer)
        for text in Fixtures.strings {
            for piece in pre.pieces(of: text) + [text] {
                let bytes = Array(piece.utf8)
                #expect(
                    tokenizer.model.mergeForTesting(bytes, heap: true)
                        == tokenizer.model.mergeForTesting(bytes, heap: false))
            }
        }
    }

    @Test func streamingHoldsIncompleteUTF8() throws {
        let tokenizer = try Fixtures.tokenizer("gpt2")
        // "é" as two byte tokens: nothing is emitted until the second arrives.
        let first = try #require(tokenizer.id(for: String(ByteLevelAlphabet.byteToScalar[0xC3])))
        let second = try #require(tokenizer.id(for: String(ByteLevelAlphabet.byteToScalar[0xA9])))
        var stream = tokenizer.makeStreamingDecoder()
        #expect(stream.push(first) == "")
        #expect(stream.push(second) == "é")
        // A lone lead byte at the end is flushed as U+FFFD, exactly as decode() does.
        #expect(stream.push(first) == "")
        #expect(stream.finish() == "\u{FFFD}")
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xF0, 0x9F]) == 1)
        #expect(StreamingDecoder.completePrefixLength([0x61, 0xF0, 0x41]) == 3)
        #expect(StreamingDecoder.completePrefixLength([0xE0, 0x80]) == 2)  // overlong: never valid, emit now
    }

    @Test func specialTokenIDsFromModelDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-ids-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            at: Fixtures.url("llama3/tokenizer.json"), to: dir.appendingPathComponent("tokenizer.json"))
        try Data(#"{"bos_token": {"content": "<|begin_of_text|>"}, "eos_token": "<|eot_id|>"}"#.utf8)
            .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        try Data(#"{"eos_token_id": [1001, 1005], "bos_token_id": 1000}"#.utf8)
            .write(to: dir.appendingPathComponent("generation_config.json"))
        try Data(#"{"model_type": "llama", "eos_token_id": 1001, "pad_token_id": 1002}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        let tokenizer = try Tokenizer.load(directory: dir)
        #expect(tokenizer.specialTokenIDs == SpecialTokenIDs(bos: 1000, eos: [1005, 1001], pad: 1002))
        #expect(tokenizer.encode("hi").first == 1000)
    }
}

/// The NFC fast path only skips text that Foundation's NFC leaves unchanged.
@Suite struct NFCFastPathTests {
    @Test func whitelistedScalarsAreNFC() {
        let ranges: [ClosedRange<UInt32>] = [
            0...0x2FF, 0x4E00...0x9FFF, 0xAC00...0xD7A3, 0x3040...0x3096, 0x309B...0x30FF, 0x1F000...0x1FAFF,
        ]
        var checked = 0
        for range in ranges {
            for v in range {
                guard let u = Unicode.Scalar(v) else { continue }
                let s = String(u) + "a" + String(u)
                #expect(Normalizer.isKnownNFC(s))
                if s.precomposedStringWithCanonicalMapping.unicodeScalars.elementsEqual(s.unicodeScalars) == false {
                    Issue.record("U+\(String(v, radix: 16)) changes under NFC")
                }
                checked += 1
            }
        }
        #expect(checked > 30000)
        #expect(!Normalizer.isKnownNFC("e\u{301}"))
        #expect(Normalizer.nfc.apply("e\u{301}") == "\u{e9}")
    }
}

/// Saving a loaded tokenizer and loading it back changes nothing.
@Suite struct SaveRoundTripTests {
    @Test(arguments: ["gpt2", "llama3", "qwen2"])
    func savedTokenizerEncodesTheSame(family: String) throws {
        let original = try Fixtures.tokenizer(family)
        let reloaded = try Tokenizer(tokenizerJSON: Data(original.tokenizerJSON().utf8))
        #expect(reloaded.tokenizerJSON() == original.tokenizerJSON())
        for text in Fixtures.strings {
            #expect(reloaded.encode(text) == original.encode(text))
        }
    }

    /// The streaming decoder's general path (decoders that look at neighbours, here ByteFallback + Metaspace).
    @Test func streamingWithNonByteLevelDecoder() throws {
        var vocab: [String: Int32] = ["<unk>": 0, "▁": 1, "a": 2, "b": 3, "▁a": 4]
        for b in 0..<256 { vocab[String(format: "<0x%02X>", b)] = Int32(5 + b) }
        let model = try BPEModel(
            vocab: vocab, merges: [("▁", "a")], byteLevel: false, byteFallback: true, unkToken: "<unk>")
        let tokenizer = Tokenizer(
            normalizer: .sequence([.prepend("▁"), .replace(pattern: SplitPattern(literal: " "), content: "▁")]),
            preTokenizer: nil, model: model, postProcessor: nil,
            decoder: .sequence([
                .replace(pattern: SplitPattern(literal: "▁"), content: " "), .byteFallback, .fuse,
                .strip(content: " ", start: 1, stop: 0),
            ]),
            addedTokens: [])
        for text in ["a b", "ab é a", "€€ a", "a  b🎉", "ae\u{301}b a\u{301}"] {
            let ids = tokenizer.encode(text)
            #expect(tokenizer.decode(ids) == text)
            var stream = tokenizer.makeStreamingDecoder()
            var out = ""
            for id in ids { out += stream.push(id) }
            out += stream.finish()
            #expect(out == text, "\(text.debugDescription)")
        }
    }
}
