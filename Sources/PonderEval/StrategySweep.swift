import Foundation
import PonderCore
import PonderSearch
import PonderTasks
import PonderVerifiers

/// The strategy × budget evaluation loop (`ponder sweep` and the demo's test-time chart): each strategy at each
/// budget over the same problems, answers graded by the task, with pass@k over each problem's candidates.
///
/// Strategies see only each problem's ``Question``; the references reach an oracle scorer alone (when a plan asks
/// for one), and its cells are named and flagged as upper bounds. Tokens are generated plus scoring tokens.
public struct StrategySweep: Sendable {
    /// A strategy and the budgets to run it at.
    public struct Plan: Sendable {
        public var strategy: StrategyName
        public var budgets: [Int]
        public var configuration: SearchConfiguration

        public init(_ strategy: StrategyName, budgets: [Int], configuration: SearchConfiguration) {
            self.strategy = strategy
            self.budgets = strategy == .cot ? [1] : budgets
            self.configuration = configuration
        }
    }

    /// What one (strategy, budget) cell gave.
    public struct Cell: Sendable {
        /// The strategy's name, with its scorer when it uses one (``SearchConfiguration/label(_:strategyName:)``).
        public var strategy: String
        /// Whether an oracle guided it (an upper bound).
        public var upperBound: Bool
        public var budget: Int
        public var accuracy: Double
        /// pass@k for k = 1, n/2, n over each problem's complete candidates (strategies that sample several).
        public var passAtK: [(k: Int, value: Double)]
        public var promptTokens: Int
        public var cachedPromptTokens: Int
        public var seconds: Double
    }

    public var task: any ReasoningTask
    public var problems: [Problem]

    public init(task: any ReasoningTask, problems: [Problem]) {
        self.task = task
        self.problems = problems
    }

    /// Runs every plan; `progress` gets each cell as it finishes. Returns the curve over all cells.
    public func run(_ plans: [Plan], model: any LanguageModel, progress: (Cell) -> Void = { _ in }) async throws -> (
        curve: AccuracyBudgetCurve, cells: [Cell]
    ) {
        var records: [EvalRecord] = []
        var cells: [Cell] = []
        for plan in plans {
            for budget in plan.budgets {
                let strategy = try plan.configuration.strategy(
                    plan.strategy, budget: budget, model: model, references: ReferenceAnswers(problems))
                let label = plan.configuration.label(plan.strategy, strategyName: strategy.name)
                let upperBound = plan.configuration.isUpperBound(plan.strategy)
                let start = Date()
                let results = try await Self.runAll(strategy, problems: problems, task: task, model: model)
                var counts: [(n: Int, c: Int)] = []
                var cellRecords: [EvalRecord] = []
                for (p, r) in zip(problems, results) {
                    let complete = r.candidates.filter(\.isComplete)
                    var c = 0
                    for candidate in complete where try await isCorrect(candidate.answer, p) { c += 1 }
                    if !complete.isEmpty { counts.append((complete.count, c)) }
                    cellRecords.append(
                        EvalRecord(
                            strategy: label, budget: budget, problemID: p.id, isCorrect: try await isCorrect(r.answer, p),
                            tokens: r.usage.totalTokens, upperBound: upperBound))
                }
                var pass: [(k: Int, value: Double)] = []
                if let n = counts.map(\.n).min(), n > 1 {
                    for k in Array(Set([1, n / 2, n].filter { $0 >= 1 })).sorted() { pass.append((k, try PassAtK.mean(counts, k: k))) }
                }
                records += cellRecords
                let cell = Cell(
                    strategy: label, upperBound: upperBound, budget: budget,
                    accuracy: Double(cellRecords.filter(\.isCorrect).count) / Double(Swift.max(1, problems.count)), passAtK: pass,
                    promptTokens: results.reduce(0) { $0 + $1.usage.model.promptTokens },
                    cachedPromptTokens: results.reduce(0) { $0 + $1.usage.model.cachedPromptTokens },
                    seconds: Date().timeIntervalSince(start))
                cells.append(cell)
                progress(cell)
            }
        }
        return (try AccuracyBudgetCurve(records: records), cells)
    }

    /// Whether a strategy's final answer solves `problem`, graded by the task.
    func isCorrect(_ answer: String?, _ problem: Problem) async throws -> Bool {
        guard let answer else { return false }
        return try await task.grade(task.completion(answering: answer), problem: problem).isEquivalent
    }

    /// Runs `strategy` on every problem at once (a batching model serves them together); results in problem order.
    public static func runAll(_ strategy: any SearchStrategy, problems: [Problem], task: any ReasoningTask, model: any LanguageModel)
        async throws -> [SearchResult]
    {
        try await withThrowingTaskGroup(of: (Int, SearchResult).self) { group in
            for (i, p) in problems.enumerated() {
                let question = p.question
                let prompt = task.prompt(for: p)
                group.addTask { (i, try await strategy.run(question: question, prompt: prompt, model: model)) }
            }
            var out = [SearchResult?](repeating: nil, count: problems.count)
            for try await (i, r) in group { out[i] = r }
            return out.map { $0! }
        }
    }
}
