import ArgumentParser
import Foundation
import PonderCore
import PonderEval
import PonderModels
import PonderSearch
import PonderVerifiers

struct Eval: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy against tokens spent, for test-time strategies at several budgets, with bootstrap intervals and a chart.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Problems JSONL (prompt, answer), e.g. from `ponder data problems`.") var dataset: String
    @Option(name: .long, parsing: .upToNextOption, help: "Strategies to compare.") var strategy: [StrategyName] = [.cot, .selfConsistency]
    @Option(name: .long, help: "Comma-separated budgets (samples, beams or MCTS iterations per unit), e.g. 1,2,4,8.") var budgets = "1,2,4"
    @OptionGroup var search: SearchOptions
    @Option(name: .long, help: "Evaluate only the first N problems.") var limit: Int?
    @Flag(name: .long, help: "Send questions through the chat template.") var chat = false
    @Option(name: .long, help: "Directory for results.json and report.html.") var out = "runs/eval"

    func run() async throws {
        let engine = try modelOptions.loadEngine()
        let budgetList = budgets.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !budgetList.isEmpty, budgetList.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--budgets \(budgets): give positive integers, e.g. 1,2,4")
        }
        var problems = try GRPO.problems(URL(fileURLWithPath: dataset), promptField: "prompt", answerField: "answer")
        if let limit { problems = Array(problems.prefix(limit)) }
        let verifier = MathVerifier()
        var records: [EvalRecord] = []
        var passLines: [String] = []
        var cached = 0
        var prompt = 0
        for name in strategy {
            for budget in (name == .cot ? [1] : budgetList) {
                let chosen = search.strategy(name, budget: budget, model: engine)
                let start = Date()
                let chat = self.chat
                let results = try await StrategyRuns.run(
                    chosen, problems: problems, prompt: { chat ? .chat([.user($0.prompt)]) : .text($0.prompt) }, model: engine)
                // pass@k (unbiased estimator) over each problem's complete candidates, for strategies that sample several.
                var counts: [(n: Int, c: Int)] = []
                for (p, r) in zip(problems, results) {
                    let complete = r.candidates.filter(\.isComplete)
                    var c = 0
                    for candidate in complete {
                        if try await StrategyRuns.isCorrect(candidate.answer, p, verifier: verifier) { c += 1 }
                    }
                    if !complete.isEmpty { counts.append((complete.count, c)) }
                }
                if let n = counts.map(\.n).min(), n > 1 {
                    let ks = Array(Set([1, n / 2, n].filter { $0 >= 1 })).sorted()
                    let values = try ks.map { k in String(format: "pass@%d %.3f", k, try PassAtK.mean(counts, k: k)) }
                    passLines.append("\(chosen.name) budget \(budget): " + values.joined(separator: ", "))
                }
                records += try await StrategyRuns.records(
                    results, problems: problems, strategy: chosen.name, budget: budget, verifier: verifier)
                cached += results.reduce(0) { $0 + $1.usage.model.cachedPromptTokens }
                prompt += results.reduce(0) { $0 + $1.usage.model.promptTokens }
                let accuracy = Double(records.suffix(problems.count).filter(\.isCorrect).count) / Double(Swift.max(1, problems.count))
                FileHandle.standardError.write(
                    Data(
                        String(
                            format: "%@ budget %d: accuracy %.3f (%.0f s)\n", chosen.name, budget, accuracy, Date().timeIntervalSince(start)
                        ).utf8))
            }
        }
        let curve = try AccuracyBudgetCurve(records: records)
        print("strategy             budget   accuracy   95% interval      mean tokens")
        for p in curve.points {
            print(
                p.strategy.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + String(
                        format: " %6d   %7.3f   [%5.3f, %5.3f]   %10.1f", p.budget, p.accuracy.estimate, p.accuracy.lower, p.accuracy.upper,
                        p.meanTokens))
        }
        for line in passLines { print(line) }
        print("prompt tokens \(prompt), served from the KV cache \(cached), computed \(prompt - cached)")
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(curve).write(to: dir.appendingPathComponent("results.json"), options: .atomic)
        let colors = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#ca8a04", "#db2777", "#65a30d"]
        let names = Array(Set(curve.points.map(\.strategy))).sorted()
        var chart = SVGChart(
            title: "Accuracy against tokens per problem", xLabel: "mean tokens per problem",
            series: names.enumerated().map { i, s in
                SVGChart.Series(
                    name: s, points: curve.points(for: s).map { ($0.meanTokens, $0.accuracy.estimate) }, color: colors[i % colors.count])
            })
        chart.logX = true
        chart.legendAtBottomRight = true
        chart.width = 760
        chart.height = 360
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>ponder eval</title></head><body style=\"font-family:sans-serif\"><h1>ponder eval</h1><p>\(SVGChart.escape(dataset)), \(problems.count) problems</p>\(chart.render())</body></html>"
        try html.write(to: dir.appendingPathComponent("report.html"), atomically: true, encoding: .utf8)
        print("results: \(dir.path)/results.json, chart: \(dir.path)/report.html")
    }
}
