import Foundation
import PonderCore
import PonderEval
import PonderTasks
import XCTest

/// A model that answers from a script: greedy requests get `greedy`, sampled ones `samples`; a prompt containing
/// "long" does not fit its context.
struct ScriptedAnswers: LanguageModel {
    let name = "scripted"
    var greedy: String
    var samples: [String]

    func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        if case .text(let t) = request.prompt, t.contains("long") {
            throw PonderError.contextOverflow(promptTokens: 300, maxTokens: request.parameters.maxTokens, contextLength: 256)
        }
        let texts = request.parameters.temperature == 0 ? [greedy] : Array(samples.prefix(request.parameters.n))
        return CompletionResponse(
            completions: texts.map { Completion(text: $0, tokens: Array(repeating: 1, count: 4)) },
            usage: Usage(completionTokens: 4 * texts.count))
    }
}

final class TaskEvaluationTests: XCTestCase {
    let task = TaskFormat(name: "t", style: .tagged)
    let problem = Problem.math(id: "p", prompt: "Compute 1/2.", answer: "1/2")

    /// maj@k groups equivalent answers (0.5, 1/2, \frac{1}{2}) into one class through the task's extraction.
    func testMajorityGroupsEquivalentAnswers() async throws {
        let model = ScriptedAnswers(
            greedy: "<think>1/2=0.5</think><answer>0.5</answer>",
            samples: [
                "<think>a=1</think><answer>0.5</answer>", "<answer>3</answer>", "<think>b=2</think><answer>\\frac{1}{2}</answer>",
                "<answer>3</answer>", "The answer is 3.",
            ])
        let r = try await TaskEvaluation.run(model: model, task: task, problems: [problem], samples: 5)
        XCTAssertEqual(r.greedyAccuracy, 1)
        XCTAssertEqual(r.sampledAccuracy, 0.4, accuracy: 1e-12)
        XCTAssertEqual(r.majorityAccuracy, 0.5, accuracy: 1e-12, "a 2–2 tie between 1/2 and 3 (the untagged 3 does not vote)")
        XCTAssertEqual(r.formatCompliance, 0.4, accuracy: 1e-12)
        XCTAssertEqual(r.stepsUsed, 0.4, accuracy: 1e-12)
        XCTAssertEqual(r.accuracyWithSteps, 1)
        XCTAssertEqual(r.accuracyWithoutSteps, 0)
        XCTAssertEqual(r.tooLong, 0)
    }

    /// A prompt that does not fit is counted and graded wrong; the others are evaluated.
    func testPromptsThatDoNotFitAreCounted() async throws {
        let model = ScriptedAnswers(greedy: "<answer>1/2</answer>", samples: ["<answer>1/2</answer>"])
        let long = Problem.math(id: "q", prompt: "A long question.", answer: "1/2")
        let r = try await TaskEvaluation.run(model: model, task: task, problems: [problem, long], samples: 1)
        XCTAssertEqual(r.tooLong, 1)
        XCTAssertEqual(r.greedyAccuracy, 0.5)
    }
}
