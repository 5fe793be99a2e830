import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderSearch
import PonderTasks
import PonderTokenizers
import PonderTraining
import PonderVerifiers

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The R1 story on a CPU: evaluate the bundled base model, train it with GRPO on verifiable rewards, evaluate again, write a report."
    )

    enum Recipe: String, ExpressibleByArgument {
        /// GRPO from the base model with accuracy and format rewards only.
        case r1zero = "r1-zero"
        /// An SFT cold start on the teacher's worked solutions, then GRPO.
        case r1
    }

    @Option(name: .long, help: "Base model directory (default: the bundled Models/ponder-tiny-base).") var model: String?
    @Option(name: .long, help: "r1-zero (GRPO from the base) or r1 (SFT cold start first).") var recipe: Recipe = .r1zero
    @Flag(name: .long, help: "A smoke test that finishes in about a minute.") var quick = false
    @Option(name: .long, help: "GRPO steps (default 300, or 10 with --quick).") var steps: Int?
    @Option(name: .long, help: "Held-out problems to evaluate on (default 256, or 24 with --quick).") var heldOut: Int?
    @Option(
        name: .long,
        help: "Task of the held-out problems: arithmetic (the training distribution) or arithmetic-hard (the hard split: larger operands).")
    var heldOutTask: TaskName = .arithmetic
    @Option(name: .long, help: "Run directory.") var run = "runs/demo"
    @Option(name: .long, help: "Seed.") var seed: UInt64 = 0

    func run() async throws {
        let started = Date()
        let dir = try Self.locateModel(model)
        let say = { (s: String) in FileHandle.standardError.write(Data((s + "\n").utf8)) }
        let generator = try ArithmeticChain()
        let task = generator.format
        let heldGenerator = try heldOutTask.make()
        let held = heldGenerator.problems(seed: 7, count: heldOut ?? (quick ? 24 : 256))
        let evalTokens = 80
        let heldPrompts = Set(held.map(\.prompt))
        let training = generator.problems(seed: 11, count: 4000).filter { !heldPrompts.contains($0.prompt) }
        let policy = try ModelDirectory.load(dir, dtype: .float32)
        let tokenizer = try Tokenizer.load(directory: dir)
        let engine = try Engine(model: policy, directory: dir, chat: false, options: .init(prefixCacheBytes: 0))
        let samples = quick ? 4 : 8
        let runDir = try RunDirectory(URL(fileURLWithPath: run))
        for stale in [runDir.metricsURL, runDir.completionsURL] { try? FileManager.default.removeItem(at: stale) }
        say(
            "ponder demo: \(recipe.rawValue) on \(dir.lastPathComponent) (\(policy.parameterCount) parameters), \(held.count) held-out problems"
        )

        say("[1/4] evaluating the base model…")
        let before = try await TaskEvaluation.run(
            model: engine, task: task, problems: held, samples: samples, maxTokens: evalTokens, seed: seed)
        say(Self.summary(before))

        if recipe == .r1 {
            say("[2/4] SFT cold start on the teacher's worked solutions…")
            var sftConfig = SFTTrainer.Configuration.defaults
            sftConfig.training.steps = quick ? 10 : 100
            sftConfig.training.learningRate = 3e-4
            sftConfig.training.decay = .constant
            sftConfig.training.seed = seed
            sftConfig.training.saveEvery = 1_000_000
            sftConfig.batchSize = 16
            let examples = training.prefix(512).map {
                SFTExample(prompt: task.prompt(for: $0), completion: generator.teacherSolution(for: $0))
            }
            let sft = try SFTTrainer(
                configuration: sftConfig, model: policy, tokenizer: tokenizer, template: nil, examples: Array(examples),
                endToken: engine.endTokens.min()!)
            _ = try await sft.train(
                run: RunDirectory(URL(fileURLWithPath: run).appendingPathComponent("sft")),
                onStep: ProgressBar(keys: ["loss"], every: 10).update)
        } else {
            say("[2/4] (r1-zero: no SFT cold start)")
        }

        say("[3/4] GRPO with accuracy and format rewards…")
        var c = GRPOTrainer.Configuration.defaults
        c.training.steps = steps ?? (quick ? 10 : 300)
        c.training.learningRate = 2e-4
        c.training.decay = .linear
        c.training.minimumLearningRateRatio = 0
        c.training.seed = seed
        c.training.saveEvery = quick ? 1_000_000 : 100
        c.training.keepCheckpoints = 1
        c.numGenerations = 8
        c.promptsPerStep = quick ? 4 : 8
        c.temperature = 1
        c.maxCompletionLength = 80
        c.lossType = .dapo
        c.chunkRows = 32
        c.logKL = true  // the report charts how far the policy moves from the base
        // The task's rewards: accuracy on the tagged answer + 0.2 × the strict format.
        let reference = try ModelDirectory.load(dir, dtype: .float32)
        let trainer = try GRPOTrainer(
            configuration: c, policy: policy, rollouts: engine, task: task, problems: training, reference: reference)
        let bar = ProgressBar(keys: ["reward", "rewards/accuracy/mean", "completions/mean_length"], every: 10)
        _ = try await trainer.train(
            run: runDir, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(), onStep: bar.update)

        say("[4/4] evaluating the trained model…")
        let after = try await TaskEvaluation.run(
            model: engine, task: task, problems: held, samples: samples, maxTokens: evalTokens, seed: seed)
        say(Self.summary(after))

        say("[+] test-time compute: accuracy against tokens for both models…")
        let sweep = Array(held.prefix(quick ? 6 : 48))
        let budgets = quick ? [1, 2] : [1, 4, 16]
        let baseEngine = try Engine(model: reference, directory: dir, chat: false, name: "base", options: .init(prefixCacheBytes: 64 << 20))
        let trainedEngine = try Engine(
            model: policy, directory: dir, chat: false, name: "trained", options: .init(prefixCacheBytes: 64 << 20))
        var curves: [(model: String, curve: AccuracyBudgetCurve)] = []
        for (label, model) in [("base", baseEngine), ("after RL", trainedEngine)] {
            let curve = try await Self.budgetSweep(
                model: model, task: task, problems: sweep, budgets: budgets, seed: seed, maxTokens: evalTokens)
            curves.append((label, curve))
            for p in curve.points {
                say(
                    String(
                        format: "      %@ %@ budget %d: accuracy %.3f, %.0f tokens", label, p.strategy, p.budget, p.accuracy.estimate,
                        p.meanTokens))
            }
        }

        let metrics = try Self.readMetrics(runDir.metricsURL)
        let elapsed = Date().timeIntervalSince(started)
        let report = DemoReport(
            title: "ponder demo (\(recipe.rawValue))", before: before, after: after, metrics: metrics,
            notes: [
                "Task: arithmetic chains (Compute 34+27-15+8.), answered as <think>steps</think><answer>n</answer>; graded strictly on the tagged answer (the any-format rows grade the answer found by lenient extraction). Held out: \(held.count) \(heldGenerator.name) problems.",
                "Model: \(dir.lastPathComponent), \(policy.parameterCount) parameters. GRPO: \(c.promptsPerStep) prompts × \(c.numGenerations) samples, \(c.training.steps) steps, rewards accuracy + 0.2 × format.",
                String(format: "Total time %.0f s; evaluation tokens %d before, %d after.", elapsed, before.tokens, after.tokens),
                "Test-time compute: \(sweep.count) held-out problems; every strategy is reference-free (best-of-N, beam search, DVTS and MCTS guided by the vote scorer: answer agreement and Monte-Carlo rollouts voted against their consensus), except the dashed best-of-N [oracle], an upper bound that reads the answer key. Tokens are generated plus scoring; answers graded by equivalence, whatever their format.",
            ], budgetCurves: curves)
        let reportURL = runDir.url.appendingPathComponent("report.html")
        try report.html().write(to: reportURL, atomically: true, encoding: .utf8)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(["before": before, "after": after]).write(
            to: runDir.url.appendingPathComponent("results.json"), options: .atomic)
        print(Self.table(before, after, samples: samples))
        print(String(format: "time %.0f s; report: %@", elapsed, reportURL.path))
    }

    /// Reference-free strategies at each budget (chain of thought, self-consistency, best-of-N, beam search, DVTS and
    /// MCTS with the vote scorer), and best-of-N with the oracle as a labelled upper bound.
    static func budgetSweep(
        model: Engine, task: any ReasoningTask, problems: [Problem], budgets: [Int], seed: UInt64, maxTokens: Int = 80
    ) async throws -> AccuracyBudgetCurve {
        let search = try SearchConfiguration.parse([
            "--delimiter", ", ", "--rollouts", "2", "--max-tokens", "\(maxTokens)", "--temperature", "1", "--seed", "\(seed)",
        ])
        var oracle = search
        oracle.scorer = .oracle
        let plans = [
            StrategySweep.Plan(.cot, budgets: [1], configuration: search), .init(.selfConsistency, budgets: budgets, configuration: search),
            .init(.bestOfN, budgets: budgets, configuration: search), .init(.beam, budgets: budgets, configuration: search),
            .init(.dvts, budgets: budgets, configuration: search), .init(.mcts, budgets: budgets, configuration: search),
            .init(.bestOfN, budgets: budgets, configuration: oracle),
        ]
        return try await StrategySweep(task: task, problems: problems).run(plans, model: model).curve
    }

    static func summary(_ e: TaskEvaluation) -> String {
        String(
            format: "      greedy %.1f%%, sampled %.1f%%, maj %.1f%%, format %.1f%%, mean length %.1f tokens (%.0f s)",
            e.greedyAccuracy * 100, e.sampledAccuracy * 100, e.majorityAccuracy * 100, e.formatCompliance * 100, e.meanLength, e.seconds)
    }

    static func table(_ a: TaskEvaluation, _ b: TaskEvaluation, samples: Int) -> String {
        func row(_ name: String, _ x: Double, _ y: Double, _ percent: Bool = true) -> String {
            let f = { (v: Double) in percent ? String(format: "%6.1f%%", v * 100) : String(format: "%7.1f", v) }
            return name.padding(toLength: 26, withPad: " ", startingAt: 0) + " " + f(x) + "   " + f(y)
        }
        return [
            "                              base   after RL",
            row("greedy pass@1", a.greedyAccuracy, b.greedyAccuracy),
            row("  any answer format", a.greedyAccuracyAnyFormat, b.greedyAccuracyAnyFormat),
            row("sampled pass@1", a.sampledAccuracy, b.sampledAccuracy),
            row("  any answer format", a.sampledAccuracyAnyFormat, b.sampledAccuracyAnyFormat),
            row("maj@\(samples)", a.majorityAccuracy, b.majorityAccuracy), row("format compliance", a.formatCompliance, b.formatCompliance),
            row("samples with steps", a.stepsUsed, b.stepsUsed), row("  accuracy with steps", a.accuracyWithSteps, b.accuracyWithSteps),
            row("  accuracy without steps", a.accuracyWithoutSteps, b.accuracyWithoutSteps),
            row("mean length (tokens)", a.meanLength, b.meanLength, false),
            row("tokens generated", Double(a.tokens), Double(b.tokens), false), row("evaluation seconds", a.seconds, b.seconds, false),
        ].joined(separator: "\n")
    }

    static func readMetrics(_ url: URL) throws -> [[String: Double]] {
        try JSONLines.read(url).map { $0.compactMapValues { ($0 as? NSNumber)?.doubleValue } }
    }

    /// The model directory: as given, else the bundled one beside the working directory or the executable.
    static func locateModel(_ given: String?) throws -> URL {
        if let given { return URL(fileURLWithPath: given) }
        // The working directory, then the directories above the executable (it sits inside .build/…).
        var candidates = [URL(fileURLWithPath: "Models/ponder-tiny-base")]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("Models/ponder-tiny-base"))
            dir.deleteLastPathComponent()
        }
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("config.json").path) })
        else {
            throw ValidationError(
                "the bundled model Models/ponder-tiny-base was not found (looked in \(candidates.map(\.path).joined(separator: ", "))); pass --model DIR"
            )
        }
        return found
    }
}
