import PonderCore
import Testing

@testable import PonderVerifiers

@Suite struct ExtractionTests {
    let extractor = AnswerExtractor()

    @Test func gradesOnlyAfterThinking() {
        let e = extractor.extract("<think>maybe \\boxed{1}</think> so \\boxed{2}")
        #expect(e.answer == "2" && e.source == .boxed)
        #expect(e.explanation.contains("after </think>"))
    }

    @Test func truncatedThinkingHasNoAnswer() {
        let e = extractor.extract("<think>\\boxed{1} and still going")
        #expect(e.answer == nil && e.explanation.contains("truncated"))
    }

    @Test func nestedBracesInBoxed() {
        #expect(extractor.extract("\\boxed{\\frac{1}{\\sqrt{2}}}").answer == "\\frac{1}{\\sqrt{2}}")
        #expect(extractor.extract("\\fbox{x^{2}}").answer == "x^{2}")
    }

    @Test func hedgeFailsButRepeatsAreFine() {
        let e = extractor.extract("\\boxed{3} or \\boxed{4}")
        #expect(e.answer == nil && e.explanation.contains("hedge"))
        #expect(extractor.extract("\\boxed{3}, i.e. \\boxed{ 3 }").answer == "3")
        let lenient = AnswerExtractor(policy: ExtractionPolicy(rejectHedges: false))
        #expect(lenient.extract("\\boxed{3} or \\boxed{4}").answer == "4")
    }

    @Test func sourcesInPriorityOrder() {
        #expect(extractor.extract("<answer>7</answer> \\boxed{8}").source == .answerTag)
        #expect(extractor.extract("The answer is 9.\n#### 10").answer == "10")
        #expect(extractor.extract("Thus the final answer is $\\frac{3}{4}$.").answer == "\\frac{3}{4}")
    }

    @Test func plainNumberFallbackOnlyWhenConfigured() {
        let text = "She bakes 12 pies.\n12/4 = 3"
        #expect(extractor.extract(text).answer == nil)
        let e = AnswerExtractor(policy: .lenient).extract(text)
        #expect(e.answer == "12" && e.source == .lastNumber)
    }

    @Test func errorsNameTheValue() throws {
        #expect(throws: VerifierError.self) { try AnswerParser().parse("\\frac{1}{") }
        do {
            _ = try AnswerParser().parse("2 +* \\unknowncommand")
            Issue.record("expected a parse error")
        } catch let e as VerifierError {
            #expect(e.errorDescription?.contains("2 +* \\unknowncommand") == true)
        }
        #expect(VerifierError.badLine(file: "a.jsonl", line: 7, reason: "bad").errorDescription == "a.jsonl:7: bad.")
    }

    @Test func mathVerifierThrowsForMissingReference() async {
        await #expect(throws: VerifierError.missingReference(problemID: "x")) {
            try await MathVerifier().verify("\\boxed{1}", against: Problem(id: "x", prompt: "?", answer: nil))
        }
    }

    @Test func verdictsExplainThemselves() {
        let v = MathEquivalence().compare(gold: "\\frac{1}{2}", prediction: "0.5")
        #expect(v.isEquivalent && v.explanation.contains("1/2"))
        let w = MathVerifier().check(completion: "\\boxed{0.6}", gold: "1/2")
        #expect(w.outcome == .notEquivalent && w.explanation.contains("extracted '0.6'"))
    }

    @Test func strictIsTheDefaultAndRejectsUnmarkedAnswers() {
        #expect(ExtractionPolicy.strict == ExtractionPolicy())
        #expect(ExtractionPolicy.mode(.strict) == .strict && ExtractionPolicy.mode(.lenient) == .lenient)
        #expect(!ExtractionPolicy.strict.isLenient && ExtractionPolicy.lenient.isLenient)
        let strict = AnswerExtractor(policy: .strict)
        for text in [
            "Answer $9$", "Answer \\[ 9 \\]", "Therefore $x \\geq 5$ is the solution.", "After careful work I got 7",
            "The identity matrix is $\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$.", "the correct choice is (B).",
        ] {
            #expect(strict.extract(text).answer == nil, "\(text)")
        }
        #expect(MathVerifier(policy: .strict).check(completion: "Answer $9$", gold: "9").outcome == .notEquivalent)
    }

    @Test func lenientTakesTheLastExpressionOfTheFinalRegion() {
        let lenient = AnswerExtractor(policy: .lenient)
        let cases: [(String, String)] = [
            ("Answer $9$", "9"), ("Answer \\[ 9 \\]", "9"), ("Answer $$ 9 $$", "9"),
            ("Therefore $x \\geq 5$ is the solution.", "x \\geq 5"),
            ("Final Answer: The largest $n$ is 34.", "34"),
            ("The identity matrix is $\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}$.",
             "\\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix}"),
            ("Comparing the options, the correct choice is (B).", "B"),
            ("The total is 8. Check: 56/7 = 8", "8"),
        ]
        for (text, answer) in cases {
            let e = lenient.extract(text)
            #expect(e.answer == answer, "\(text) → \(e)")
        }
        // Marked answers still win, and a worked computation is not an answer.
        #expect(lenient.extract("$5$ then \\boxed{6}").answer == "6")
        #expect(lenient.extract("42/6 = 7").answer == nil)
        #expect(lenient.extract("So $42/6 = 7$").answer == nil)
        #expect(lenient.extract("<think>so $5$").answer == nil)
    }

    @Test func lenientCostIsProportionalToTheAnswerRegion() {
        let trace = "<think>" + String(repeating: "Try $n = 12$, then $n^2 + n = 156$; not yet. ", count: 2_000) + "</think>"
        let completion = trace + "\n\nThe largest $n$ is $34$."
        #expect(completion.utf8.count > 80_000)
        let v = MathVerifier(policy: .lenient).check(completion: completion, gold: "34")
        #expect(v.outcome == .equivalent, "\(v)")
        #expect(AnswerExtractor.finalRegion(String(repeating: "x ", count: 50_000)).utf8.count <= AnswerExtractor.finalRegionBytes)
    }

    @Test func multiPartBoxesNeedAMultiPartGold() {
        let v = MathVerifier()
        let text = "The solutions are \\boxed{(1, 2)}, \\boxed{(2, 1)}."
        #expect(v.check(completion: text, gold: "(1, 2), (2, 1)").outcome == .equivalent)
        #expect(v.check(completion: text, gold: "(1, 2)").outcome == .notEquivalent)
        #expect(v.check(completion: "\\boxed{-2,1}", gold: "\\boxed{1} and \\boxed{-2}").outcome == .equivalent)
        #expect(MathVerifier.goldAnswer("\\boxed{1} and \\boxed{-2}") == "1, -2")
    }
}
