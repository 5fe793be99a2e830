import Foundation
import PonderCore
@testable import PonderEval
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
                "<answer>3</answer>", "The answer is 1/2.",
            ])
        let r = try await TaskEvaluation.run(model: model, task: task, problems: [problem], samples: 5)
        XCTAssertEqual(r.greedyAccuracy, 1)
        XCTAssertEqual(r.sampledAccuracy, 0.4, accuracy: 1e-12)
        XCTAssertEqual(r.sampledAccuracyAnyFormat, 0.6, accuracy: 1e-12, "the untagged 1/2 is right in any format")
        XCTAssertEqual(r.greedyAccuracyAnyFormat, 1)
        XCTAssertEqual(r.majorityAccuracy, 0.5, accuracy: 1e-12, "a 2–2 tie between 1/2 and 3 (the untagged 1/2 does not vote)")
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

final class ReportTests: XCTestCase {
    func evaluation(_ greedy: Double, example: String) -> TaskEvaluation {
        TaskEvaluation(
            greedyAccuracy: greedy, sampledAccuracy: 0.5, majorityAccuracy: 0.6, greedyAccuracyAnyFormat: 0.45, sampledAccuracyAnyFormat: 0.55,
            samples: 8, formatCompliance: 0.7, stepsUsed: 0.8,
            accuracyWithSteps: 0.9, accuracyWithoutSteps: 0.1, meanLength: 12, tokens: 100, tooLong: 0, seconds: 1,
            examples: [.init(prompt: "Compute 1<2?", completion: example, correct: true)])
    }

    /// Charts draw every point of every series (a polyline per series, in order) and escape text; the report has the
    /// table, the training charts, the budget chart and escaped samples.
    func testChartsAndReport() throws {
        var chart = SVGChart(
            title: "A & B", xLabel: "tokens",
            series: [
                .init(name: "one", points: [(10, 0.1), (100, 0.5), (1000, 0.9)]), .init(name: "<two>", points: [(20, 0.2), (200, 0.3)]),
            ])
        chart.logX = true
        let svg = chart.render()
        XCTAssertEqual(svg.components(separatedBy: "<polyline").count - 1, 2)
        let first = try XCTUnwrap(svg.range(of: #"points="([^"]*)""#, options: .regularExpression)).upperBound
        XCTAssertGreaterThan(svg.distance(from: svg.startIndex, to: first), 0)
        let pointLists = svg.components(separatedBy: "points=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        XCTAssertEqual(pointLists.map { $0.split(separator: " ").count }, [3, 2])
        // On a log axis 10, 100, 1000 are evenly spaced.
        let xs = pointLists[0].split(separator: " ").map { Double($0.split(separator: ",")[0])! }
        XCTAssertEqual(xs[1] - xs[0], xs[2] - xs[1], accuracy: 0.01)
        XCTAssertTrue(svg.contains("A &amp; B") && svg.contains("&lt;two&gt;") && !svg.contains("<two>"))
        let metrics = (1...5).map { ["step": Double($0), "reward": Double($0) / 5, "rewards/accuracy/mean": 0.5, "completions/mean_length": 20] }
        let curve = try AccuracyBudgetCurve(records: [
            EvalRecord(strategy: "cot", budget: 1, problemID: "p", isCorrect: true, tokens: 10),
            EvalRecord(strategy: "cot", budget: 1, problemID: "q", isCorrect: false, tokens: 12),
        ])
        let html = DemoReport(
            title: "demo <test>", before: evaluation(0.25, example: "<think>1<2</think>"), after: evaluation(0.75, example: "ok"),
            metrics: metrics, budgetCurves: [("base", curve)]
        ).html()
        XCTAssertTrue(html.contains("demo &lt;test&gt;"))
        XCTAssertTrue(html.contains("25.0%") && html.contains("75.0%"), "the before/after table")
        XCTAssertTrue(html.contains("&lt;think&gt;1&lt;2&lt;/think&gt;"), "samples are escaped")
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7, "six training charts and the budget chart")
    }
}
