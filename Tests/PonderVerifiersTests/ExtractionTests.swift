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
}
