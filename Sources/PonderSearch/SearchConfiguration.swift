import ArgumentParser
import Foundation
import PonderConfiguration
import PonderCore
import PonderVerifiers

/// Test-time strategies by name.
public enum StrategyName: String, Sendable, CaseIterable, ExpressibleByArgument {
    case cot
    case selfConsistency = "self-consistency"
    case bestOfN = "best-of-n"
    case weightedMajority = "weighted-majority"
    case confidence, beam, dvts, mcts
    case selfRefine = "self-refine"
    case budget, allocator
}

/// Scorers that guide search, by name.
public enum ScorerName: String, Sendable, CaseIterable, ExpressibleByArgument {
    /// Reference-free self-consistency: finished solutions score their answer's share of the scored batch, partial
    /// ones the share of their Monte-Carlo rollouts that reach the batch's consensus answer.
    case vote
    /// The model itself rates the solution (a chat request, or a text prompt for base models).
    case judge
    /// The verifier with the reference answer: an upper bound, since it reads the answer key.
    case oracle
    /// Monte-Carlo rollouts verified against the reference answer (Math-Shepherd's label): an upper bound.
    case monteCarloOracle = "monte-carlo-oracle"
    /// A trained outcome reward model (`orm:DIR`).
    case outcomeModel = "orm"
    /// A trained process reward model (`prm:DIR`), its step scores combined by `--step-aggregation`.
    case processModel = "prm"

    /// Whether the scorer reads reference answers (its results are upper bounds, never a default).
    public var isOracle: Bool { self == .oracle || self == .monteCarloOracle }
}

/// How test-time strategies are configured: each knob once, reachable from flags, `--config` and Swift.
///
/// The default scorer is `vote`: it needs no answer key and no second model, and works on any model (the `judge`
/// needs a model able to rate solutions, which a small base model is not). Oracle scorers must be asked for and
/// get their references through ``strategy(_:budget:model:references:)``.
public struct SearchConfiguration: ParsableArguments, Sendable {
    @Option(name: .long, help: "Beam width M: expansions per kept beam (beam, dvts) or per MCTS node.") public var expansions = 2
    @Option(name: .long, help: "MCTS iterations per unit of budget.") public var iterationsPerUnit = 4
    @Option(
        name: .long,
        help:
            "vote (reference-free self-consistency; the default), judge (the model rates), orm:DIR or prm:DIR (a reward model trained by `ponder train-rm`), oracle or monte-carlo-oracle (read the answer key: upper bounds only)."
    )
    public var scorer: ScorerChoice = .vote
    @Option(name: .long, help: "How a process reward model's step scores make a solution's score: last, min, product or mean.")
    public var stepAggregation: StepAggregation = .last
    @Option(name: .long, help: "Rollouts per prefix for Monte-Carlo process scores (vote, monte-carlo-oracle).") public var rollouts = 4
    @Option(name: .long, help: "Text that ends a reasoning step.") public var delimiter = "\n\n"
    @Option(name: .long, help: "Most steps of a beam or MCTS path.") public var maxSteps = 12
    @Option(name: .long, help: "Most new tokens of a judge's rating.") public var judgeTokens = 8
    @Option(name: .long, help: "Fitted allocation policy (JSON from `ponder allocate fit`) for --strategy allocator.")
    public var policy: String?
    @OptionGroup public var sampling: SamplingOptions

    public init() {}

    /// Whether strategy `name` is guided by the scorer.
    public func usesScorer(_ name: StrategyName) -> Bool {
        switch name {
        case .bestOfN, .weightedMajority, .beam, .dvts, .mcts: true
        case .allocator: true
        default: false
        }
    }

    /// Whether strategy `name` under this configuration reads the answer key: its accuracy is an upper bound.
    public func isUpperBound(_ name: StrategyName) -> Bool { usesScorer(name) && scorer.name.isOracle }

    /// The name a report gives strategy `name`: the strategy's own, with its scorer when it uses one, marked
    /// "upper bound" when that scorer is an oracle (e.g. `best-of-n [oracle, upper bound]`).
    public func label(_ name: StrategyName, strategyName: String) -> String {
        guard usesScorer(name) else { return strategyName }
        return "\(strategyName) [\(scorer.name.rawValue)\(scorer.name.isOracle ? ", upper bound" : "")]"
    }

    /// The scorer by name for `model`; oracles grade against `references`.
    public func makeScorer(model: any LanguageModel, references: ReferenceAnswers) -> any Scorer {
        makeScorer(model: model, references: references, parameters: sampling.parameters(defaults: model.generationDefaults))
    }

