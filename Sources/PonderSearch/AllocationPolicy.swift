import Foundation
import PonderCore
import PonderVerifiers

/// A compute-optimal allocation policy (Snell et al. 2024, §3): difficulty bins from a cheap, reference-free
/// estimate, and for each bin the strategy and number of samples that did best on a validation split under a token
/// budget. Written by `ponder allocate fit` as JSON and read by ``ComputeOptimalAllocator``.
///
/// The estimate is the agreement of ``probeSamples`` samples: the leading answer's share, unanswered samples in the
/// denominator (Snell et al. bin by the model's pass rate, which needs the answer; agreement is its reference-free
/// stand-in, as they suggest for deployment). Bins are quantiles of it on the validation split; bin 0 holds the
/// lowest agreement (the hardest problems).
public struct AllocationPolicy: Sendable, Hashable, Codable {
    /// What to run in one bin.
    public struct Plan: Sendable, Hashable, Codable {
        /// A ``StrategyName`` raw value, or `probe` for the probe's own majority (no further compute).
        public var strategy: String
        /// The strategy's budget (samples, beams...); 0 for `probe`.
        public var budget: Int

        /// Makes a plan.
        public init(strategy: String, budget: Int) {
            self.strategy = strategy
            self.budget = budget
        }

        /// The probe's majority, with nothing more spent.
        public static let probe = Plan(strategy: "probe", budget: 0)
    }

    /// How one bin did on the validation split.
    public struct BinFit: Sendable, Hashable, Codable {
        /// Validation problems in the bin.
        public var problems: Int
        /// Accuracy of the chosen plan on them.
        public var accuracy: Double
        /// Mean tokens per problem, probe included.
        public var meanTokens: Double

        /// Makes a bin's record.
        public init(problems: Int, accuracy: Double, meanTokens: Double) {
            self.problems = problems
            self.accuracy = accuracy
            self.meanTokens = meanTokens
        }
    }

    /// The policy for one budget.
    public struct Level: Sendable, Hashable, Codable {
        /// The budget this level serves (the same knob as the strategies it is compared with: N samples).
        public var budget: Int
        /// Mean tokens per problem the fit allowed (N × a validation sample's mean length).
        public var tokenBudget: Double
        /// Ascending agreement thresholds between bins (bins = edges + 1).
        public var edges: [Double]
        /// A plan per bin.
        public var plans: [Plan]
        /// How each bin did on the validation split (absent for the unfitted policy).
        public var fit: [BinFit]?

        /// Makes a level.
        public init(budget: Int, tokenBudget: Double, edges: [Double], plans: [Plan], fit: [BinFit]? = nil) {
            self.budget = budget
            self.tokenBudget = tokenBudget
            self.edges = edges
            self.plans = plans
            self.fit = fit
        }

        /// The bin of a problem with this agreement: the number of edges at or below it.
        public func bin(agreement: Double) -> Int { edges.filter { agreement >= $0 }.count }
    }

    /// Samples drawn to estimate difficulty.
    public var probeSamples: Int
    /// One level per budget, ascending.
    public var levels: [Level]
    /// Where the policy came from (model, task, validation size...).
    public var source: [String: String]

    /// Makes a policy.
    public init(probeSamples: Int, levels: [Level], source: [String: String] = [:]) {
        self.probeSamples = probeSamples
        self.levels = levels.sorted { $0.budget < $1.budget }
        self.source = source
    }

    /// A policy that was not fitted, for `--strategy allocator` without `--policy`: 4 probe samples; agreement
    /// ≥ 0.75 keeps the probe's majority, ≥ 0.5 draws `budget / 2` more samples, below that `budget`.
    public static func unfitted(budget: Int) -> AllocationPolicy {
        AllocationPolicy(
            probeSamples: 4,
            levels: [
                Level(
                    budget: budget, tokenBudget: 0, edges: [0.5, 0.75],
                    plans: [
                        Plan(strategy: StrategyName.selfConsistency.rawValue, budget: max(1, budget)),
                        Plan(strategy: StrategyName.selfConsistency.rawValue, budget: max(1, budget / 2)), .probe,
                    ])
            ], source: ["fitted": "no"])
    }

    /// The level for `budget`: the one fitted for it, else the largest below it, else the smallest.
    public func level(for budget: Int) -> Level {
        levels.last { $0.budget <= budget } ?? levels[0]
    }

    /// Checks the policy, naming the first fault.
    public func validate(source file: String = "policy") throws {
        func fail(_ field: String, _ rule: String) -> SearchError {
            .invalidParameter(name: "\(file): \(field)", value: "", rule: rule)
        }
        if probeSamples < 1 { throw fail("probeSamples", "must be at least 1") }
        if levels.isEmpty { throw fail("levels", "must hold at least one level") }
        for (i, l) in levels.enumerated() {
            if l.plans.count != l.edges.count + 1 {
                throw fail("levels[\(i)].plans", "needs one plan per bin (edges + 1 = \(l.edges.count + 1))")
            }
            if l.edges != l.edges.sorted() { throw fail("levels[\(i)].edges", "must be ascending") }
            for (j, p) in l.plans.enumerated() where p.strategy != Plan.probe.strategy {
                guard let name = StrategyName(rawValue: p.strategy), name != .allocator else {
                    throw fail(
                        "levels[\(i)].plans[\(j)].strategy",
                        "'\(p.strategy)' is not a strategy (probe, \(StrategyName.allCases.filter { $0 != .allocator }.map(\.rawValue).joined(separator: ", ")))"
                    )
                }
                if p.budget < 1 { throw fail("levels[\(i)].plans[\(j)].budget", "must be at least 1") }
            }
        }
    }

    /// Reads and checks a policy file.
    public static func load(_ url: URL) throws -> AllocationPolicy {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw SearchError.invalidParameter(name: "policy", value: url.path, rule: "cannot be read (\(error.localizedDescription))")
        }
        let policy: AllocationPolicy
        do { policy = try JSONDecoder().decode(AllocationPolicy.self, from: data) } catch {
            throw SearchError.invalidParameter(name: "policy", value: url.path, rule: "is not an allocation policy: \(error)")
        }
        try policy.validate(source: url.path)
        return policy
    }

    /// Writes the policy as indented JSON, atomically.
    public func save(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: url, options: .atomic)
    }
}
