import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderTasks
import PonderTraining
import PonderVerifiers

struct Recipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe",
        abstract: "Multi-stage training recipes on the arithmetic task, each stage its own resumable run, with one report.",
        discussion: """
            r1 (DeepSeek-R1's pipeline): cold-start SFT on the teacher's worked solutions → GRPO (accuracy + format + \
            language consistency) → rejection sampling of the RL model's verified completions → SFT of the base model on \
            them and the cold-start data → a second GRPO stage. r1-zero: GRPO from the base with the same rewards and the \
            same total RL steps. Every model is evaluated on an easy split (3–5 operations, as trained) and a hard one \
            (6–8 operations, never trained on). Stages live in RUN/1-cold-start, RUN/2-grpo, ...; rerunning the command \
            resumes the first unfinished stage. The report is RUN/report.html with RUN/results.json.
            """)

    enum Name: String, ExpressibleByArgument, CaseIterable {
        case r1
        case r1Zero = "r1-zero"
    }

    @Argument(help: "r1 or r1-zero.") var name: Name
    @Option(name: .long, help: "Base model directory (default: the bundled Models/ponder-tiny-base).") var model: String?
    @Flag(name: .long, help: "A smoke test in CI-friendly time (a minute or two).") var quick = false
    @Option(name: .long, help: "Run directory (default: runs/recipe-NAME).") var run: String?
    @Option(name: .long, help: "GRPO steps per RL stage (default 150, or 4 with --quick).") var rlSteps: Int?
    @Option(name: .long, help: "SFT steps per SFT stage (default 100, or 8 with --quick).") var sftSteps: Int?
    @Option(name: .long, help: "Held-out problems per split (default 128, or 12 with --quick).") var heldOut: Int?
    @Option(name: .long, help: "Problems rejection-sampled for the second SFT stage (default 512, or 24 with --quick).") var pool: Int?
    @Option(name: .long, help: "Samples per problem in evaluations (default 8, or 2 with --quick).") var evalSamples: Int?
    @Option(name: .long, help: "Seed.") var seed: UInt64 = 0

    func run() async throws {
        let started = Date()
        let base = try Demo.locateModel(model)
        let root = URL(fileURLWithPath: run ?? "runs/recipe-\(name.rawValue)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let easyTask = try ArithmeticChain()
        let hardTask = try ArithmeticChain(operations: 6...8)
        let task = easyTask.format
        let n = heldOut ?? (quick ? 12 : 128)
        let easy = easyTask.problems(seed: 7, count: n)
        let hard = hardTask.problems(seed: 8, count: n)
        let heldPrompts = Set((easy + hard).map(\.prompt))
        let training = easyTask.problems(seed: 11, count: 4000).filter { !heldPrompts.contains($0.prompt) }
        let rl = rlSteps ?? (quick ? 4 : 150)
        let sft = sftSteps ?? (quick ? 8 : 100)
        let samples = evalSamples ?? (quick ? 2 : 8)
        var rewards = task.rewards
        rewards.append(WeightedReward(LanguageConsistencyReward(), weight: 0.1))
        let grpo = Stages.GRPOSettings(
            steps: rl, promptsPerStep: quick ? 2 : 8, numGenerations: quick ? 4 : 8, maxCompletionLength: 80, seed: seed, rewards: rewards)
        func evaluate(_ dir: URL, _ label: String) async throws -> [(split: String, evaluation: TaskEvaluation)] {
            [
                (
                    "easy",
                    try await Stages.evaluate(
                        from: dir, task: task, problems: easy, samples: samples, maxTokens: 80, seed: seed,
                        cache: root.appendingPathComponent("eval/\(label)-easy-n\(n)-k\(samples).json"))
                ),
                (
                    "hard",
                    try await Stages.evaluate(
                        from: dir, task: task, problems: hard, samples: samples, maxTokens: 120, seed: seed,
                        cache: root.appendingPathComponent("eval/\(label)-hard-n\(n)-k\(samples).json"))
                ),
            ]
        }
        func metrics(_ stage: String) throws -> [[String: Double]] {
            let url = root.appendingPathComponent(stage).appendingPathComponent("metrics.jsonl")
            guard FileManager.default.fileExists(atPath: url.path) else { return [] }
            return try Demo.readMetrics(url)
        }
        let total = name == .r1 ? 6 : 2
        var k = 0
        func step(_ s: String) {
            k += 1
            Stages.say("[\(k)/\(total)] \(s)")
        }
        Stages.say("ponder recipe \(name.rawValue): \(base.lastPathComponent), \(n) held-out problems per split, RUN \(root.path)")
        step("evaluating the base model…")
        var stages = [StageReport.Stage(name: "base", description: "the pretrained model", evaluations: try await evaluate(base, "0-base"))]
        var final = base
        switch name {
        case .r1Zero:
            step("GRPO from the base (accuracy + format + language consistency), \(2 * rl) steps…")
            final = try await Stages.grpo(
                from: base, task: task, problems: training, run: root.appendingPathComponent("1-grpo"),
                settings: {
                    var g = grpo
                    g.steps = 2 * rl
                    return g
                }())
            stages.append(
                .init(
                    name: "GRPO (R1-Zero)", description: "RL from the base, \(2 * rl) steps",
                    evaluations: try await evaluate(final, "1-grpo"), metrics: try metrics("1-grpo")))
        case .r1:
            let coldStart = training.prefix(512).map {
                SFTExample(prompt: task.prompt(for: $0), completion: easyTask.teacherSolution(for: $0))
            }
            step("cold-start SFT on \(coldStart.count) teacher solutions, \(sft) steps…")
            let stage1 = try await Stages.sft(
                from: base, examples: Array(coldStart), run: root.appendingPathComponent("1-cold-start"),
                settings: .init(steps: sft, seed: seed))
            stages.append(
                .init(
                    name: "cold-start SFT", description: "SFT on the teacher's worked solutions",
                    evaluations: try await evaluate(stage1, "1-cold-start"), metrics: try metrics("1-cold-start")))
            step("GRPO 1 (accuracy + format + language consistency), \(rl) steps…")
            let stage2 = try await Stages.grpo(
                from: stage1, task: task, problems: training, run: root.appendingPathComponent("2-grpo"), settings: grpo)
            stages.append(
                .init(
                    name: "GRPO 1", description: "reasoning-oriented RL", evaluations: try await evaluate(stage2, "2-grpo"),
                    metrics: try metrics("2-grpo")))
            let pool = Array(training.dropFirst(512).prefix(self.pool ?? (quick ? 24 : 512)))
            step(
                "rejection sampling: \(pool.count) problems × \(quick ? 4 : 8) samples from the RL model, verified, shortest correct kept…")
            var keep = RejectionSampler.KeepPolicy()
            keep.shortestFirst = true
            keep.maxPerProblem = 1
            keep.minLanguageConsistency = 0.95
            let samplesFile = root.appendingPathComponent("3-rejection-sampling/sft.jsonl")
            try FileManager.default.createDirectory(at: samplesFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            let (_, sampled) = try await Stages.sample(
                from: stage2, task: task, problems: pool, out: samplesFile, policy: keep, k: quick ? 4 : 8, maxTokens: 80, seed: seed,
                label: "sampled")
            Stages.say("      \(describe(sampled))")
            let union = try Stages.examples(samplesFile) + coldStart
            step("SFT of the base on \(union.count) examples (rejection-sampled + cold start), \(sft) steps…")
            let stage4 = try await Stages.sft(
                from: base, examples: union, run: root.appendingPathComponent("4-sft"), settings: .init(steps: sft, seed: seed))
            stages.append(
                .init(
                    name: "rejection-sampled SFT",
                    description: String(
                        format: "SFT of the base on %d verified RL samples (pass rate %.2f) + the cold-start data", sampled.kept,
                        sampled.passRate),
                    evaluations: try await evaluate(stage4, "4-sft"), metrics: try metrics("4-sft")))
            step("GRPO 2, \(rl) steps…")
            final = try await Stages.grpo(
                from: stage4, task: task, problems: training, run: root.appendingPathComponent("5-grpo"), settings: grpo)
            stages.append(
                .init(
                    name: "GRPO 2", description: "the second RL stage", evaluations: try await evaluate(final, "5-grpo"),
                    metrics: try metrics("5-grpo")))
        }
        let report = StageReport(
            title: "ponder recipe \(name.rawValue)",
            notes: [
                "Task: arithmetic chains answered as <think>steps</think><answer>n</answer>, graded strictly on the tagged answer. Easy split: 3–5 operations (the training distribution); hard split: 6–8 operations (never trained on).",
                "Model: \(base.lastPathComponent). GRPO: \(grpo.promptsPerStep) prompts × \(grpo.numGenerations) samples per step, rewards accuracy + 0.2 × format + 0.1 × language consistency. Evaluation: greedy and \(samples) samples per problem.",
                String(format: "Total time %.0f s (stages already finished were read back, not rerun).", Date().timeIntervalSince(started)),
            ], stages: stages)
        try report.html().write(to: root.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        var results: [[String: Any]] = []
        for s in stages {
            for (split, e) in s.evaluations {
                results.append([
                    "stage": s.name, "split": split, "greedy": e.greedyAccuracy, "sampled": e.sampledAccuracy,
                    "majority": e.majorityAccuracy,
                    "format": e.formatCompliance, "mean_length": e.meanLength,
                ])
            }
        }
        try JSONSerialization.data(
            withJSONObject: ["recipe": name.rawValue, "final_model": final.path, "results": results],
            options: [.prettyPrinted, .sortedKeys]
        )
        .write(to: root.appendingPathComponent("results.json"), options: .atomic)
        print(report.table())
        print("final model: \(final.path)\nreport: \(root.appendingPathComponent("report.html").path)")
    }
}
