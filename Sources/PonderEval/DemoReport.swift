import Foundation

/// The HTML page `ponder demo` writes: the before/after table, training curves as SVG, and sample completions.
public struct DemoReport: Sendable {
    public var title: String
    public var before: TaskEvaluation
    public var after: TaskEvaluation
    /// Per-step metrics (metrics.jsonl lines).
    public var metrics: [[String: Double]]
    public var notes: [String]
    /// Accuracy against tokens per strategy, for the base and the trained model.
    public var budgetCurves: [(model: String, curve: AccuracyBudgetCurve)]

    public init(
        title: String, before: TaskEvaluation, after: TaskEvaluation, metrics: [[String: Double]], notes: [String] = [],
        budgetCurves: [(model: String, curve: AccuracyBudgetCurve)] = []
    ) {
        self.title = title
        self.before = before
        self.after = after
        self.metrics = metrics
        self.notes = notes
        self.budgetCurves = budgetCurves
    }

    /// One chart of accuracy against mean tokens per problem, a line per strategy and model.
    public var budgetChart: SVGChart? {
        budgetCurves.isEmpty
            ? nil : SVGChart.accuracyAgainstTokens(budgetCurves, title: "Accuracy against tokens per problem (test-time compute)")
    }

    /// The charts drawn from the metrics: reward, accuracy, completion length, KL and entropy against step.
    public var charts: [SVGChart] {
        func series(_ key: String, _ name: String, _ color: String) -> SVGChart.Series {
            SVGChart.Series(name: name, points: metrics.compactMap { m in m[key].flatMap { v in m["step"].map { ($0, v) } } }, color: color)
        }
        return [
            SVGChart(title: "Reward", xLabel: "step", series: [series("reward", "reward", "#2563eb")]),
            SVGChart(title: "Accuracy reward", xLabel: "step", series: [series("rewards/accuracy/mean", "accuracy", "#16a34a")]),
            SVGChart(title: "Format reward", xLabel: "step", series: [series("rewards/format/mean", "format", "#9333ea")]),
            SVGChart(
                title: "Completion length (tokens)", xLabel: "step", series: [series("completions/mean_length", "mean length", "#ea580c")]),
            SVGChart(title: "KL to the base model", xLabel: "step", series: [series("kl", "kl", "#dc2626")]),
            SVGChart(title: "Entropy", xLabel: "step", series: [series("entropy", "entropy", "#0891b2")]),
        ]
    }

    /// The page.
    public func html() -> String {
        let e = SVGChart.escape
        func row(_ name: String, _ a: Double, _ b: Double, percent: Bool = true) -> String {
            let f = { (v: Double) in percent ? String(format: "%.1f%%", v * 100) : String(format: "%.1f", v) }
            return
                "<tr><td>\(name)</td><td>\(f(a))</td><td>\(f(b))</td><td>\(String(format: "%+.1f", (b - a) * (percent ? 100 : 1)))</td></tr>"
        }
        var s = "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(e(title))</title><style>"
        s +=
            "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#111}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        s +=
            "td:first-child,th:first-child{text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}pre{background:#f3f4f6;padding:8px;white-space:pre-wrap}"
        s += ".ok{color:#16a34a}.bad{color:#dc2626}</style></head><body>"
        s += "<h1>\(e(title))</h1>"
        for n in notes { s += "<p>\(e(n))</p>" }
        s += "<h2>Before and after</h2><table><tr><th></th><th>base</th><th>after RL</th><th>change</th></tr>"
        s += row("greedy pass@1 (strict: tagged answer)", before.greedyAccuracy, after.greedyAccuracy)
        s += row("greedy pass@1 (any answer format)", before.greedyAccuracyAnyFormat, after.greedyAccuracyAnyFormat)
        s += row("sampled pass@1 (strict: tagged answer)", before.sampledAccuracy, after.sampledAccuracy)
        s += row("sampled pass@1 (any answer format)", before.sampledAccuracyAnyFormat, after.sampledAccuracyAnyFormat)
        s += row("maj@\(after.samples)", before.majorityAccuracy, after.majorityAccuracy)
        s += row("format compliance", before.formatCompliance, after.formatCompliance)
        s += row("completions with steps", before.stepsUsed, after.stepsUsed)
        s += row("accuracy with steps", before.accuracyWithSteps, after.accuracyWithSteps)
        s += row("accuracy without steps", before.accuracyWithoutSteps, after.accuracyWithoutSteps)
        s += row("mean completion length (tokens)", before.meanLength, after.meanLength, percent: false)
        s += "</table><h2>Training</h2><div class=\"charts\">" + charts.map { $0.render() }.joined() + "</div>"
        if let budgetChart {
            s +=
                "<h2>Test-time compute</h2>" + budgetChart.render()
                + "<p>Tokens are generated plus scoring tokens per problem. Dashed lines and rows marked upper bound read the answer key (an oracle scorer): no user without the answers gets them.</p>"
                + "<table><tr><th>model</th><th>strategy</th><th>budget</th><th>accuracy</th><th>95% interval</th><th>mean tokens</th><th></th></tr>"
            for (model, curve) in budgetCurves {
                for p in curve.points {
                    s +=
                        "<tr><td>\(e(model))</td><td>\(e(p.strategy))</td><td>\(p.budget)</td><td>\(String(format: "%.3f", p.accuracy.estimate))</td>"
                        + "<td>[\(String(format: "%.3f", p.accuracy.lower)), \(String(format: "%.3f", p.accuracy.upper))]</td><td>\(String(format: "%.1f", p.meanTokens))</td><td>\(p.upperBound ? "upper bound" : "")</td></tr>"
                }
            }
            s += "</table>"
        }
        for (name, evaluation) in [("Base model", before), ("After RL", after)] {
            s += "<h2>Sample completions: \(name) (greedy)</h2>"
            for x in evaluation.examples {
                s += "<p class=\"\(x.correct ? "ok" : "bad")\">\(x.correct ? "✓" : "✗") \(e(x.prompt))</p><pre>\(e(x.completion))</pre>"
            }
        }
        return s + "</body></html>"
    }
}
