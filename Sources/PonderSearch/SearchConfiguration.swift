import ArgumentParser
import PonderConfiguration
import PonderCore
import PonderVerifiers

/// Test-time strategies by name.
public enum StrategyName: String, Sendable, CaseIterable, ExpressibleByArgument {
    case cot
    case selfConsistency = "self-consistency"
    case bestOfN = "best-of-n"
    case confidence, beam, dvts, mcts
    case selfRefine = "self-refine"
    case budget, allocator
}

/// Scorers that guide search, by name.
public enum ScorerName: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// The verifier with the reference answer (an upper bound: it reads the answer key).
    case oracle
    /// Monte-Carlo rollouts from each prefix, verified against the reference (Math-Shepherd's estimate).
    case monteCarlo = "monte-carlo"
    /// The model itself rates the solution.
    case judge
    /// A trained outcome reward model (`orm:DIR`).
    case outcomeModel = "orm"
    /// A trained process reward model (`prm:DIR`), its step scores combined by `--step-aggregation`.
    case processModel = "prm"
}

/// How test-time strategies are configured: each knob once, reachable from flags, `--config` and Swift.
public struct SearchConfiguration: ParsableArguments, Sendable {
    @Option(name: .long, help: "Expansions per beam or MCTS node.") public var expansions = 2
    @Option(name: .long, help: "MCTS iterations per unit of budget.") public var iterationsPerUnit = 4
    @Option(
        name: .long,
        help: "oracle (the verifier with the reference answer), monte-carlo (verified rollouts), judge (the model), orm:DIR or prm:DIR (a reward model trained by `ponder train-rm`).")
    public var scorer: ScorerChoice = .monteCarlo
    @Option(name: .long, help: "How a process reward model's step scores make a solution's score: last, min, product or mean.")
    public var stepAggregation: StepAggregation = .last
    @Option(name: .long, help: "Rollouts per prefix for the Monte-Carlo process scorer.") public var rollouts = 4
    @Option(name: .long, help: "Text that ends a reasoning step.") public var delimiter = "\n\n"
    @Option(name: .long, help: "Most steps of a beam or MCTS path.") public var maxSteps = 12
    @Option(name: .long, help: "Token budget per problem of the compute-optimal allocator (times the budget).") public var tokenBudget = 2000
    @OptionGroup public var sampling: SamplingOptions

    public init() {}

    /// The strategy `name` at `budget` (samples, beams, or MCTS iterations per unit), sampling with `defaults` where
    /// the flags leave a value unset (the model's generation config).
    public func strategy(_ name: StrategyName, budget: Int, model: any LanguageModel) -> any SearchStrategy {
        var parameters = sampling.parameters(defaults: model.generationDefaults)
        parameters.n = 1
        let steps = StepRules(delimiter: delimiter)
        let scorer: any Scorer
        switch self.scorer.name {
        case .outcomeModel, .processModel: scorer = self.scorer.rewardModelScorer(delimiter: delimiter, aggregation: stepAggregation)!
        case .oracle: scorer = VerifierScorer()
        case .judge: scorer = JudgeScorer(model: model)
        case .monteCarlo: scorer = MonteCarloScorer(model: model, rollouts: rollouts, parameters: parameters)
        }
        switch name {
        case .cot: return ChainOfThought(parameters: parameters)
        case .selfConsistency: return SelfConsistency(samples: budget, batchSize: Swift.min(budget, 8), parameters: parameters)
        case .bestOfN: return BestOfN(samples: budget, batchSize: budget, scorer: scorer, parameters: parameters)
        case .confidence:
            return ConfidenceVoting(traces: budget, batchSize: Swift.min(budget, 8), measure: .lowestGroup(size: 8), parameters: parameters)
        case .beam:
            return BeamSearch(beams: budget, expansions: expansions, maxSteps: maxSteps, scorer: scorer, steps: steps, parameters: parameters)
        case .dvts:
            let subtree = BeamSearch(beams: 1, expansions: expansions, maxSteps: maxSteps, scorer: scorer, steps: steps, parameters: parameters)
            return DiverseVerifierTreeSearch(budget: Swift.max(budget, expansions), width: expansions, subtree: subtree)
        case .mcts:
            return MonteCarloTreeSearch(
                iterations: budget * iterationsPerUnit, expansions: expansions, maxDepth: maxSteps, scorer: scorer, steps: steps,
                parameters: parameters)
        case .selfRefine: return SelfRefine(rounds: Swift.max(1, budget / 4), critic: .model, parameters: parameters)
        case .budget:
            return BudgetForcing(
                budget: ThinkingBudget(maxThinkingTokens: 16 * budget), parameters: parameters, answerTokens: parameters.maxTokens)
        case .allocator: return ComputeOptimalAllocator(tokenBudget: tokenBudget * budget, scorer: scorer, parameters: parameters)
        }
    }

    public func validate() throws {
        if expansions < 1 { throw ValidationError("--expansions must be at least 1") }
        if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        if rollouts < 1 { throw ValidationError("--rollouts must be at least 1") }
        try scorer.validate()
    }
}
