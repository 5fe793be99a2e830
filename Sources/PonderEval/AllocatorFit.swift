import Foundation
import PonderCore
import PonderSearch
import PonderTasks
import PonderVerifiers

/// Fits a compute-optimal ``AllocationPolicy`` on a validation split (Snell et al. 2024, §3).
///
/// 1. Each validation problem is probed with `probeSamples` samples; its agreement (the leading answer's share)
///    is the reference-free difficulty estimate.
/// 2. The agreements' quantiles cut `bins` bins (equal edges are merged, so there may be fewer).
/// 3. Every candidate (strategy, N) runs on every problem; the answers are graded against the references (fitting
///    is training: it may read them).
/// 4. For each budget B, a token budget of B × the mean length of one probe sample is set; in each bin the candidate
///    (or the probe's own majority) with the highest accuracy whose mean tokens, probe included, stay within it is
///    chosen (ties: fewer tokens).
///
/// The same runs give the baselines at equal budget: majority (self-consistency) and best-of-N at N = B.
public struct AllocatorFit: Sendable {
    /// A candidate plan.
    public struct Candidate: Sendable, Hashable {
        public var strategy: StrategyName
        public var budget: Int
        public init(_ strategy: StrategyName, budget: Int) {
            self.strategy = strategy
            self.budget = budget
        }
    }

    /// What a fitted level did on the validation split, beside the baselines at the same budget.
    public struct Report: Sendable, Codable {
        public var budget: Int
        public var tokenBudget: Double
        public var allocatorAccuracy: Double
        public var allocatorTokens: Double
        /// Baselines at N = budget, when they were among the candidates: name → (accuracy, mean tokens).
        public var baselines: [String: [Double]]
    }

    public var task: any ReasoningTask
    public var problems: [Problem]
    public var configuration: SearchConfiguration
    public var candidates: [Candidate]
    public var budgets: [Int]
    public var probeSamples: Int
    public var bins: Int

    public init(
        task: any ReasoningTask, problems: [Problem], configuration: SearchConfiguration, candidates: [Candidate], budgets: [Int],
        probeSamples: Int = 4, bins: Int = 3
    ) {
        self.task = task
        self.problems = problems
        self.configuration = configuration
        self.candidates = candidates
        self.budgets = budgets
        self.probeSamples = probeSamples
        self.bins = bins
    }

    /// The quantile edges of `values` cutting `bins` bins, equal edges merged.
    public static func quantileEdges(_ values: [Double], bins: Int) -> [Double] {
        guard bins > 1, !values.isEmpty else { return [] }
        let sorted = values.sorted()
        var edges: [Double] = []
        for k in 1..<bins {
            let e = sorted[min(sorted.count - 1, Int((Double(k) / Double(bins) * Double(sorted.count)).rounded(.down)))]
            // An edge at the minimum would leave its lower bin empty.
            if e > sorted[0], edges.last != e { edges.append(e) }
        }
        return edges
    }

