import ArgumentParser
import Foundation
import PonderConfiguration
import PonderCore
import PonderModels
import PonderSearch
import PonderTasks
import PonderTraining

/// What both reward-data commands share: the policy, the problems, sampling, and the resumable JSONL output.
struct RewardDataOptions: ParsableArguments {
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var problems: ProblemOptions
    @OptionGroup var sampling: SamplingOptions
    @Option(name: .long, help: "Solutions sampled per problem (default 4; not with --from mcts).") var samples: Int?
    @Option(name: .long, help: "Output JSONL; appended to, and problems already in it are skipped (resume by rerunning).") var out: String

    /// Solutions sampled per problem.
    var sampleCount: Int { samples ?? 4 }

    func validate() throws { if let samples, samples < 1 { throw ValidationError("--samples must be at least 1") } }
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
    func run<Builder>(
        label: String, builder make: (Engine, any ReasoningTask, SamplingParameters) throws -> Builder,
        perProblem: (Builder, Problem, UInt64) async throws -> (records: [any Encodable], note: String)
    ) async throws {
        let engine = try modelOptions.loadEngine()
        let (task, all) = try await problems.load()
        let withAnswers = all.filter { $0.answer != nil }
        guard !withAnswers.isEmpty else {
            throw ValidationError("none of the \(all.count) problems has a reference answer; \(label) needs them")
        }
        var output = try ResumableJSONL(out)
        let todo = withAnswers.enumerated().filter { !output.done.contains($0.element.id) }
        let builder = try make(engine, task, sampling.parameters(defaults: engine.generationDefaults))
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
                rollouts: engine, task: task, parameters: parameters, samples: options.sampleCount, completionsPerStep: completionsPerStep,
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
            "Chosen/rejected pairs in TRL's RewardTrainer/DPO format (prompt, chosen, rejected): verified vs failed samples of the same problem (--from samples), or step-level pairs from a Monte Carlo tree search per problem (--from mcts).",
        discussion: """
            --from mcts (the MCTS + DPO recipe: MCTS-DPO, rStar-Math's per-step pairs): for each problem, MCTS (PUCT) grows \
            a tree of steps (cut at --delimiter) from the model; each new step's value is the fraction of --rollouts \
            completions from it that the task grades right against the problem's reference (training data may read it), \
            backed up as Q. At each decision point, among sibling steps visited at least --min-visits times, the highest-Q \
            step is chosen and the lowest-Q one rejected when their Q differ by at least --margin; at most \
            --max-pairs-per-problem pairs per problem (widest gaps first), duplicates dropped. The prompt is the problem's \
            prompt followed by the shared steps (it ends at a step boundary); chosen_complete / rejected_complete say \
            whether a step ends the solution (ponder dpo appends the end-of-sequence token only then). Each record also \
            carries chosen_q, rejected_q, their visits, the depth and the tree nodes; --trees keeps the whole trees.
            """
    )

    enum Source: String, ExpressibleByArgument, CaseIterable {
        case samples, mcts
    }

    @OptionGroup var options: RewardDataOptions
    @Option(
        name: .long, help: "Where pairs come from: samples (whole verified vs failed samples) or mcts (step-level pairs from tree search).")
    var from: Source = .samples
    @Option(
        name: .long,
        help: "Also append every graded sample (prompt, completion, label) here, for pointwise outcome training (--from samples).")
    var outcomes: String?
    @Option(name: .long, help: "MCTS iterations per problem (--from mcts; default 24).") var iterations: Int?
    @Option(name: .long, help: "Next steps sampled when a node is expanded (--from mcts; default 4).") var expansions: Int?
    @Option(name: .long, help: "Rollouts from each new step that estimate its value against the reference (--from mcts; default 4).")
    var rollouts: Int?
    @Option(
        name: .long,
        help: "PUCT exploration constant (--from mcts; default 3: wider than search's 1, so sibling steps get the visits a pair needs).")
    var exploration: Double?
    @Option(name: .long, help: "Text that ends a step (--from mcts; default a blank line).") var delimiter: String?
    @Option(name: .long, help: "Most steps per solution (--from mcts; default 20).") var maxDepth: Int?
    @Option(name: .long, help: "Least Q difference between the chosen and the rejected step (--from mcts; default 0.2).")
    var margin: Double?
    @Option(name: .long, help: "Least visits of each step of a pair (--from mcts; default 2).") var minVisits: Int?
    @Option(name: .long, help: "Most pairs per problem, widest Q gaps first (--from mcts; default 4).") var maxPairsPerProblem: Int?
    @Option(name: .long, help: "Also append each problem's search tree (nodes with text, visits and Q) here (--from mcts).")
    var trees: String?

