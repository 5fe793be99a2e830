import Foundation
import Testing

@testable import PonderCore

@Suite struct ProblemTests {
    @Test func problemsRoundTripThroughJSON() throws {
        let problems = [
            Problem.math(id: "gsm8k/1", prompt: "2+2?", answer: "4", metadata: ["source": "gsm8k"]),
            Problem.code(
                id: "code/1", prompt: "Echo.",
                tests: CodeTests(cases: [.io(input: "a\n", expectedOutput: "a\n"), .assertion("assert True")])),
        ]
        let data = try JSONEncoder().encode(problems)
        let back = try JSONDecoder().decode([Problem].self, from: data)
        #expect(back == problems)
        #expect(back[1].answer == nil)
        if case .code(let t) = back[1].kind {
            #expect(t.language == "python" && t.cases.count == 2)
        } else {
            Issue.record("kind lost in round trip")
        }
    }

    @Test func verdictDescribesItself() {
        let v = Verdict.equivalent("1/2 = 0.5").prefixed("extracted '0.5'")
        #expect(v.isEquivalent)
        #expect(v.description == "equivalent: extracted '0.5'; 1/2 = 0.5")
        #expect(!Verdict.unknown("budget").isEquivalent)
    }
}
