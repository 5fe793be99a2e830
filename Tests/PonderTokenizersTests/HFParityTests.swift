import Foundation
import Testing

@testable import PonderTokenizers

/// Ponder against HF `tokenizers` on the fixture tokenizers (GPT-2, Llama-3 and Qwen2 configurations).
@Suite struct HFParityTests {
    static let families = ["gpt2", "llama3", "qwen2"]

    @Test(arguments: families)
    func encodesLikeHF(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        #expect(Fixtures.strings.count >= 500)
        #expect(expected.cases.count == Fixtures.strings.count)
        var mismatches = 0
        for (text, c) in zip(Fixtures.strings, expected.cases) {
            let ids = tokenizer.encode(text, addSpecialTokens: false)
            if ids != c.ids {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(family) \(text.debugDescription): got \(ids), HF \(c.ids)") }
            }
            #expect(tokenizer.encode(text) == expected.prefix + c.ids)
        }
        #expect(mismatches == 0)
    }

    /// ByteLevel with `add_prefix_space`: top-level (GPT-2), every stretch of text between added tokens gets a
    /// leading space; last in a Sequence (Llama-3), every piece of the Split does, as in HF.
    @Test(arguments: ["gpt2", "llama3"])
    func prefixSpaceVariantEncodesLikeHF(family: String) throws {
        let data = try Data(contentsOf: Fixtures.url("\(family)/tokenizer.json"))
        var object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        var pre = object["pre_tokenizer"] as! [String: Any]
        if family == "gpt2" {
            pre["add_prefix_space"] = true
        } else {
            var items = pre["pretokenizers"] as! [[String: Any]]
            items[items.count - 1]["add_prefix_space"] = true
            pre["pretokenizers"] = items
        }
        object["pre_tokenizer"] = pre
        let tokenizer = try Tokenizer(tokenizerJSON: JSONSerialization.data(withJSONObject: object))
        let expected = try Fixtures.expected("\(family)-prefix-space")
        #expect(expected.cases.count == 300)
        var mismatches = 0
        for (text, c) in zip(Fixtures.strings, expected.cases)
        where tokenizer.encode(text) != expected.prefix + c.ids {
            mismatches += 1
            if mismatches <= 5 { Issue.record("\(text.debugDescription): got \(tokenizer.encode(text)), HF \(c.ids)") }
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: families)
    func decodesLikeHF(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        for (text, c) in zip(Fixtures.strings, expected.cases) {
            let decoded = tokenizer.decode(c.ids)
            #expect(decoded == (c.decoded ?? text), "\(family) \(text.debugDescription)")
            let skipped = tokenizer.decode(c.ids, skipSpecialTokens: true)
            #expect(skipped == (c.decoded_skip_special ?? c.decoded ?? text), "\(family) \(text.debugDescription)")
        }
    }

    @Test(arguments: families)
    func batchEqualsSequential(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let batch = tokenizer.encodeBatch(Fixtures.strings)
        #expect(batch == Fixtures.strings.map { tokenizer.encode($0) })
    }

    /// Every fixture string streamed one id at a time: each chunk is valid text, and the chunks concatenate
    /// to `decode` of all ids, so the split at every token position neither repeats nor drops text.
    @Test(arguments: families)
    func streamingDecoderReassembles(family: String) throws {
        let tokenizer = try Fixtures.tokenizer(family)
        let expected = try Fixtures.expected(family)
        for (text, c) in zip(Fixtures.strings, expected.cases) {
            for skip in [false, true] {
                var stream = tokenizer.makeStreamingDecoder(skipSpecialTokens: skip)
                var output = ""
                for (k, id) in c.ids.enumerated() {
                    output += stream.push(id)
                    // What was emitted after k+1 tokens is final: a prefix of the full decode.
                    let full = tokenizer.decode(c.ids, skipSpecialTokens: skip)
                    if !full.unicodeScalars.starts(with: output.unicodeScalars) {
                        Issue.record(
                            "\(family) \(text.debugDescription) after \(k + 1) ids: \(output.debugDescription)")
                        break
                    }
                }
                output += stream.finish()
                #expect(
                    output == tokenizer.decode(c.ids, skipSpecialTokens: skip), "\(family) \(text.debugDescription)")
            }
        }
    }

