import PonderCore
import PonderVerifiers

/// Best-of-N with an outcome scorer: sample N solutions, score each, and pick either the best-scoring one or the
/// answer whose class has the largest total score (weighted majority, Li et al. 2023 / search-and-learn).
public struct BestOfN: SearchStrategy {
    /// How the final answer is chosen from scored samples.
    public enum Selection: String, Sendable, Hashable, Codable {
        /// The single highest-scoring solution (ties: the earliest).
        case best
        /// The answer class with the largest sum of scores; its highest-scoring member is returned.
        case weightedMajority
    }

    /// Number of samples.
    public var samples: Int
    /// Samples per model call.
    public var batchSize: Int
    /// Scores finished solutions.
    public var scorer: any Scorer
    /// How the answer is chosen.
    public var selection: Selection
    /// Decoding settings (`n` is set per batch).
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        samples: Int = 16, batchSize: Int = 16, scorer: any Scorer, selection: Selection = .best,
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.samples = samples
        self.batchSize = batchSize
        self.scorer = scorer
        self.selection = selection
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { selection == .best ? "best-of-n" : "weighted-majority" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(samples >= 1, "samples", samples, "must be at least 1")
        try SearchError.require(batchSize >= 1, "batchSize", batchSize, "must be at least 1")
        try parameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        var completions: [Completion] = []
        while completions.count < samples {
            completions += try await caller.sample(parameters, n: min(batchSize, samples - completions.count))
        }
        let batch = try await scorer.checkedScores(
            completions.map(\.text), outcome: true, in: ScoringContext(question: question, prompt: prompt))
        caller.addScoring(batch.cost)
        var trace = TraceBuilder()
        var candidates: [Candidate] = []
        for (c, s) in zip(completions, batch.scores) {
            let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, score: s, isTerminal: true)
            candidates.append(
                Candidate(
                    text: c.text, answer: grouping.answer(of: c.text), score: s, tokens: c.tokens.count, node: node,
                    isComplete: c.finishReason == .stop))
        }
        let chosen = Self.select(candidates, selection: selection, grouping: grouping)
        return SearchResult(
            strategy: name, answer: candidates[chosen].answer, text: candidates[chosen].text, chosen: chosen, candidates: candidates,
            trace: trace.nodes, usage: caller.usage)
    }

    /// Index of the chosen candidate among scored `candidates` (not empty).
    static func select(_ candidates: [Candidate], selection: Selection, grouping: AnswerGrouping) -> Int {
        func best(_ ids: [Int]) -> Int {
            ids.max { a, b in
                let sa = candidates[a].score ?? -.infinity
                let sb = candidates[b].score ?? -.infinity
                return sa != sb ? sa < sb : a > b
            }!
        }
        switch selection {
        case .best:
            return best(Array(candidates.indices))
        case .weightedMajority:
            var tally = VoteTally()
            for c in candidates { tally.add(c.answer, weight: c.score ?? 0, grouping: grouping) }
            guard let lead = tally.leader else { return best(Array(candidates.indices)) }
            return best(tally.classes[lead].members)
        }
    }
}