    /// The scorer by name for `model`, its rollouts sampled with `parameters`; oracles grade against `references`.
    public func makeScorer(model: any LanguageModel, references: ReferenceAnswers, parameters: SamplingParameters) -> any Scorer {
        var parameters = parameters
        parameters.n = 1
        switch scorer.name {
        case .outcomeModel, .processModel: return scorer.rewardModelScorer(delimiter: delimiter, aggregation: stepAggregation)!
        case .vote: return MonteCarloScorer(model: model, rollouts: rollouts, target: .majority, parameters: parameters)
        case .judge: return JudgeScorer(model: model, parameters: .greedy(maxTokens: judgeTokens))
        case .oracle: return OracleScorer(references: references)
        case .monteCarloOracle:
            return MonteCarloScorer(model: model, rollouts: rollouts, target: .references(references), parameters: parameters)
        }
    }

    /// The strategy `name` at `budget` (samples, beams, or MCTS iterations per unit), sampling with the model's
    /// generation config where the flags leave a value unset. Oracle scorers grade against `references` (none by
    /// default: an oracle then fails naming the problem). Throws when `--policy` cannot be read.
    public func strategy(
        _ name: StrategyName, budget: Int, model: any LanguageModel, references: ReferenceAnswers = ReferenceAnswers([])
    ) throws -> any SearchStrategy {
        try strategy(name, budget: budget, model: model, parameters: sampling.parameters(defaults: model.generationDefaults), references: references)
    }

    /// The strategy `name` at `budget`, sampling with `parameters` (their `n` is ignored: the budget sets the number
    /// of samples) instead of the sampling flags: how a server applies one request's settings.
    public func strategy(
        _ name: StrategyName, budget: Int, model: any LanguageModel, parameters: SamplingParameters,
        references: ReferenceAnswers = ReferenceAnswers([])
    ) throws -> any SearchStrategy {
        var parameters = parameters
        parameters.n = 1
        let steps = StepRules(delimiter: delimiter)
        let scorer = makeScorer(model: model, references: references, parameters: parameters)
        switch name {
        case .cot: return ChainOfThought(parameters: parameters)
        case .selfConsistency: return SelfConsistency(samples: budget, batchSize: Swift.min(budget, 8), parameters: parameters)
        case .bestOfN: return BestOfN(samples: budget, batchSize: budget, scorer: scorer, parameters: parameters)
        case .weightedMajority:
            return BestOfN(samples: budget, batchSize: budget, scorer: scorer, selection: .weightedMajority, parameters: parameters)
        case .confidence:
            return ConfidenceVoting(
                traces: budget, warmup: budget >= 4 ? Swift.max(2, budget / 4) : nil, batchSize: Swift.min(budget, 8), window: 8,
                parameters: parameters)
        case .beam:
            return BeamSearch(
                beams: budget, expansions: Swift.min(expansions, budget), maxSteps: maxSteps, scorer: scorer, steps: steps,
                parameters: parameters)
        case .dvts:
            let width = Swift.min(expansions, budget)
            let subtree = BeamSearch(
                beams: width, expansions: width, maxSteps: maxSteps, scorer: scorer, steps: steps, parameters: parameters)
            return DiverseVerifierTreeSearch(budget: Swift.max(width, budget / width * width), width: width, subtree: subtree)
        case .mcts:
            return MonteCarloTreeSearch(
                iterations: budget * iterationsPerUnit, expansions: expansions, maxDepth: maxSteps, scorer: scorer, steps: steps,
                parameters: parameters)
        case .selfRefine: return SelfRefine(rounds: Swift.max(1, budget / 4), critic: .model, parameters: parameters)
        case .budget:
            return BudgetForcing(
                budget: ThinkingBudget(maxThinkingTokens: 16 * budget), parameters: parameters, answerTokens: parameters.maxTokens)
        case .allocator:
            let policy: AllocationPolicy
            if let path = self.policy {
                policy = try AllocationPolicy.load(URL(fileURLWithPath: path))
            } else {
                policy = .unfitted(budget: budget)
            }
            let configuration = self
            let sampling = parameters
            return ComputeOptimalAllocator(
                policy: policy, budget: budget, parameters: parameters,
                strategies: { name, n in
                    try configuration.strategy(name, budget: n, model: model, parameters: sampling, references: references)
                })
        }
    }

    public func validate() throws {
        if expansions < 1 { throw ValidationError("--expansions must be at least 1") }
        if maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        if rollouts < 1 { throw ValidationError("--rollouts must be at least 1") }
        if judgeTokens < 1 { throw ValidationError("--judge-tokens must be at least 1") }
        try scorer.validate()
    }
}
