import Foundation
import Testing

@testable import PonderTokenizers

/// Ponder's BPE trainer, checked against the committed tokenizer that HF `tokenizers` loaded and encoded.
@Suite struct TrainingTests {
    static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

    static func trainFixture() throws -> Tokenizer {
        try BPETrainer(vocabularySize: 1000, specialTokens: specials).train(Fixtures.corpus)
    }

    /// Training is deterministic and writes exactly the file the fixture script gave to HF.
    @Test func retrainingReproducesCommittedFile() throws {
        let committed = try String(contentsOf: Fixtures.url("ponder-trained/tokenizer.json"), encoding: .utf8)
        #expect(try Self.trainFixture().tokenizerJSON() == committed)
    }

    /// The merges equal those of an independent brute-force trainer (scripts/fixtures/make_bpe_reference.py, which
    /// recounts every pair from scratch before each merge), in order.
    @Test func mergesMatchABruteForceTrainer() throws {
        let reference = try String(contentsOf: Fixtures.url("ponder-trained/bruteforce_merges.txt"), encoding: .utf8)
            .split(separator: "\n").map { line -> [String] in line.split(separator: " ").map(String.init) }
        let merges = try Self.trainFixture().model.merges.map { [$0.0, $0.1] }
        #expect(merges.count == reference.count)
        let first = zip(merges, reference).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil, "first difference at merge \(first?.offset ?? -1): Ponder \(first?.element.0 ?? []), reference \(first?.element.1 ?? [])")
    }

    /// Training sees the same pieces as HF's pre-tokenizer: the corpus split by Qwen2's regex (Python `regex`).
    @Test func trainingPreTokenizationMatchesTheRegex() throws {
        let tokenizer = try Self.trainFixture()
        let pieces = try String(contentsOf: Fixtures.url("ponder-trained/corpus_pieces.json"), encoding: .utf8)
        let expected = try JSONDecoder().decode([String].self, from: Data(pieces.utf8))
        // What the trainer does: NFC, special tokens cut out, the pre-tokenizer over each remaining part.
        let bytes = Array((tokenizer.normalizer?.apply(Fixtures.corpus) ?? Fixtures.corpus).utf8)
        let matcher = AddedTokenMatcher(tokens: tokenizer.addedTokens, patterns: Self.specials)
        var got: [String] = []
        bytes.withUnsafeBufferPointer { buf in
            for part in matcher.split(buf, 0, buf.count) where part.token == nil {
                for piece in tokenizer.preTokenizer!.apply(buf, [part.range]) { got.append(ByteLevelAlphabet.encode(buf[piece])) }
            }
        }
        #expect(got.count == expected.count)
        let first = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }
        #expect(first == nil, "first difference at piece \(first?.offset ?? -1): \(first.map { "\($0.element.0.debugDescription) vs \($0.element.1.debugDescription)" } ?? "")")
    }

    /// HF's ids for the Ponder-trained tokenizer equal Ponder's, string by string.
    @Test func trainedTokenizerEncodesLikeHF() throws {
        let tokenizer = try Tokenizer(contentsOf: Fixtures.url("ponder-trained/tokenizer.json"))
        let expected = try Fixtures.expected("ponder-trained")
        for (text, c) in zip(Fixtures.strings, expected.cases) {
            #expect(tokenizer.encode(text) == c.ids, "\(text.debugDescription)")
            #expect(tokenizer.decode(c.ids) == (c.decoded ?? text))
        }
    }

    @Test func trainedVocabularyLayout() throws {
        let tokenizer = try Self.trainFixture()
        #expect(tokenizer.vocabularySize == 1000)
        #expect(tokenizer.id(for: "<|im_end|>") == 2)
        #expect(tokenizer.isSpecial(0))
        // Byte tokens follow the specials in byte order: byte 0x41 "A" is id 3 + 65.
        #expect(tokenizer.id(for: "A") == 3 + 65)
        // Special tokens in text are never split, never learned.
        #expect(tokenizer.encode("<|im_start|>hi<|im_end|>").first == 1)
        #expect(!tokenizer.model.vocab.keys.contains { $0.contains("im_start") && $0 != "<|im_start|>" })
        // Frequent words of the corpus became single tokens.
        #expect(tokenizer.encode(" the").count == 1)
    }

    @Test func savedFilesReload() throws {
        let tokenizer = try Self.trainFixture()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-train-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try tokenizer.save(to: dir, config: TokenizerConfig(eosToken: "<|im_end|>", padToken: "<|endoftext|>"))
        let loaded = try Tokenizer.load(directory: dir)
        #expect(loaded.specialTokenIDs.eos == [2])
        #expect(loaded.specialTokenIDs.pad == 0)
        #expect(loaded.specialTokenIDs.bos == nil)
        for text in Fixtures.strings.prefix(100) { #expect(loaded.encode(text) == tokenizer.encode(text)) }
    }

    @Test func rejectsImpossibleRequests() {
        #expect(throws: TokenizerError.self) { try BPETrainer(vocabularySize: 100).train("abc") }
        #expect(throws: TokenizerError.self) {
            try BPETrainer(vocabularySize: 300, specialTokens: ["<s>", "<s>"]).train("abc")
        }
    }

    /// A tiny model's corpus (about 1 MB here) trains in seconds even in a debug build.
    @Test func trainsAMegabyteQuickly() throws {
        let corpus = String(repeating: Fixtures.corpus, count: 16)
        let start = Date()
        let tokenizer = try BPETrainer(vocabularySize: 2000, specialTokens: ["<|endoftext|>"]).train(corpus)
        let seconds = Date().timeIntervalSince(start)
        #expect(tokenizer.vocabularySize > 1000)
        #expect(seconds < 20, "took \(seconds) s")
    }
}
