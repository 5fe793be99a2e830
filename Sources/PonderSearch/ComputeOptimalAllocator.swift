import PonderCore
import PonderVerifiers

/// Compute-optimal test-time scaling (Snell et al. 2024): estimate a problem's difficulty cheaply, then choose the
/// strategy and the number of samples that a token budget allows.
///
/// Difficulty is the agreement of ``probeSamples`` samples (the leading answer's share, unanswered samples
/// included in the denominator). At or above ``easyAgreement`` the probe's majority is returned with no more
/// compute. Below ``hardAgreement`` the problem is hard: with a ``scorer``, a beam search of width 4 sized to the
/// budget runs (the probe's votes are kept as candidates); without one, self-consistency spends the budget.
/// In between, self-consistency continues from the probe's votes. The number of further samples is the remaining
/// budget divided by the probe's mean completion length, capped by ``maxSamples``; self-consistency also stops once
/// the budget is spent (the last batch may pass it). The beam search's spend is an estimate (about
/// `beams × 4` full solutions).
public struct ComputeOptimalAllocator: SearchStrategy {
    /// Completion tokens the whole run may spend, probe included (scoring excluded).
    public var tokenBudget: Int
    /// Samples drawn to estimate difficulty.
    public var probeSamples: Int
    /// Agreement at or above which a problem is easy.
    public var easyAgreement: Double
    /// Agreement below which a problem is hard.
    public var hardAgreement: Double
    /// Most further samples.
    public var maxSamples: Int
    /// Process scorer for search on hard problems; `nil` to use self-consistency everywhere.
    public var scorer: (any Scorer)?
    /// Decoding settings.
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the allocator.
    public init(
        tokenBudget: Int, probeSamples: Int = 4, easyAgreement: Double = 0.75, hardAgreement: Double = 0.5, maxSamples: Int = 64,
        scorer: (any Scorer)? = nil, parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.tokenBudget = tokenBudget
        self.probeSamples = probeSamples
        self.easyAgreement = easyAgreement
        self.hardAgreement = hardAgreement
        self.maxSamples = maxSamples
        self.scorer = scorer
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { "compute-optimal" }

    /// How hard the probe says the problem is.
    public enum Difficulty: String, Sendable, Hashable, Codable {
        /// The probe mostly agrees: its majority is returned.
        case easy
        /// Some agreement: self-consistency continues.
        case medium
        /// Little agreement: search with a scorer, or self-consistency with the whole budget.
        case hard
    }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(tokenBudget >= 1, "tokenBudget", tokenBudget, "must be at least 1")
        try SearchError.require(probeSamples >= 1, "probeSamples", probeSamples, "must be at least 1")
        try SearchError.require(
            hardAgreement > 0 && hardAgreement <= easyAgreement && easyAgreement <= 1, "hardAgreement", hardAgreement,
            "must satisfy 0 < hardAgreement <= easyAgreement (\(easyAgreement)) <= 1")
        try SearchError.require(maxSamples >= 0, "maxSamples", maxSamples, "must be >= 0")
        try parameters.validate()
    }

    /// The difficulty for a leading-answer share `agreement`.
    public func difficulty(agreement: Double) -> Difficulty {
        agreement >= easyAgreement ? .easy : agreement < hardAgreement ? .hard : .medium
    }

    public func run(problem: Problem, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var tally = VoteTally()
        var candidates: [Candidate] = []
        func add(_ completions: [Completion]) {
            for c in completions {
                let answer = grouping.answer(of: c.text)
                let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, isTerminal: true)
                candidates.append(
                    Candidate(
                        text: c.text, answer: answer, score: nil, tokens: c.tokens.count, node: node, isComplete: c.finishReason == .stop))
                tally.add(answer, grouping: grouping)
            }
        }
        add(try await caller.sample(parameters, n: probeSamples))
        let agreement = tally.leaderWeight / Double(probeSamples)
        let level = difficulty(agreement: agreement)
        let meanTokens = max(1, Double(caller.usage.generatedTokens) / Double(probeSamples))
        let affordable = min(maxSamples, max(0, Int(Double(tokenBudget - caller.usage.generatedTokens) / meanTokens)))
        var notes = [
            "agreement": "\(agreement)", "difficulty": level.rawValue, "affordableSamples": "\(affordable)",
            "meanProbeTokens": "\(meanTokens)",
        ]

        if level == .hard, let scorer, affordable >= 4 {
            notes["plan"] = "beam-search beams \(affordable / 4) expansions 4"
            let beam = BeamSearch(beams: affordable / 4, expansions: 4, scorer: scorer, parameters: parameters, grouping: grouping)
            var r = try await beam.run(problem: problem, prompt: prompt, model: model)
            // Keep the probe as candidates under the same root; beam nodes are renumbered after them.
            let offset = trace.nodes.count - 1
            for node in r.trace.dropFirst() {
                trace.add(
                    parent: node.parent! == 0 ? 0 : node.parent! + offset, text: node.text, tokens: node.tokens, score: node.score,
                    isTerminal: node.isTerminal)
            }
            r.candidates =
                candidates
                + r.candidates.map { c in
                    var c = c
                    c.node += offset
                    return c
                }
            r.chosen = r.chosen.map { $0 + candidates.count }
            r.trace = trace.nodes
            r.usage = r.usage + caller.usage
            r.strategy = name
            r.notes = r.notes.merging(notes) { $1 }
            return r
        }
        var extra = 0
        if level != .easy {
            let sc = SelfConsistency(samples: probeSamples + affordable, batchSize: 4, parameters: parameters, grouping: grouping)
            notes["plan"] = "self-consistency \(affordable) more samples"
            while extra < affordable, caller.usage.generatedTokens < tokenBudget, sc.stopReason(tally, drawn: candidates.count) == nil {
                let n = min(4, affordable - extra)
                add(try await caller.sample(parameters, n: n))
                extra += n
            }
        } else {
            notes["plan"] = "probe majority"
        }
        notes["extraSamples"] = "\(extra)"
        var r = SelfConsistency.result(name: name, tally: tally, candidates: candidates, trace: trace, usage: caller.usage, notes: notes)
        r.strategy = name
        return r
    }
}
