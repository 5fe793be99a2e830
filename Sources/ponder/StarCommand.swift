import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderTasks
import PonderTraining

struct Star: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "star",
        abstract:
            "STaR (Zelikman et al. 2022): sample rationales, keep the correct ones, rationalise failures with the answer as a hint, fine-tune the original model on the union; repeat until train accuracy plateaus.",
        discussion: """
            Iteration n samples the training problems with iteration n−1's model (the original at n = 1), keeps correct \
            rationales (RUN/iter-n/correct.jsonl), retries the failed problems with "(Hint: the answer is X.)" in the \
            prompt and keeps rationalisations that reach X, stored without the hint (RUN/iter-n/rationalised.jsonl), \
            and fine-tunes the ORIGINAL model on the union (RUN/iter-n/sft), with training steps growing by --step-growth \
            per iteration as in the paper. Per-iteration metrics and sample rationales go to RUN/star.jsonl. Every stage \
            resumes: rerun the same command after an interruption.
            """)

    @Option(name: .long, help: "The original model directory.") var model: String
    @OptionGroup var problems: ProblemOptions
    @Option(name: .long, help: "Run directory.") var run: String
    @Option(name: .long, help: "Most iterations.") var iterations = 4
    @Option(name: .long, help: "Samples per problem (the paper samples once, greedily; more samples find more rationales).") var k = 2
    @Option(name: .long, help: "Most new tokens per sample.") var maxTokens = 80
    @Option(name: .long, help: "SFT steps of the first iteration.") var steps = 40
    @Option(name: .long, help: "Growth of the SFT steps per iteration (the paper: 1.2).") var stepGrowth = 1.2
    @Option(name: .long, help: "SFT learning rate.") var learningRate = 3e-4
    @Option(name: .long, help: "SFT batch size.") var batchSize = 16
    @Option(name: .long, help: "Stop when train accuracy rises by less than this between iterations.") var minImprovement = 0.01
    @Flag(name: .long, inversion: .prefixedNo, help: "Rationalise failed problems with the answer as a hint.") var rationalize = true
    @Option(name: .long, help: "Held-out problems of the same synthetic task to evaluate each iteration's model on (0: none).")
    var evalCount = 0
    @Option(name: .long, help: "Seed.") var seed: UInt64 = 0

    func validate() throws {
        if iterations < 1 { throw ValidationError("--iterations must be at least 1") }
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if !(stepGrowth >= 1) { throw ValidationError("--step-growth must be at least 1") }
        if problems.chat {
            throw ValidationError("--chat: star fine-tunes on text prompts; chat-template prompts are not supported by star yet")
        }
        if evalCount > 0 && problems.task == nil {
            throw ValidationError("--eval-count needs a synthetic --task (held-out problems are drawn from it)")
        }
    }

    func run() async throws {
        let original = URL(fileURLWithPath: model)
        let root = URL(fileURLWithPath: run)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let (task, train) = try await problems.load()
        var heldOut: [Problem] = []
        if evalCount > 0, let name = problems.task {
            let trainPrompts = Set(train.map(\.prompt))
            heldOut = Array(
                try name.make().problems(seed: problems.problemSeed &+ 1_000, count: evalCount * 2).filter {
                    !trainPrompts.contains($0.prompt)
                }
                .prefix(evalCount))
        }
        var policy = RejectionSampler.KeepPolicy()
        policy.maxPerProblem = 1  // one rationale per problem, as the paper keeps
        var current = original
        var rows: [[String: Any]] = []
        var previous: Double?
        Stages.say("ponder star: \(train.count) \(task.name) problems, up to \(iterations) iterations")
        for n in 1...iterations {
            let dir = root.appendingPathComponent("iter-\(n)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            Stages.say("[iteration \(n)] sampling rationales with \(n == 1 ? "the original model" : "iteration \(n - 1)'s model")…")
            let (records, stats) = try await Stages.sample(
                from: current, task: task, problems: train, out: dir.appendingPathComponent("correct.jsonl"), policy: policy, k: k,
                maxTokens: maxTokens, seed: seed &+ UInt64(n), label: "rationales")
            var rationalised: RejectionSampler.Stats?
            if rationalize {
                let solved = Set(records.filter { !$0.kept.isEmpty }.map(\.id))
                let failed = train.filter { !solved.contains($0.id) && $0.answer != nil }
                Stages.say("[iteration \(n)] rationalising \(failed.count) failed problems with the answer as a hint…")
                rationalised = try await Stages.sample(
                    from: current, task: task, problems: failed, out: dir.appendingPathComponent("rationalised.jsonl"), policy: policy,
                    k: k,
                    maxTokens: maxTokens, seed: seed &+ UInt64(n) &+ 77, hint: true, label: "rationalisations"
                ).stats
            }
            let examples =
                try Stages.examples(dir.appendingPathComponent("correct.jsonl"))
                + (rationalize ? try Stages.examples(dir.appendingPathComponent("rationalised.jsonl")) : [])
            var row: [String: Any] = [
                "iteration": n, "train_accuracy": stats.passRate, "train_solved": stats.solvedRate, "format": stats.formatRate,
                "rationales": stats.kept, "rationalisations": rationalised?.kept ?? 0, "examples": examples.count,
                "samples": examples.prefix(3).map { ["prompt": RejectionSampler.text(of: $0.prompt), "completion": $0.completion] },
            ]
            Stages.say(
                String(
                    format: "[iteration %d] train accuracy %.3f (solved %.3f); %d rationales + %d rationalisations", n, stats.passRate,
                    stats.solvedRate, stats.kept, rationalised?.kept ?? 0))
            if let previous, stats.passRate - previous < minImprovement {
                row["stopped"] = "plateau: train accuracy rose \(String(format: "%.3f", stats.passRate - previous)) < \(minImprovement)"
                rows.append(row)
                try write(rows, to: root)
                Stages.say("[iteration \(n)] plateau: stopping (the model of iteration \(n - 1) is the result)")
                break
            }
            previous = stats.passRate
            guard !examples.isEmpty else {
                row["stopped"] = "no rationales to train on"
                rows.append(row)
                try write(rows, to: root)
                Stages.say("[iteration \(n)] no correct rationale or rationalisation: stopping")
                break
            }
            let iterationSteps = Int((Double(steps) * pow(stepGrowth, Double(n - 1))).rounded())
            Stages.say("[iteration \(n)] fine-tuning the original model on \(examples.count) examples for \(iterationSteps) steps…")
            current = try await Stages.sft(
                from: original, examples: examples, run: dir.appendingPathComponent("sft"),
                settings: .init(steps: iterationSteps, learningRate: learningRate, batchSize: batchSize, seed: seed))
            row["model"] = current.path
            row["sft_steps"] = iterationSteps
            if !heldOut.isEmpty {
                let e = try await Stages.evaluate(
                    from: current, task: task, problems: heldOut, samples: 4, maxTokens: maxTokens, seed: seed,
                    cache: dir.appendingPathComponent("eval-n\(heldOut.count).json"))
                row["held_out_greedy"] = e.greedyAccuracy
                row["held_out_sampled"] = e.sampledAccuracy
                Stages.say(String(format: "[iteration %d] held-out greedy %.3f, sampled %.3f", n, e.greedyAccuracy, e.sampledAccuracy))
            }
            rows.append(row)
            try write(rows, to: root)
        }
        print("iteration  train acc  solved  rationales  rationalised  held-out greedy")
        for r in rows {
            print(
                String(
                    format: "%9d  %9.3f  %6.3f  %10d  %12d  %@", r["iteration"] as! Int, r["train_accuracy"] as! Double,
                    r["train_solved"] as! Double,
                    r["rationales"] as! Int, r["rationalisations"] as! Int,
                    (r["held_out_greedy"] as? Double).map { String(format: "%.3f", $0) } ?? "-"))
        }
        print("metrics: \(root.appendingPathComponent("star.jsonl").path); final model: \(current.path)")
    }

    /// RUN/star.jsonl, one line per iteration, rewritten atomically.
    func write(_ rows: [[String: Any]], to root: URL) throws {
        let text =
            try rows.map {
                String(
                    decoding: try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self
                )
            }
            .joined(separator: "\n") + "\n"
        try Data(text.utf8).write(to: root.appendingPathComponent("star.jsonl"), options: .atomic)
    }
}
