import Testing

@testable import PonderCore

@Suite struct ThinkParserTests {
    let parser = ThinkParser()

    @Test func completeThinking() {
        let p = parser.parse("<think>add 2 and 2</think>\nThe answer is 4.")
        #expect(p.reasoning == "add 2 and 2")
        #expect(p.trimmedAnswer == "The answer is 4.")
        #expect(p.state == .complete)
    }

    @Test func prefilledOpeningTagIsDetectedBySplit() {
        let p = parser.split("I compute 6*7.</think> \\boxed{42}")
        #expect(p.reasoning == "I compute 6*7.")
        #expect(p.trimmedAnswer == "\\boxed{42}")
        #expect(p.state == .complete)
        // Without detection the text before </think> is the answer.
        #expect(parser.parse("I compute 6*7.</think> 42").state == .noReasoning)
    }

    @Test func truncatedThinkingHasNoAnswer() {
        let p = parser.parse("<think>Let me try \\boxed{3} maybe")
        #expect(p.state == .truncated)
        #expect(p.answer.isEmpty)
        #expect(p.reasoning == "Let me try \\boxed{3} maybe")
        let q = ThinkParser(startsInReasoning: true).parse("still thinking")
        #expect(q.state == .truncated && q.answer.isEmpty)
    }

    @Test func noThinking() {
        let p = parser.parse("Just 5")
        #expect(p.reasoning == nil && p.answer == "Just 5" && p.state == .noReasoning)
    }

    @Test func onlyFirstCloseTagEndsReasoning() {
        let p = parser.parse("<think>a</think>b</think>c")
        #expect(p.reasoning == "a")
        #expect(p.answer == "b</think>c")
    }

    @Test func customTags() {
        let p = ThinkParser(openTag: "<reasoning>", closeTag: "</reasoning>").parse("<reasoning>x</reasoning>y")
        #expect(p.reasoning == "x" && p.answer == "y")
    }

    @Test func prefilledWithRepeatedOpenTag() {
        let p = ThinkParser(startsInReasoning: true).parse("  <think>r</think>a")
        #expect(p.reasoning == "r" && p.answer == "a")
    }

    @Test func stripReasoning() {
        #expect(parser.stripReasoning("<think>hidden</think>  shown ") == "shown")
    }

    static let samples: [String] = [
        "<think>add 2 and 2</think>\nThe answer is 4.",
        "pre <think>é→ü 数学</think> 答え: 42 <think> again",
        "<think>unterminated </thin",
        "no tags at all <thi",
        "<thi<think>x</thi</think>y",
        "  <think>  <think>nested?</think></think>",
        "😀<think>😀</think>😀",
        "",
        "</think>only close",
    ]

    static func run(_ parser: ThinkParser, chunks: [[UInt8]]) -> ThinkParser.Parsed {
        var s = ThinkStreamParser(parser)
        var r = ""
        var a = ""
        for c in chunks {
            let d = s.feed(bytes: c)
            r += d.reasoning
            a += d.answer
        }
        let d = s.finish()
        r += d.reasoning
        a += d.answer
        let state = s.state
        return ThinkParser.Parsed(reasoning: state == .noReasoning ? nil : r, answer: a, state: state)
    }

    @Test(arguments: [false, true]) func streamingEqualsOneShotAtEveryByteSplit(prefilled: Bool) {
        let parser = ThinkParser(startsInReasoning: prefilled)
        var checked = 0
        for text in Self.samples {
            let expected = parser.parse(text)
            let bytes = Array(text.utf8)
            // Every single split point, and every pair of split points.
            for i in 0...bytes.count {
                let got = Self.run(parser, chunks: [Array(bytes[..<i]), Array(bytes[i...])])
                #expect(got == expected, "split at byte \(i) of \(text.debugDescription)")
                for j in i...bytes.count {
                    let got2 = Self.run(
                        parser, chunks: [Array(bytes[..<i]), Array(bytes[i..<j]), Array(bytes[j...])])
                    if got2 != expected {
                        Issue.record("split at \(i),\(j) of \(text.debugDescription): \(got2) vs \(expected)")
                    }
                    checked += 1
                }
            }
            // One byte at a time.
            #expect(Self.run(parser, chunks: bytes.map { [$0] }) == expected)
            // One character at a time through the String API.
            var s = ThinkStreamParser(parser)
            var r = ""
            var a = ""
            for ch in text {
                let d = s.feed(String(ch))
                r += d.reasoning
                a += d.answer
            }
            let d = s.finish()
            #expect(r + d.reasoning == (expected.reasoning ?? ""))
            #expect(a + d.answer == expected.answer)
        }
        #expect(checked > 500)
    }

    @Test func streamingReleasesTextBeforeEnd() {
        var s = ThinkStreamParser()
        #expect(s.feed("<think>abc").reasoning == "abc")
        #expect(s.feed("</th").reasoning == "")
        let d = s.feed("ink>42")
        #expect(d.answer == "42" && d.reasoning == "")
        #expect(s.state == .complete)
    }
}
