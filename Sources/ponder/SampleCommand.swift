import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTraining

/// The keep policy of rejection sampling as flags (shared by `sample`, `distill` and `star`).
struct KeepOptions: ParsableArguments {
    @Option(name: .long, help: "Samples per problem.") var k = 8
    @Option(name: .long, help: "Keep at most this many completions per problem (default: all that pass).") var maxPerProblem: Int?
    @Flag(name: .long, help: "Keep incorrect completions too (default: correct only).") var keepIncorrect = false
    @Flag(name: .long, help: "Keep completions outside the task's answer format too.") var allowUnformatted = false
    @Flag(name: .long, help: "Keep identical completions more than once.") var keepDuplicates = false
    @Flag(name: .long, help: "Prefer the shortest kept completions (with --max-per-problem 1: the shortest correct one).")
    var shortest = false
    @Option(
        name: .long, help: "Keep only completions whose reasoning has at least this share of Latin letters (R1's language consistency).")
    var minLanguageConsistency: Double?
    @Option(name: .long, help: "Most new tokens per sample.") var maxTokens = 96
    @Option(name: .long, help: "Problems sampled at once.") var concurrency = 8

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if let maxPerProblem, maxPerProblem < 1 { throw ValidationError("--max-per-problem must be at least 1") }
        if let m = minLanguageConsistency, !(m >= 0 && m <= 1) { throw ValidationError("--min-language-consistency must be in [0, 1]") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
    }

    var policy: RejectionSampler.KeepPolicy {
        var p = RejectionSampler.KeepPolicy()
        p.correctOnly = !keepIncorrect
        p.requireFormat = !allowUnformatted
        p.deduplicate = !keepDuplicates
        p.shortestFirst = shortest
        p.maxPerProblem = maxPerProblem
        p.minLanguageConsistency = minLanguageConsistency
        return p
    }

    func sampler(model: any LanguageModel, task: any ReasoningTask, seed: UInt64, temperature: Double) -> RejectionSampler {
        RejectionSampler(
            model: model, task: task, policy: policy, k: k, parameters: SamplingParameters(maxTokens: maxTokens, temperature: temperature),
            seed: seed, concurrency: concurrency)
    }
}

/// Prints sampling progress on standard error.
func samplingProgress(_ label: String) -> @Sendable (Int, Int) -> Void {
    let began = Date()
    return { done, total in
        let elapsed = Date().timeIntervalSince(began)
        FileHandle.standardError.write(Data("\(label): \(done)/\(total) problems  \(String(format: "%.1f", elapsed)) s\n".utf8))
    }
}

/// One line summing up sampling stats.
func describe(_ s: RejectionSampler.Stats) -> String {
    String(
        format:
            "%d problems × %d samples: pass rate %.3f, solved %.3f, format %.3f; kept %d (%d problems), kept length median %d tokens [%d, %d]",
        s.problems, s.problems > 0 ? s.samples / s.problems : 0, s.passRate, s.solvedRate, s.formatRate, s.kept, s.problemsWithKept,
        s.keptLength.median, s.keptLength.min, s.keptLength.max)
}

struct Sample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract:
            "Rejection sampling: k samples per problem, graded by the task, filtered into an SFT JSONL (prompt, completion) with stats.",
        discussion:
            "The samples come from a local model (--model DIR) or from any OpenAI-compatible server (--endpoint URL --api-model NAME, e.g. vLLM, SGLang or `ponder serve`); grading stays local. Resumable: finished problems are recorded in OUT.progress.jsonl and skipped on restart. OUT and OUT.stats.json are written atomically at the end."
    )

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var endpointOptions: EndpointOptions
    @OptionGroup var problems: ProblemOptions
    @OptionGroup var keep: KeepOptions
    @Option(name: .long, help: "Seed of the samples.") var seed: UInt64 = 0
    @Option(name: .long, help: "Sampling temperature.") var temperature = 1.0
    @Option(name: .long, help: "The SFT JSONL to write.") var out: String

    func validate() throws {
        if !(temperature > 0) { throw ValidationError("--temperature must be positive: rejection sampling needs diverse samples") }
    }

    func run() async throws {
        let model = try endpointOptions.languageModel(local: modelOptions)
        let (task, problems) = try await self.problems.load()
        let (_, stats) = try await keep.sampler(model: model, task: task, seed: seed, temperature: temperature).run(
            problems: problems, output: URL(fileURLWithPath: out), onProblem: samplingProgress("sampled"))
        print(describe(stats))
        print("wrote \(out) and \(RejectionSampler.statsURL(URL(fileURLWithPath: out)).path)")
    }
}
