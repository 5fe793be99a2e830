import PonderCore
import PonderSearch
import XCTest

final class ConcurrencyTests: XCTestCase {
    /// Echoes its settings: the answer is the temperature × 10 and the length maxTokens / 10 tokens.
    static func echoModel() -> ScriptedModel {
        ScriptedModel { req in
            let p = req.parameters
            let steps = p.stop.isEmpty ? "" : "step \(Int(p.temperature * 10))"
            let text = req.continuation.isEmpty && !p.stop.isEmpty ? steps : "\\boxed{\(Int(p.temperature * 10))}"
            return sample(text, tokens: p.maxTokens / 10)
        }
    }

    func testTwoConfigurationsOnOneModelDoNotLeak() async throws {
        let model = Self.echoModel()
        let problem = Problem.math(id: "p", prompt: "q", answer: "7")
        let sc = SelfConsistency(
            samples: 5, batchSize: 2, stopWhenDecided: false, parameters: SamplingParameters(maxTokens: 70, temperature: 0.7))
        let beam = BeamSearch(
            beams: 6, expansions: 3, maxSteps: 4, scorer: TableScorer(table: [:], defaultScore: 0.5),
            parameters: SamplingParameters(maxTokens: 30, temperature: 0.3))
        for _ in 0..<10 {
            async let a = sc.run(problem: problem, model: model)
            async let b = beam.run(problem: problem, model: model)
            let (ra, rb) = try await (a, b)
            XCTAssertEqual(ra.answer, "7")
            XCTAssertEqual(ra.usage.generatedTokens, 5 * 7)
            XCTAssertEqual(ra.usage.modelCalls, 3)
            XCTAssertEqual(rb.answer, "3")
            // Root: 6 steps of 3 tokens, all the same step, so one beam is kept and refilled to 6 answers of 3 tokens.
            XCTAssertEqual(rb.usage.generatedTokens, 6 * 3 + 6 * 3)
            XCTAssertEqual(rb.candidates.count, 6)
        }
        let requests = model.requests
        XCTAssertEqual(
            requests.filter { $0.parameters.temperature == 0.7 }.allSatisfy { $0.parameters.maxTokens == 70 && $0.parameters.stop.isEmpty },
            true)
        XCTAssertEqual(
            requests.filter { $0.parameters.temperature == 0.3 }.allSatisfy {
                $0.parameters.maxTokens == 30 && $0.parameters.stop == ["\n\n"]
            }, true)
        XCTAssertEqual(requests.count, 10 * (3 + 2))
    }
}
