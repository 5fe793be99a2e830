import Foundation

/// A small line chart rendered as standalone SVG (no scripts, no external assets), for HTML reports.
public struct SVGChart: Sendable {
    /// One line of the chart.
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public var color: String
        /// Drawn dashed (an upper bound, such as an oracle-guided strategy).
        public var dashed: Bool

        public init(name: String, points: [(x: Double, y: Double)], color: String = "#2563eb", dashed: Bool = false) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var series: [Series]
    public var width = 460.0
    public var height = 240.0
    /// Logarithmic x axis (for quantities spanning orders of magnitude, like tokens).
    public var logX = false
    /// Where the legend goes when there are several series.
    public var legendAtBottomRight = false

    public init(title: String, xLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.series = series
    }

    /// The chart as an `<svg>` element.
    public func render() -> String {
        let tx = { (x: Double) in logX ? Foundation.log10(Swift.max(x, 1e-12)) : x }
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }.map { (x: tx($0.x), y: $0.y) }
        let (left, right, top, bottom) = (52.0, 12.0, 28.0, 36.0)
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"11\">"
        svg +=
            "<text x=\"\(Int(width / 2))\" y=\"16\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\">\(Self.escape(title))</text>"
        guard let minX = all.map(\.x).min(), let maxX = all.map(\.x).max(), var minY = all.map(\.y).min(), var maxY = all.map(\.y).max()
        else {
            return svg + "<text x=\"\(Int(width / 2))\" y=\"\(Int(height / 2))\" text-anchor=\"middle\">no data</text></svg>"
        }
        if maxY - minY < 1e-12 { (minY, maxY) = (minY - 0.5, maxY + 0.5) }
        let pad = (maxY - minY) * 0.05
        (minY, maxY) = (minY - pad, maxY + pad)
        let spanX = Swift.max(maxX - minX, 1e-12)
        func px(_ x: Double) -> Double { left + (x - minX) / spanX * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - minY) / (maxY - minY) * (height - top - bottom) }
        // Axes, grid and tick labels.
        for k in 0...4 {
            let y = minY + (maxY - minY) * Double(k) / 4
            svg += "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(py(y))\" y2=\"\(py(y))\" stroke=\"#e5e7eb\"/>"
            svg += "<text x=\"\(left - 4)\" y=\"\(py(y) + 4)\" text-anchor=\"end\">\(Self.format(y))</text>"
        }
        for k in 0...4 {
            let x = minX + spanX * Double(k) / 4
            let label = logX ? Foundation.pow(10, x) : x
            svg += "<text x=\"\(px(x))\" y=\"\(height - bottom + 14)\" text-anchor=\"middle\">\(Self.format(label))</text>"
        }
        svg +=
            "<text x=\"\(Int((left + width - right) / 2))\" y=\"\(Int(height - 6))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>"
        svg +=
            "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(width - left - right)\" height=\"\(height - top - bottom)\" fill=\"none\" stroke=\"#9ca3af\"/>"
        for (i, s) in series.enumerated() {
            let points = s.points.filter { $0.x.isFinite && $0.y.isFinite }.map { (x: tx($0.x), y: $0.y) }
            let path = points.map { String(format: "%.1f,%.1f", px($0.x), py($0.y)) }.joined(separator: " ")
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"\(dash) points=\"\(path)\"/>"
            if points.count == 1 { svg += "<circle cx=\"\(px(points[0].x))\" cy=\"\(py(points[0].y))\" r=\"3\" fill=\"\(s.color)\"/>" }
            if series.count > 1 {
                let y = legendAtBottomRight ? height - bottom - 8 - 13 * Double(series.count - 1 - i) : top + 14 + 13 * Double(i)
                let x = legendAtBottomRight ? width - right - 8 : left + 8
                svg +=
                    "<text x=\"\(x)\" y=\"\(y)\" fill=\"\(s.color)\" text-anchor=\"\(legendAtBottomRight ? "end" : "start")\">\(Self.escape(s.name))</text>"
            }
        }
        return svg + "</svg>"
    }

    static func format(_ v: Double) -> String {
        let a = Swift.abs(v)
        if a >= 1, a < 100_000, v == v.rounded() { return String(format: "%.0f", v) }
        if a >= 1000 || (a < 0.01 && a > 0) { return String(format: "%.2g", v) }
        if a >= 10 { return String(format: "%.0f", v) }
        return String(format: "%.2f", v)
    }

    /// Text made safe for XML and HTML.
    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
            of: ">", with: "&gt;"
        )
        .replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension SVGChart {
    /// Accuracy against mean tokens per problem (logarithmic), a line per model and strategy; upper bounds (oracle
    /// scorers) dashed and named so.
    public static func accuracyAgainstTokens(_ curves: [(model: String, curve: AccuracyBudgetCurve)], title: String) -> SVGChart {
        let colors = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#ca8a04", "#db2777", "#65a30d"]
        var series: [Series] = []
        for (model, curve) in curves {
            for strategy in Array(Set(curve.points.map(\.strategy))).sorted() {
                let points = curve.points(for: strategy)
                let bound = points.contains(where: \.upperBound)
                let label = bound && !strategy.contains("upper bound") ? "\(strategy) (upper bound)" : strategy
                series.append(
                    Series(
                        name: model.isEmpty ? label : "\(model): \(label)", points: points.map { ($0.meanTokens, $0.accuracy.estimate) },
                        color: colors[series.count % colors.count], dashed: bound))
            }
        }
        var chart = SVGChart(title: title, xLabel: "mean tokens per problem", series: series)
        chart.width = 920
        chart.height = 360
        chart.logX = true
        chart.legendAtBottomRight = true
        return chart
    }
}
