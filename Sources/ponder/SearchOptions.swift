import ArgumentParser
import Foundation
import PonderCore
import PonderSearch
import PonderVerifiers

/// Test-time strategies by command-line name.
enum StrategyName: String, ExpressibleByArgument, CaseIterable {
    case cot
    case selfConsistency = "self-consistency"
    case bestOfN = "best-of-n"
    case confidence, beam, dvts, mcts
    case selfRefine = "self-refine"
    case
        budget, allocator
}

/// How a strategy is configured from the command line.
struct SearchOptions: ParsableArguments {
    @Option(name: .long, help: "Samples, beams or rollouts (the budget knob; see `ponder eval --budgets`).") var n = 8
    @Option(name: .long, help: "Expansions per beam or MCTS node.") var expansions = 2
    @Option(name: .long, help: "MCTS iterations per unit of budget.") var iterationsPerUnit = 4
    @Option(name: .long, help: "oracle (the verifier with the reference answer), monte-carlo (verified rollouts) or judge (the model).")
    var scorer = "monte-carlo"
    @Option(name: .long, help: "Rollouts per prefix for the Monte-Carlo process scorer.") var rollouts = 4
    @Option(name: .long, help: "Text that ends a reasoning step.") var delimiter = "\n\n"
    @Option(name: .long, help: "Sampling temperature.") var temperature = 1.0
    @Option(name: .long, help: "Most tokens per model call.") var maxTokens = 96
    @Option(name: .long, help: "Random seed.") var seed: UInt64 = 0
    @Option(name: .long, help: "Token budget of the compute-optimal allocator.") var tokenBudget = 2000

    func validate() throws {
        if n < 1 { throw ValidationError("--n must be at least 1") }
        if !["oracle", "monte-carlo", "judge"].contains(scorer) {
            throw ValidationError("--scorer \(scorer): use oracle, monte-carlo or judge")
        }
    }

    /// The settings as a plain factory.
    var factory: StrategyFactory {
        StrategyFactory(
            expansions: expansions, iterationsPerUnit: iterationsPerUnit, scorer: scorer, rollouts: rollouts, delimiter: delimiter,
            temperature: temperature, maxTokens: maxTokens, seed: seed, tokenBudget: tokenBudget)
    }

    func strategy(_ name: StrategyName, budget: Int, model: any LanguageModel) -> any SearchStrategy {
        factory.strategy(name, budget: budget, model: model)
    }
}

/// Builds strategies from plain settings (the command line's, or the demo's).
struct StrategyFactory {
    var expansions = 2
    var iterationsPerUnit = 4
    var scorer = "monte-carlo"
    var rollouts = 4
    var delimiter = "\n\n"
    var temperature = 1.0
    var maxTokens = 96
    var seed: UInt64 = 0
    var tokenBudget = 2000

    /// The strategy `name` with budget `budget` (samples, beams, or MCTS iterations per unit).
    func strategy(_ name: StrategyName, budget: Int, model: any LanguageModel) -> any SearchStrategy {
        let parameters = SamplingParameters(maxTokens: maxTokens, temperature: temperature, seed: seed)
        let steps = StepRules(delimiter: delimiter)
        let scorer: any Scorer
        switch self.scorer {
        case "oracle": scorer = VerifierScorer()
        case "judge": scorer = JudgeScorer(model: model)
        default: scorer = MonteCarloScorer(model: model, rollouts: rollouts, parameters: parameters)
        }
        switch name {
        case .cot: return ChainOfThought(parameters: parameters)
        case .selfConsistency: return SelfConsistency(samples: budget, batchSize: Swift.min(budget, 8), parameters: parameters)
        case .bestOfN: return BestOfN(samples: budget, batchSize: budget, scorer: scorer, parameters: parameters)
        case .confidence:
            return ConfidenceVoting(traces: budget, batchSize: Swift.min(budget, 8), measure: .lowestGroup(size: 8), parameters: parameters)
        case .beam:
            return BeamSearch(beams: budget, expansions: expansions, maxSteps: 12, scorer: scorer, steps: steps, parameters: parameters)
        case .dvts:
            let subtree = BeamSearch(beams: 1, expansions: expansions, maxSteps: 12, scorer: scorer, steps: steps, parameters: parameters)
            return DiverseVerifierTreeSearch(budget: Swift.max(budget, expansions), width: expansions, subtree: subtree)
        case .mcts:
            return MonteCarloTreeSearch(
                iterations: budget * iterationsPerUnit, expansions: expansions, maxDepth: 12, scorer: scorer, steps: steps,
                parameters: parameters)
        case .selfRefine: return SelfRefine(rounds: Swift.max(1, budget / 4), critic: .model, parameters: parameters)
        case .budget:
            return BudgetForcing(budget: ThinkingBudget(maxThinkingTokens: 16 * budget), parameters: parameters, answerTokens: maxTokens)
        case .allocator: return ComputeOptimalAllocator(tokenBudget: tokenBudget * budget, scorer: scorer, parameters: parameters)
        }
    }
}
