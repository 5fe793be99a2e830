import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderTasks

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model on a task: greedy and sampled accuracy, maj@k, format compliance, length (graded by the task).",
        discussion: "For accuracy against tokens spent by test-time strategies, see `ponder sweep`.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var endpointOptions: EndpointOptions
    @OptionGroup var problems: ProblemOptions
    @Option(name: .long, help: "Samples per problem for sampled accuracy and maj@k.") var samples = 8
    @Option(name: .long, help: "Most new tokens per completion.") var maxTokens = 96
    @Option(name: .long, help: "Sampling temperature (default: the model's generation config, else 1).") var temperature: Double?
    @Option(name: .long, help: "Seed of the sampled completions.") var seed: UInt64 = 0
    @Option(name: .long, help: "Write the results as JSON here.") var out: String?

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    func run() async throws {
        let engine = try endpointOptions.languageModel(local: modelOptions)
        let (task, problems) = try await self.problems.load()
        FileHandle.standardError.write(Data("evaluating \(problems.count) \(task.name) problems, \(samples) samples each…\n".utf8))
        let result = try await TaskEvaluation.run(
            model: engine, task: task, problems: problems, samples: samples, maxTokens: maxTokens, temperature: temperature, seed: seed)
        print(
            String(
                format:
                    "greedy %.3f | sampled pass@1 %.3f | maj@%d %.3f | format %.3f | steps %.3f | mean length %.1f tokens | %d tokens in %.1f s",
                result.greedyAccuracy, result.sampledAccuracy, samples, result.majorityAccuracy, result.formatCompliance, result.stepsUsed,
                result.meanLength, result.tokens, result.seconds))
        print(
            String(
                format: "any answer format (lenient extraction): greedy %.3f | sampled pass@1 %.3f", result.greedyAccuracyAnyFormat,
                result.sampledAccuracyAnyFormat))
        if result.tooLong > 0 {
            print(
                "\(result.tooLong) of \(problems.count) prompts do not fit the model's context with \(maxTokens) new tokens; they count as wrong"
            )
        }
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
