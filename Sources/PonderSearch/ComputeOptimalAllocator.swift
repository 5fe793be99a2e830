import PonderCore
import PonderVerifiers

/// Compute-optimal test-time scaling (Snell et al. 2024): estimate a question's difficulty cheaply and without the
/// answer, then run the strategy and budget an ``AllocationPolicy`` fitted for that difficulty.
///
/// The probe is ``AllocationPolicy/probeSamples`` samples; their agreement (the leading answer's share) picks the
/// bin, and the bin's plan runs (the probe's majority when the plan is `probe`). The probe's tokens count in the
/// usage. What Snell et al. do and this does not: their difficulty comes from a verifier's (or the oracle's) view of
/// 2048 samples; here it is a few samples' agreement, so the estimate is noisy but usable at inference time.
public struct ComputeOptimalAllocator: SearchStrategy {
    /// The fitted (or default) policy.
    public var policy: AllocationPolicy
    /// The budget whose level of the policy is used.
    public var budget: Int
    /// Decoding settings of the probe.
    public var parameters: SamplingParameters
    /// Makes the strategy a plan names, at a budget.
    public var strategies: @Sendable (StrategyName, Int) throws -> any SearchStrategy
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the allocator.
    public init(
        policy: AllocationPolicy, budget: Int, parameters: SamplingParameters = SamplingParameters(),
        strategies: @escaping @Sendable (StrategyName, Int) throws -> any SearchStrategy, grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.policy = policy
        self.budget = budget
        self.parameters = parameters
        self.strategies = strategies
        self.grouping = grouping
    }

    public var name: String { "compute-optimal" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(budget >= 1, "budget", budget, "must be at least 1")
        try policy.validate()
        try parameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        let k = policy.probeSamples
        // The probe draws from its own seed, so the plan's samples are new ones, not the probe's again.
        var probeParameters = parameters
        probeParameters.seed = parameters.seed.map { $0 ^ 0x5EED_0F_960B }
        let probe = try await SelfConsistency(
            samples: k, batchSize: k, stopWhenDecided: false, parameters: probeParameters, grouping: grouping
        )
        .run(question: question, prompt: prompt, model: model)
        var tally = VoteTally()
        for c in probe.candidates { tally.add(c.answer, grouping: grouping) }
        let agreement = tally.leaderWeight / Double(k)
        let level = policy.level(for: budget)
        let bin = level.bin(agreement: agreement)
        let plan = level.plans[bin]
        let notes = [
            "agreement": "\(agreement)", "bin": "\(bin) of \(level.plans.count)", "plan": "\(plan.strategy) \(plan.budget)",
            "probeTokens": "\(probe.usage.generatedTokens)",
        ]
        guard plan.strategy != AllocationPolicy.Plan.probe.strategy, let strategyName = StrategyName(rawValue: plan.strategy) else {
            var r = probe
            r.strategy = name
            r.notes.merge(notes) { $1 }
            return r
        }
        var r = try await strategies(strategyName, plan.budget).run(question: question, prompt: prompt, model: model)
        r.strategy = name
        r.usage = r.usage + probe.usage
        r.usage.prunedTokens += probe.usage.generatedTokens  // the probe's samples are not among the final candidates
        r.notes.merge(notes) { $1 }
        return r
    }
}
