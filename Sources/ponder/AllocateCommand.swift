import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderSearch
import PonderTasks

/// `ponder allocate`: compute-optimal allocation policies (Snell et al.).
struct Allocate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute-optimal test-time allocation: fit a policy (difficulty bin → strategy and N) on a validation split.",
        subcommands: [AllocateFit.self])
}

struct AllocateFit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fit",
        abstract: "Fit an allocation policy on validation problems (their answers are read: fitting is training) and write it as JSON.",
        discussion: """
            Each problem's difficulty is the agreement of --probe samples (reference-free, so the policy can run on \
            questions without answers); bins are its quantiles; for each budget N the best candidate per bin within N \
            samples' worth of tokens is chosen. Use the policy with `ponder sweep|solve --strategy allocator --policy FILE`, \
            on problems other than the validation split.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var problems: ProblemOptions
    @Option(name: .long, parsing: .upToNextOption, help: "Candidate strategies.") var candidates: [StrategyName] = [
        .selfConsistency, .bestOfN, .beam,
    ]
    @Option(name: .long, help: "Comma-separated budgets of the candidates, e.g. 1,2,4,8.") var grid = "1,2,4,8"
    @Option(name: .long, help: "Comma-separated budgets N to fit a level for (token budget: N samples' worth).") var budgets = "2,4,8"
    @Option(name: .long, help: "Probe samples per problem (the difficulty estimate).") var probe = 4
    @Option(name: .long, help: "Difficulty bins (quantiles of the probe's agreement).") var bins = 3
    @OptionGroup var search: SearchConfiguration
    @Option(name: .long, help: "Where to write the policy (JSON).") var out = "policy.json"

    static func list(_ text: String, _ flag: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Int.init)
        guard !values.isEmpty, values.count == parts.count, values.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("\(flag) \(text): give positive integers, e.g. 1,2,4")
        }
        return values
    }

    func validate() throws {
        _ = try Self.list(grid, "--grid")
        _ = try Self.list(budgets, "--budgets")
        if probe < 1 { throw ValidationError("--probe must be at least 1") }
        if bins < 1 { throw ValidationError("--bins must be at least 1") }
        if candidates.contains(.allocator) { throw ValidationError("--candidates: allocator cannot be its own candidate") }
        if search.scorer.name.isOracle {
            throw ValidationError(
                "--scorer \(search.scorer.description) reads the answer key, which the policy will not have at inference; use vote or judge")
        }
    }

    func run() async throws {
        let engine = try modelOptions.loadEngine()
        let (task, problems) = try await self.problems.load()
        let grid = try Self.list(self.grid, "--grid")
        let fit = AllocatorFit(
            task: task, problems: problems, configuration: search,
            candidates: candidates.flatMap { s in (s == .cot ? [1] : grid).map { AllocatorFit.Candidate(s, budget: $0) } },
            budgets: try Self.list(budgets, "--budgets"), probeSamples: probe, bins: bins)
        FileHandle.standardError.write(Data("fitting on \(problems.count) \(task.name) problems…\n".utf8))
        let (policy, reports) = try await fit.run(model: engine) { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        try policy.save(URL(fileURLWithPath: out))
        for level in policy.levels {
            let plans = level.plans.enumerated().map { i, p in
                let fit = level.fit?[i]
                return "bin \(i) (\(fit?.problems ?? 0) problems): \(p.strategy)\(p.budget > 0 ? " \(p.budget)" : "")"
            }
            print(
                "budget \(level.budget) (\(String(format: "%.0f", level.tokenBudget)) tokens), agreement edges \(level.edges.map { String(format: "%.2f", $0) }): "
                    + plans.joined(separator: "; "))
        }
        print("validation (in-sample) accuracy at equal budget:")
        for r in reports {
            var line = String(format: "  N=%d  allocator %.3f (%.1f tokens)", r.budget, r.allocatorAccuracy, r.allocatorTokens)
            for (name, v) in r.baselines.sorted(by: { $0.key < $1.key }) {
                line += String(format: ", %@ %.3f (%.1f tokens)", name, v[0], v[1])
            }
            print(line)
        }
        print("policy: \(out); evaluate it on other problems with `ponder sweep --strategy allocator --policy \(out)`")
    }
}
