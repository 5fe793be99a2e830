import ArgumentParser
import Foundation
import PonderConfiguration
import PonderCore
import PonderModels
import PonderTasks
import PonderTraining

/// What both reward-data commands share: the policy, the problems, sampling, and the resumable JSONL output.
struct RewardDataOptions: ParsableArguments {
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var problems: ProblemOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "Solutions sampled per problem.") var samples = 4
    @Option(name: .long, help: "Output JSONL; appended to, and problems already in it are skipped (resume by rerunning).") var out: String

    func validate() throws { if samples < 1 { throw ValidationError("--samples must be at least 1") } }
}

/// An append-only JSONL output that remembers which problems are done: `OUT.done` lists a problem's id once all its
/// records are written (problems that gave none included), so a rerun continues where the last one stopped. Records
/// of a problem cut off mid-way (and a cut-off last line) are dropped when the file is reopened, so that problem is
/// redone whole.
struct ResumableJSONL {
    let url: URL
    let doneURL: URL
    private(set) var done: Set<String> = []

    init(_ path: String) throws {
        url = URL(fileURLWithPath: path)
        doneURL = URL(fileURLWithPath: path + ".done")
        func read(_ file: URL) throws -> String? {
            guard FileManager.default.fileExists(atPath: file.path) else { return nil }
            do { return try String(contentsOf: file, encoding: .utf8) } catch {
                throw ValidationError("\(file.path): cannot read (\(error.localizedDescription))")
            }
        }
        // Only newline-terminated lines count: the last one may have been cut off.
        func completeLines(_ text: String) -> [Substring] {
            text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().filter { !$0.isEmpty }
        }
        if let text = try read(doneURL) { done = Set(completeLines(text).map(String.init)) }
        guard let text = try read(url) else { return }
        var kept: [Substring] = []
        for (n, line) in completeLines(text).enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let id = object["id"] as? String
            else {
                throw ValidationError(
                    "\(url.path):\(n + 1): not a JSON object with a string \"id\" (is this a file another command wrote?)")
            }
            if done.contains(id) { kept.append(line) }
        }
        let cleaned = kept.map { $0 + "\n" }.joined()
        if cleaned != text {
            try Data(cleaned.utf8).write(to: url, options: .atomic)
            FileHandle.standardError.write(Data("\(url.path): dropped the records of an unfinished problem; it is redone\n".utf8))
        }
    }

    /// Appends `records`, then marks `id` done.
    mutating func append(_ records: [some Encodable], id: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        for r in records { data += try encoder.encode(r) + Data("\n".utf8) }
        try Self.append(data, to: url)
        try Self.append(Data((id + "\n").utf8), to: doneURL)
        done.insert(id)
    }

    static func append(_ data: Data, to url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) { FileManager.default.createFile(atPath: url.path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: url.path) else { throw ValidationError("\(url.path): cannot open for appending") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: data)
    }
}

extension RewardDataOptions {
    /// Loads the model and problems, then runs `perProblem` on each problem not yet in the output, printing progress.
    func run(
        label: String, builder make: (Engine, any ReasoningTask, SamplingParameters) -> RewardDataBuilder,
        perProblem: (RewardDataBuilder, Problem, UInt64) async throws -> (records: [any Encodable], note: String)
    ) async throws {
        let engine = try modelOptions.loadEngine()
        let (task, all) = try await problems.load()
        let withAnswers = all.filter { $0.answer != nil }
        guard !withAnswers.isEmpty else {
            throw ValidationError("none of the \(all.count) problems has a reference answer; \(label) needs them")
        }
        var output = try ResumableJSONL(out)
        let todo = withAnswers.enumerated().filter { !output.done.contains($0.element.id) }
        let builder = make(engine, task, sampling.parameters(defaults: engine.generationDefaults))
        FileHandle.standardError.write(
            Data(
                "\(label): \(todo.count) of \(withAnswers.count) problems to do (\(withAnswers.count - todo.count) already in \(out))\n"
                    .utf8))
        let start = Date()
        var written = 0
        for (k, (index, problem)) in todo.enumerated() {
            let (records, note) = try await perProblem(builder, problem, UInt64(index) &* 1_000_003)
            try output.append(records.map(AnyEncodable.init), id: problem.id)
            written += records.count
            let perProblem = Date().timeIntervalSince(start) / Double(k + 1)
            FileHandle.standardError.write(
                Data(
                    "[\(k + 1)/\(todo.count)] \(problem.id): \(note); \(written) records  ETA \(ProgressBar.duration(perProblem * Double(todo.count - k - 1)))\n"
                        .utf8))
        }
        FileHandle.standardError.write(Data("wrote \(written) records to \(out)\n".utf8))
    }
}

/// Type erasure for appending records of either command.
struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: Encoder) throws { try value.encode(to: encoder) }
}

struct PRMLabels: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prm-labels",
        abstract:
            "Math-Shepherd step labels: sample solutions, cut them into steps, complete each step prefix N times, and label each step by whether (hard) or how often (soft) its completions reach the reference; writes TRL's PRMTrainer format (prompt, completions, labels) plus soft_labels."
    )

    @OptionGroup var options: RewardDataOptions
    @Option(name: .long, help: "Monte-Carlo completions from each step prefix.") var completionsPerStep = 4
    @Option(name: .long, help: "Text that ends a reasoning step.") var delimiter = "\n\n"
    @Option(name: .long, help: "Most steps per solution (the rest joins the last step).") var maxSteps = 12

    func validate() throws {
        if completionsPerStep < 1 { throw ValidationError("--completions-per-step must be at least 1") }
        if delimiter.isEmpty { throw ValidationError("--delimiter must not be empty") }
        if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
    }

    func run() async throws {
        try await options.run(label: "prm-labels") { engine, task, parameters in
            RewardDataBuilder(
                rollouts: engine, task: task, parameters: parameters, samples: options.samples, completionsPerStep: completionsPerStep,
                delimiter: delimiter, maxSteps: maxSteps)
        } perProblem: { builder, problem, seed in
            let records = try await builder.stepLabels(for: problem, seed: seed)
            let steps = records.map(\.labels.count).reduce(0, +)
            let positive = records.flatMap(\.labels).filter { $0 }.count
            return (records, "\(records.count) solutions, \(steps) steps, \(positive) labelled correct")
        }
    }
}

struct Preferences: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preferences",
        abstract:
            "Chosen/rejected pairs from verified vs failed samples of the same problem, in TRL's RewardTrainer/DPO format (prompt, chosen, rejected)."
    )

    @OptionGroup var options: RewardDataOptions
    @Option(name: .long, help: "Also append every graded sample (prompt, completion, label) here, for pointwise outcome training.")
    var outcomes: String?

    func run() async throws {
        var outcomeFile = try outcomes.map(ResumableJSONL.init)
        try await options.run(label: "preferences") { engine, task, parameters in
            RewardDataBuilder(rollouts: engine, task: task, parameters: parameters, samples: options.samples)
        } perProblem: { builder, problem, seed in
            let graded = try await builder.outcomes(for: problem, seed: seed)
            if outcomeFile?.done.contains(problem.id) == false { try outcomeFile?.append(graded, id: problem.id) }
            let pairs = RewardDataBuilder.preferences(from: graded)
            return (pairs, "\(graded.filter(\.label).count)/\(graded.count) verified, \(pairs.count) pairs")
        }
    }
}
