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
