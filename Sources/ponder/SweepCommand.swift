import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderSearch
import PonderTasks

struct Sweep: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Accuracy against tokens spent: test-time strategies at several budgets, with bootstrap intervals, pass@k and a chart.",
        discussion: "For a model's accuracy, maj@k and format on a task, see `ponder eval`.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var problems: ProblemOptions
    @Option(name: .long, parsing: .upToNextOption, help: "Strategies to compare.") var strategy: [StrategyName] = [.cot, .selfConsistency]
    @Option(name: .long, help: "Comma-separated budgets (samples, beams or MCTS iterations per unit), e.g. 1,2,4,8.") var budgets = "1,2,4"
    @OptionGroup var search: SearchConfiguration
    @Option(name: .long, help: "Directory for results.json and report.html.") var out = "runs/sweep"

    var budgetList: [Int] { budgets.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func validate() throws {
        guard !budgetList.isEmpty, budgetList.allSatisfy({ $0 >= 1 }), budgetList.count == budgets.split(separator: ",").count else {
            throw ValidationError("--budgets \(budgets): give positive integers, e.g. 1,2,4")
        }
    }

    func run() async throws {
        let engine = try modelOptions.loadEngine()
        let (task, problems) = try await self.problems.load()
        let sweep = StrategySweep(task: task, problems: problems)
        let plans = strategy.map { StrategySweep.Plan($0, budgets: budgetList, configuration: search) }
        let (curve, cells) = try await sweep.run(plans, model: engine) { cell in
            FileHandle.standardError.write(
                Data(String(format: "%@ budget %d: accuracy %.3f (%.0f s)\n", cell.strategy, cell.budget, cell.accuracy, cell.seconds).utf8)
            )
        }
        let width = Swift.max(20, curve.points.map(\.strategy.count).max() ?? 0)
        print("strategy".padding(toLength: width, withPad: " ", startingAt: 0) + " budget   accuracy   95% interval      mean tokens")
        for p in curve.points {
            print(
                p.strategy.padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(
                        format: " %6d   %7.3f   [%5.3f, %5.3f]   %10.1f", p.budget, p.accuracy.estimate, p.accuracy.lower, p.accuracy.upper,
                        p.meanTokens) + (p.upperBound ? "   upper bound" : ""))
        }
        if curve.points.contains(where: \.upperBound) {
            print("upper bound: guided by an oracle scorer that reads the answer key; no user without the answers gets this accuracy")
        }
        print("tokens: generated plus scoring, per problem")
        for cell in cells where !cell.passAtK.isEmpty {
            print(
                "\(cell.strategy) budget \(cell.budget): "
                    + cell.passAtK.map { String(format: "pass@%d %.3f", $0.k, $0.value) }.joined(separator: ", "))
        }
        let prompt = cells.reduce(0) { $0 + $1.promptTokens }
        let cached = cells.reduce(0) { $0 + $1.cachedPromptTokens }
        print("prompt tokens \(prompt), served from the KV cache \(cached), computed \(prompt - cached)")
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(curve).write(to: dir.appendingPathComponent("results.json"), options: .atomic)
        let chart = SVGChart.accuracyAgainstTokens([("", curve)], title: "Accuracy against tokens per problem")
        let source = SVGChart.escape(self.problems.data ?? task.name)
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>ponder sweep</title></head><body style=\"font-family:sans-serif\"><h1>ponder sweep</h1><p>\(source), \(problems.count) problems</p>\(chart.render())</body></html>"
        try html.write(to: dir.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        print("results: \(dir.path)/results.json, chart: \(dir.path)/report.html")
    }
}
