/// Accuracy against tokens, per strategy and budget: the test-time compute plot's data, JSON-encodable.
public struct AccuracyBudgetCurve: Sendable, Hashable, Codable {
    /// Points sorted by strategy, then budget.
    public var points: [CurvePoint]

    /// Aggregates `records` into points, each with a bootstrap interval from `bootstrap` (seeded, so reproducible).
    public init(records: [EvalRecord], bootstrap: Bootstrap = Bootstrap()) throws {
        var groups: [String: [Int: [EvalRecord]]] = [:]
        for r in records { groups[r.strategy, default: [:]][r.budget, default: []].append(r) }
        var points: [CurvePoint] = []
        for strategy in groups.keys.sorted() {
            for budget in groups[strategy]!.keys.sorted() {
                let rs = groups[strategy]![budget]!
                let ci = try bootstrap.meanInterval(rs.map { $0.isCorrect ? 1 : 0 })
                let tokens = Double(rs.reduce(0) { $0 + $1.tokens }) / Double(rs.count)
                points.append(
                    CurvePoint(
                        strategy: strategy, budget: budget, problems: rs.count, accuracy: ci, meanTokens: tokens,
                        upperBound: rs.contains(where: \.upperBound)))
            }
        }
        self.points = points
    }

    /// The points of one strategy, by budget.
    public func points(for strategy: String) -> [CurvePoint] { points.filter { $0.strategy == strategy } }
}