    /// Runs the fit; `progress` gets a line per finished run.
    public func run(model: any LanguageModel, progress: @Sendable (String) -> Void = { _ in }) async throws -> (
        policy: AllocationPolicy, reports: [Report]
    ) {
        guard !problems.isEmpty else { throw EvalError.invalidArgument("allocator fit: the validation split is empty") }
        guard probeSamples >= 1 else { throw EvalError.invalidArgument("probeSamples = \(probeSamples): must be at least 1") }
        guard bins >= 1 else { throw EvalError.invalidArgument("bins = \(bins): must be at least 1") }
        let references = ReferenceAnswers(problems)
        let grouping = AnswerGrouping()
        var parameters = configuration.sampling.parameters(defaults: model.generationDefaults)
        parameters.n = 1
        parameters.seed = parameters.seed.map { $0 ^ 0x5EED_0F_960B }  // the allocator's probe seed
        // 1. Probe.
        let probe = SelfConsistency(samples: probeSamples, batchSize: probeSamples, stopWhenDecided: false, parameters: parameters)
        let probed = try await StrategySweep.runAll(probe, problems: problems, task: task, model: model)
        var agreement: [Double] = []
        var probeTokens: [Double] = []
        var probeCorrect: [Bool] = []
        for (p, r) in zip(problems, probed) {
            var tally = VoteTally()
            for c in r.candidates { tally.add(c.answer, grouping: grouping) }
            agreement.append(tally.leaderWeight / Double(probeSamples))
            probeTokens.append(Double(r.usage.totalTokens))
            probeCorrect.append(try await isCorrect(r.answer, p))
        }
        let sampleTokens = probeTokens.reduce(0, +) / Double(probeTokens.count) / Double(probeSamples)
        progress(
            String(
                format: "probe: %d samples per problem, mean agreement %.3f, %.1f tokens per sample", probeSamples,
                agreement.reduce(0, +) / Double(agreement.count), sampleTokens))
        // 2. Bins.
        let edges = Self.quantileEdges(agreement, bins: bins)
        let level0 = AllocationPolicy.Level(budget: 0, tokenBudget: 0, edges: edges, plans: [], fit: nil)
        let binOf = agreement.map { level0.bin(agreement: $0) }
        // 3. Candidates.
        var outcomes: [Candidate: (correct: [Bool], tokens: [Double])] = [:]
        for c in candidates {
            let strategy = try configuration.strategy(c.strategy, budget: c.budget, model: model, references: references)
            let results = try await StrategySweep.runAll(strategy, problems: problems, task: task, model: model)
            var correct: [Bool] = []
            for (p, r) in zip(problems, results) { correct.append(try await isCorrect(r.answer, p)) }
            outcomes[c] = (correct, results.map { Double($0.usage.totalTokens) })
            progress(
                String(
                    format: "%@ %d: accuracy %.3f, %.1f tokens", c.strategy.rawValue, c.budget,
                    Double(correct.filter { $0 }.count) / Double(correct.count),
                    results.reduce(0.0) { $0 + Double($1.usage.totalTokens) } / Double(results.count)))
        }
        // 4. A level per budget.
        var levels: [AllocationPolicy.Level] = []
        var reports: [Report] = []
        for budget in budgets.sorted() {
            let tokenBudget = Double(budget) * sampleTokens
            var plans: [AllocationPolicy.Plan] = []
            var fits: [AllocationPolicy.BinFit] = []
            var totalCorrect = 0.0
            var totalTokens = 0.0
            for bin in 0...edges.count {
                let members = problems.indices.filter { binOf[$0] == bin }
                func mean(_ xs: [Double]) -> Double { members.isEmpty ? 0 : members.reduce(0) { $0 + xs[$1] } / Double(members.count) }
                let probeMean = mean(probeTokens)
                var best = (plan: AllocationPolicy.Plan.probe, accuracy: mean(probeCorrect.map { $0 ? 1 : 0 }), tokens: probeMean)
                for c in candidates {
                    let o = outcomes[c]!
                    let tokens = probeMean + mean(o.tokens)
                    let accuracy = mean(o.correct.map { $0 ? 1 : 0 })
                    guard tokens <= tokenBudget else { continue }
                    if accuracy > best.accuracy || (accuracy == best.accuracy && tokens < best.tokens) {
                        best = (AllocationPolicy.Plan(strategy: c.strategy.rawValue, budget: c.budget), accuracy, tokens)
                    }
                }
                plans.append(best.plan)
                fits.append(AllocationPolicy.BinFit(problems: members.count, accuracy: best.accuracy, meanTokens: best.tokens))
                totalCorrect += best.accuracy * Double(members.count)
                totalTokens += best.tokens * Double(members.count)
            }
            levels.append(AllocationPolicy.Level(budget: budget, tokenBudget: tokenBudget, edges: edges, plans: plans, fit: fits))
            var baselines: [String: [Double]] = [:]
            for c in candidates where c.budget == budget && (c.strategy == .selfConsistency || c.strategy == .bestOfN) {
                let o = outcomes[c]!
                baselines[configuration.label(c.strategy, strategyName: c.strategy.rawValue)] = [
                    Double(o.correct.filter { $0 }.count) / Double(o.correct.count), o.tokens.reduce(0, +) / Double(o.tokens.count),
                ]
            }
            reports.append(
                Report(
                    budget: budget, tokenBudget: tokenBudget, allocatorAccuracy: totalCorrect / Double(problems.count),
                    allocatorTokens: totalTokens / Double(problems.count), baselines: baselines))
        }
        let policy = AllocationPolicy(
            probeSamples: probeSamples, levels: levels,
            source: [
                "fitted": "yes", "model": model.name, "task": task.name, "validationProblems": "\(problems.count)",
                "scorer": configuration.scorer.description,
                "candidates": candidates.map { "\($0.strategy.rawValue):\($0.budget)" }.joined(separator: ","),
            ])
        return (policy, reports)
    }

    func isCorrect(_ answer: String?, _ problem: Problem) async throws -> Bool {
        guard let answer else { return false }
        return try await task.grade(task.completion(answering: answer), problem: problem).isEquivalent
    }
}
