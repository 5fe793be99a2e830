import Foundation
import PonderCore
import PonderVerifiers

/// Monte Carlo tree search over solution steps with PUCT selection (AlphaZero; rStar and ReST-MCTS* for LLMs).
///
/// Each iteration walks from the root, choosing at every expanded node the child maximising
/// `Q + c·P·√N / (1 + n)` (PUCT: `Q` the child's mean value, ``unvisitedValue`` before its first visit; `P` its
/// prior; `N` the parent's visits; `n` the child's), until it reaches a node that is unvisited, ended, or not yet
/// expanded. An unvisited node is evaluated; an ended node reuses its value; an unexpanded one is expanded by
/// sampling ``expansions`` next steps and the child PUCT prefers is evaluated. Identical sibling steps are merged
/// into one child whose prior sums theirs. Priors come from each step's per-token (geometric mean) probability,
/// normalised over the siblings, so a step is not favoured for being short; or they are uniform. Values come from
/// ``scorer`` (a process scorer, or ``MonteCarloScorer``'s rollouts) and are backed up along the path. Ties in
/// selection go to the larger prior, then the earlier child.
///
/// The answer comes from finished leaves only (steps that ended the solution, not ones cut by ``maxDepth``): their
/// answers, grouped by equivalence, are weighted by visits, by mean value, or counted (``FinalAnswer``); the
/// heaviest class wins and its most-visited member is returned. Without a visited finished leaf, every finished
/// leaf votes once; without any, there is no answer.
public struct MonteCarloTreeSearch: SearchStrategy {
    /// Where children's priors come from.
    public enum Prior: String, Sendable, Hashable, Codable {
        /// `exp(mean of the step's token logprobs)` (the per-token probability), normalised over the siblings.
        case sequenceProbability
        /// `1 / k` for `k` siblings.
        case uniform
    }

    /// How the final answer is read from the tree.
    public enum FinalAnswer: String, Sendable, Hashable, Codable {
        /// Each finished leaf's answer weighted by its visits.
        case visits
        /// Each finished leaf's answer weighted by its mean backed-up value.
        case value
        /// Each visited finished leaf's answer counted once.
        case vote
    }

    /// Selection–evaluation–backup iterations.
    public var iterations: Int
    /// Next steps sampled when a node is expanded (k).
    public var expansions: Int
    /// Exploration constant c.
    public var exploration: Double
    /// Value of a child before its first visit.
    public var unvisitedValue: Double
    /// Most steps per solution; a node at this depth counts as ended.
    public var maxDepth: Int
    /// Where priors come from.
    public var prior: Prior
    /// How the answer is chosen.
    public var finalAnswer: FinalAnswer
    /// Values partial and ended solutions.
    public var scorer: any Scorer
    /// Step delimiter and end detection.
    public var steps: StepRules
    /// Decoding settings for expansions (`n`, `stop` and `logprobs` set per call).
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        iterations: Int = 32, expansions: Int = 3, exploration: Double = 1, unvisitedValue: Double = 0, maxDepth: Int = 20,
        prior: Prior = .sequenceProbability, finalAnswer: FinalAnswer = .visits, scorer: any Scorer, steps: StepRules = StepRules(),
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.iterations = iterations
        self.expansions = expansions
        self.exploration = exploration
        self.unvisitedValue = unvisitedValue
        self.maxDepth = maxDepth
        self.prior = prior
        self.finalAnswer = finalAnswer
        self.scorer = scorer
        self.steps = steps
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { "mcts" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(iterations >= 1, "iterations", iterations, "must be at least 1")
        try SearchError.require(expansions >= 1, "expansions", expansions, "must be at least 1")
        try SearchError.require(exploration >= 0 && exploration.isFinite, "exploration", exploration, "must be a finite number >= 0")
        try SearchError.require(maxDepth >= 1, "maxDepth", maxDepth, "must be at least 1")
        try steps.validate()
        try parameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var tree = SearchTree(
            caller: ModelCaller(model: model, prompt: prompt), context: ScoringContext(question: question, prompt: prompt))
        for _ in 0..<iterations {
            var path = [0]
            var node = 0
            while tree.isExpanded(node), !tree.trace[node].isTerminal,
                let next = tree.select(from: node, exploration: exploration, unvisited: unvisitedValue)
            {
                node = next
                path.append(node)
            }
            if tree.trace[node].visits > 0 || node == 0, !tree.trace[node].isTerminal {
                try await tree.expand(node, strategy: self)
                guard let child = tree.select(from: node, exploration: exploration, unvisited: unvisitedValue) else { break }
                node = child
                path.append(node)
            }
            let v = try await tree.value(of: node, strategy: self)
            tree.backup(v, along: path)
        }
        return tree.result(strategy: self)
    }
}
