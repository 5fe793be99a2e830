import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderTasks
import PonderTraining

struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model on held-out problems: greedy and sampled accuracy, maj@k, format compliance, length.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Problems JSONL (prompt, answer), e.g. from `ponder data problems`.") var data: String
    @Option(name: .long, help: "Samples per problem for sampled accuracy and maj@k.") var samples = 8
    @Option(name: .long, help: "Most new tokens per completion.") var maxTokens = 96
    @Option(name: .long, help: "Evaluate only the first N problems.") var limit: Int?
    @Option(name: .long, help: "Write the results as JSON here.") var out: String?

    func run() async throws {
        let engine = try modelOptions.loadEngine()
        var problems = try GRPO.problems(URL(fileURLWithPath: data), promptField: "prompt", answerField: "answer")
        if let limit { problems = Array(problems.prefix(limit)) }
        let result = try await TaskEvaluation.run(
            model: engine, problems: problems, makePrompt: { .text($0.prompt) }, samples: samples, maxTokens: maxTokens)
        print(
            String(
                format:
                    "greedy %.3f | sampled pass@1 %.3f | maj@%d %.3f | format %.3f | steps %.3f | mean length %.1f tokens | %d tokens in %.1f s",
                result.greedyAccuracy, result.sampledAccuracy, samples, result.majorityAccuracy, result.formatCompliance, result.stepsUsed,
                result.meanLength, result.tokens, result.seconds))
        for e in result.examples {
            print("\(e.correct ? "✓" : "✗") \(e.prompt) → \(e.completion.replacingOccurrences(of: "\n", with: "⏎"))")
        }
        if let out {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(result).write(to: URL(fileURLWithPath: out), options: .atomic)
        }
    }
}
