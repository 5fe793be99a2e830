import Foundation

/// A report over the stages of a multi-stage recipe (R1's cold start → RL → rejection sampling → SFT → RL): per stage,
/// its evaluation on each task split, what changed from the previous stage, the training curves, and sample completions.
public struct StageReport: Sendable {
    /// One stage's outcome.
    public struct Stage: Sendable {
        /// A short name ("base", "cold-start SFT", "GRPO 1", ...).
        public var name: String
        /// What the stage did, in a sentence.
        public var description: String
        /// Evaluations by split name (e.g. "easy", "hard"), in the order the splits are listed.
        public var evaluations: [(split: String, evaluation: TaskEvaluation)]
        /// The stage's training metrics (one dictionary per step, with "step"); empty for stages that do not train.
        public var metrics: [[String: Double]]

        public init(
            name: String, description: String, evaluations: [(split: String, evaluation: TaskEvaluation)], metrics: [[String: Double]] = []
        ) {
            self.name = name
            self.description = description
            self.evaluations = evaluations
            self.metrics = metrics
        }
    }

    public var title: String
    public var notes: [String]
    public var stages: [Stage]

    public init(title: String, notes: [String], stages: [Stage]) {
        self.title = title
        self.notes = notes
        self.stages = stages
    }

    /// The table as plain text (one row per stage and split).
    public func table() -> String {
        var lines = ["stage                 split   greedy  sampled    maj   format  length"]
        for s in stages {
            for (split, e) in s.evaluations {
                lines.append(
                    s.name.padding(toLength: 22, withPad: " ", startingAt: 0) + split.padding(toLength: 6, withPad: " ", startingAt: 0)
                        + String(
                            format: "  %6.1f%%  %6.1f%%  %5.1f%%  %6.1f%%  %6.1f", e.greedyAccuracy * 100, e.sampledAccuracy * 100,
                            e.majorityAccuracy * 100, e.formatCompliance * 100, e.meanLength))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The charts: for each training stage, the curves it logged among loss, reward, accuracy, format, language
    /// consistency and completion length.
    public var charts: [SVGChart] {
        let keys: [(String, String, String)] = [
            ("loss", "loss", "#64748b"), ("reward", "reward", "#2563eb"), ("rewards/accuracy/mean", "accuracy", "#16a34a"),
            ("rewards/format/mean", "format", "#9333ea"), ("rewards/language_consistency/mean", "language consistency", "#0891b2"),
            ("completions/mean_length", "mean length", "#ea580c"),
        ]
        var out: [SVGChart] = []
        for s in stages where !s.metrics.isEmpty {
            for (key, name, color) in keys {
                let points = s.metrics.compactMap { m in m[key].flatMap { v in m["step"].map { ($0, v) } } }
                guard points.count > 1 else { continue }
                out.append(SVGChart(title: "\(s.name): \(name)", xLabel: "step", series: [.init(name: name, points: points, color: color)]))
            }
        }
        return out
    }

    /// The page.
    public func html() -> String {
        let e = SVGChart.escape
        var s = "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(e(title))</title><style>"
        s +=
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#111}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}"
        s +=
            "td:first-child,th:first-child,td:nth-child(2){text-align:left}.charts{display:flex;flex-wrap:wrap;gap:12px}pre{background:#f3f4f6;padding:8px;white-space:pre-wrap}"
        s += ".ok{color:#16a34a}.bad{color:#dc2626}.up{color:#16a34a}.down{color:#dc2626}</style></head><body>"
        s += "<h1>\(e(title))</h1>"
        for n in notes { s += "<p>\(e(n))</p>" }
        s += "<h2>Stages</h2><ol>" + stages.map { "<li><b>\(e($0.name))</b>: \(e($0.description))</li>" }.joined() + "</ol>"
        s += "<h2>What changed at each stage</h2><table><tr><th>stage</th><th>split</th><th>greedy pass@1</th><th>sampled pass@1</th>"
        s += "<th>maj@k</th><th>format</th><th>mean length</th><th>greedy change</th></tr>"
        var previous: [String: TaskEvaluation] = [:]
        for stage in stages {
            for (split, x) in stage.evaluations {
                let change: String
                if let p = previous[split] {
                    let d = (x.greedyAccuracy - p.greedyAccuracy) * 100
                    change = "<span class=\"\(d >= 0 ? "up" : "down")\">\(String(format: "%+.1f", d))</span>"
                } else {
                    change = ""
                }
                s += "<tr><td>\(e(stage.name))</td><td>\(e(split))</td>"
                for v in [x.greedyAccuracy, x.sampledAccuracy, x.majorityAccuracy, x.formatCompliance] {
                    s += "<td>\(String(format: "%.1f%%", v * 100))</td>"
                }
                s += "<td>\(String(format: "%.1f", x.meanLength))</td><td>\(change)</td></tr>"
                previous[split] = x
            }
        }
        s += "</table><h2>Training</h2><div class=\"charts\">" + charts.map { $0.render() }.joined() + "</div>"
        for stage in stages {
            guard let (split, x) = stage.evaluations.first else { continue }
            s += "<h2>Sample completions: \(e(stage.name)) (\(e(split)), greedy)</h2>"
            for c in x.examples.prefix(3) {
                s += "<p class=\"\(c.correct ? "ok" : "bad")\">\(c.correct ? "✓" : "✗") \(e(c.prompt))</p><pre>\(e(c.completion))</pre>"
            }
        }
        return s + "</body></html>"
    }
}