    /// The MCTS flags given on the command line, by name.
    var searchFlags: [String] {
        [
            ("--iterations", iterations != nil), ("--expansions", expansions != nil), ("--rollouts", rollouts != nil),
            ("--exploration", exploration != nil), ("--delimiter", delimiter != nil), ("--max-depth", maxDepth != nil),
            ("--margin", margin != nil), ("--min-visits", minVisits != nil), ("--max-pairs-per-problem", maxPairsPerProblem != nil),
            ("--trees", trees != nil),
        ].filter { $0.1 }.map { $0.0 }
    }

    var selection: StepPreferenceBuilder.Selection {
        StepPreferenceBuilder.Selection(margin: margin ?? 0.2, minimumVisits: minVisits ?? 2, maxPairsPerProblem: maxPairsPerProblem ?? 4)
    }

    func validate() throws {
        switch from {
        case .samples:
            if let flag = searchFlags.first { throw ValidationError("\(flag) applies to --from mcts only") }
        case .mcts:
            if outcomes != nil {
                throw ValidationError("--outcomes applies to --from samples only (MCTS pairs are steps, not graded samples)")
            }
            if options.samples != nil {
                throw ValidationError("--samples applies to --from samples only; MCTS samples --expansions steps per expanded node")
            }
            if let iterations, iterations < 1 { throw ValidationError("--iterations \(iterations): must be at least 1") }
            if let expansions, expansions < 2 {
                throw ValidationError("--expansions \(expansions): must be at least 2 (a pair needs two sibling steps)")
            }
            if let rollouts, rollouts < 1 { throw ValidationError("--rollouts \(rollouts): must be at least 1") }
            if let exploration, !(exploration >= 0 && exploration.isFinite) {
                throw ValidationError("--exploration \(exploration): must be a finite number >= 0")
            }
            if delimiter == "" { throw ValidationError("--delimiter must not be empty") }
            if let maxDepth, maxDepth < 1 { throw ValidationError("--max-depth \(maxDepth): must be at least 1") }
            if let margin, !(margin > 0 && margin <= 1) {
                throw ValidationError("--margin \(margin): must be in (0, 1] (Q values are fractions of rollouts graded right)")
            }
            if let minVisits, minVisits < 1 { throw ValidationError("--min-visits \(minVisits): must be at least 1") }
            if let maxPairsPerProblem, maxPairsPerProblem < 1 {
                throw ValidationError("--max-pairs-per-problem \(maxPairsPerProblem): must be at least 1")
            }
        }
    }

    func run() async throws {
        switch from {
        case .samples: try await fromSamples()
        case .mcts: try await fromSearch()
        }
    }

    func fromSamples() async throws {
        var outcomeFile = try outcomes.map(ResumableJSONL.init)
        try await options.run(label: "preferences") { engine, task, parameters in
            RewardDataBuilder(rollouts: engine, task: task, parameters: parameters, samples: options.sampleCount)
        } perProblem: { builder, problem, seed in
            let graded = try await builder.outcomes(for: problem, seed: seed)
            if outcomeFile?.done.contains(problem.id) == false { try outcomeFile?.append(graded, id: problem.id) }
            let pairs = RewardDataBuilder.preferences(from: graded)
            return (pairs, "\(graded.filter(\.label).count)/\(graded.count) verified, \(pairs.count) pairs")
        }
    }

    /// One problem's search tree, as `--trees` stores it.
    struct TreeRecord: Encodable {
        var id: String
        var prompt: String
        var nodes: [SearchNode]
    }

    func fromSearch() async throws {
        var treeFile = try trees.map(ResumableJSONL.init)
        try await options.run(label: "preferences (mcts)") { engine, task, parameters -> StepPreferenceBuilder in
            let builder = StepPreferenceBuilder(
                model: engine, task: task, parameters: parameters, iterations: iterations ?? 24, expansions: expansions ?? 4,
                exploration: exploration ?? 3, rollouts: rollouts ?? 4, delimiter: delimiter ?? "\n\n", maxDepth: maxDepth ?? 20,
                selection: selection)
            try builder.validate()
            return builder
        } perProblem: { builder, problem, seed in
            let (pairs, trace) = try await builder.pairs(for: problem, seed: seed)
            if treeFile?.done.contains(problem.id) == false {
                try treeFile?.append(
                    [TreeRecord(id: problem.id, prompt: try builder.promptText(for: problem), nodes: trace)], id: problem.id)
            }
            let gaps = pairs.map { String(format: "%.2f", $0.chosenQ - $0.rejectedQ) }.joined(separator: " ")
            return (
                pairs,
                "\(trace.count) nodes, root Q \(String(format: "%.2f", trace[0].value ?? 0)), \(pairs.count) pairs"
                    + (gaps.isEmpty ? "" : " (Q gaps \(gaps))")
            )
        }
    }
}