    @Test func lookupsAgreeWithVocabulary() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        #expect(tokenizer.id(for: "<|im_end|>") == 2)
        #expect(tokenizer.token(for: 2) == "<|im_end|>")
        #expect(tokenizer.isSpecial(2))
        #expect(!tokenizer.isSpecial(tokenizer.id(for: "<think>")!))
        #expect(tokenizer.id(for: "Ġ") != nil)
        #expect(tokenizer.token(for: 999_999) == nil)
        #expect(tokenizer.vocabularySize == 1003)
        for id in 0..<tokenizer.vocabularySize {
            if let t = tokenizer.token(for: id), tokenizer.model.id(for: t) != nil {
                #expect(tokenizer.id(for: t) == id)
            }
        }
    }
}

/// The hand-written scanners against HF's `Split` with the real regexes, piece by piece.
@Suite struct SplitPatternTests {
    static let patterns = [
        ("gpt2", SplitPattern.gpt2Regex), ("llama3", SplitPattern.llama3Regex), ("qwen2", SplitPattern.qwen2Regex),
    ]

    @Test(arguments: patterns)
    func scannerMatchesHFPieces(name: String, regex: String) throws {
        let all = try JSONDecoder().decode(
            [String: [[Int]]].self, from: Data(contentsOf: Fixtures.url("pieces.json")))
        let expected = try #require(all[name])
        let split = PreTokenizer.split(pattern: try SplitPattern(regex: regex), behavior: .isolated, invert: false)
        var mismatches = 0
        for (text, lengths) in zip(Fixtures.strings, expected) {
            let got = split.pieces(of: text).map { $0.unicodeScalars.count }
            if got != lengths {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(name) \(text.debugDescription): \(got) vs HF \(lengths)") }
            }
        }
        #expect(mismatches == 0)
    }

    /// DeepSeek-V3's three Split regexes run through the generic regex path (NSRegularExpression) and give
    /// HF's pieces.
    @Test func genericRegexMatchesHFOnDeepSeekPatterns() throws {
        let all = try JSONDecoder().decode([String: [[Int]]].self, from: Data(contentsOf: Fixtures.url("pieces.json")))
        let expected = try #require(all["deepseek3"])
        let patterns = try JSONDecoder().decode(
            [String].self, from: Data(contentsOf: Fixtures.url("deepseek3_patterns.json")))
        let pre = PreTokenizer.sequence(
            try patterns.map { .split(pattern: try SplitPattern(regex: $0), behavior: .isolated, invert: false) })
        var mismatches = 0
        for (text, lengths) in zip(Fixtures.strings, expected) {
            let got = pre.pieces(of: text).map { $0.unicodeScalars.count }
            if got != lengths {
                mismatches += 1
                if mismatches <= 5 { Issue.record("\(text.debugDescription): \(got) vs HF \(lengths)") }
            }
        }
        #expect(mismatches == 0)
    }

    /// The generic regex path (NSRegularExpression) agrees with the native scanner on the same pattern text.
    @Test func genericRegexAgreesWithScanner() throws {
        // A pattern equal to GPT-2's but spelled differently, so it is not recognised and runs through the regex engine.
        let generic = try SplitPattern(regex: "(?:" + SplitPattern.gpt2Regex + ")")
        let native = try SplitPattern(regex: SplitPattern.gpt2Regex)
        let a = PreTokenizer.split(pattern: generic, behavior: .isolated, invert: false)
        let b = PreTokenizer.split(pattern: native, behavior: .isolated, invert: false)
        for text in Fixtures.strings.prefix(200) {
            #expect(a.pieces(of: text) == b.pieces(of: text), "\(text.debugDescription)")
        }
    }

    @Test func splitBehaviors() throws {
        let dash = SplitPattern(literal: "-")
        func pieces(_ behavior: SplitBehavior, invert: Bool = false) -> [String] {
            PreTokenizer.split(pattern: dash, behavior: behavior, invert: invert).pieces(of: "a-b--c-")
        }
        #expect(pieces(.isolated) == ["a", "-", "b", "-", "-", "c", "-"])
        #expect(pieces(.removed) == ["a", "b", "c"])
        // Expected values printed by HF `tokenizers` 0.23 for the same input.
        #expect(pieces(.mergedWithPrevious) == ["a-", "b-", "-", "c-"])
        #expect(pieces(.mergedWithNext) == ["a", "-b", "-", "-c", "-"])
        #expect(pieces(.contiguous) == ["a", "-", "b", "--", "c", "-"])
        #expect(PreTokenizer.digits(individualDigits: true).pieces(of: "ab12c3") == ["ab", "1", "2", "c", "3"])
        #expect(PreTokenizer.digits(individualDigits: false).pieces(of: "ab12c3") == ["ab", "12", "c", "3"])
    }
}
