import PonderCore
import PonderVerifiers

/// Self-consistency (Wang et al. 2023): sample solutions in batches and return the majority answer, with answers
/// grouped by verifier equivalence.
///
/// Stops early when the leader cannot be caught: after a batch, with `L` votes for the leader, `R` for the
/// runner-up and `r` samples left, it stops when `L > R + r` (even if every remaining sample joined the runner-up,
/// the leader would still win outright). It also stops when at least ``minimumSamples`` samples are drawn and the
/// leader's share of them reaches ``consensus``.
public struct SelfConsistency: SearchStrategy {
    /// Most samples to draw.
    public var samples: Int
    /// Samples per model call (one `n > 1` request); the stopping rules are checked after each batch.
    public var batchSize: Int
    /// Leader share of drawn samples (0 < c ≤ 1) that stops sampling; `nil` for no consensus stop.
    public var consensus: Double?
    /// Fewest samples before the consensus rule applies.
    public var minimumSamples: Int
    /// Whether the "cannot be overtaken" rule stops sampling.
    public var stopWhenDecided: Bool
    /// Decoding settings (`n` is set per batch).
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        samples: Int = 16, batchSize: Int = 4, consensus: Double? = nil, minimumSamples: Int = 4, stopWhenDecided: Bool = true,
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.samples = samples
        self.batchSize = batchSize
        self.consensus = consensus
        self.minimumSamples = minimumSamples
        self.stopWhenDecided = stopWhenDecided
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { "self-consistency" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(samples >= 1, "samples", samples, "must be at least 1")
        try SearchError.require(batchSize >= 1, "batchSize", batchSize, "must be at least 1")
        try SearchError.require(minimumSamples >= 1, "minimumSamples", minimumSamples, "must be at least 1")
        if let c = consensus { try SearchError.require(c > 0 && c <= 1, "consensus", c, "must be in (0, 1]") }
        try parameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var tally = VoteTally()
        var candidates: [Candidate] = []
        var stop = "all \(samples) samples drawn"
        while candidates.count < samples {
            let batch = try await caller.sample(parameters, n: min(batchSize, samples - candidates.count))
            for c in batch {
                let answer = grouping.answer(of: c.text)
                let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, isTerminal: true)
                candidates.append(
                    Candidate(
                        text: c.text, answer: answer, score: nil, tokens: c.tokens.count, node: node, isComplete: c.finishReason == .stop))
                tally.add(answer, grouping: grouping)
            }
            if let reason = stopReason(tally, drawn: candidates.count) {
                stop = reason
                break
            }
        }
        return Self.result(name: name, tally: tally, candidates: candidates, trace: trace, usage: caller.usage, notes: ["stop": stop])
    }

    /// Why sampling should stop after `drawn` samples, or `nil` to go on.
    func stopReason(_ tally: VoteTally, drawn: Int) -> String? {
        guard drawn < samples, tally.leader != nil else { return nil }
        let remaining = Double(samples - drawn)
        if stopWhenDecided, tally.leaderWeight > tally.runnerUpWeight + remaining {
            return
                "decided after \(drawn) samples: leader \(Int(tally.leaderWeight)) > runner-up \(Int(tally.runnerUpWeight)) + \(Int(remaining)) remaining"
        }
        if let c = consensus, drawn >= minimumSamples, tally.leaderWeight / Double(drawn) >= c {
            return "consensus after \(drawn) samples: leader share \(tally.leaderWeight / Double(drawn)) >= \(c)"
        }
        return nil
    }

    /// The result of a vote: the leading class's first member is the chosen candidate; each candidate's score is its
    /// class's share of the total weight.
    static func result(
        name: String, tally: VoteTally, candidates: [Candidate], trace: TraceBuilder, usage: SearchUsage, notes: [String: String]
    ) -> SearchResult {
        var scored = candidates
        let total = tally.classes.reduce(0) { $0 + $1.weight }
        for cls in tally.classes {
            for m in cls.members where scored[m].score == nil { scored[m].score = total > 0 ? cls.weight / total : 0 }
        }
        var notes = notes
        notes["classes"] = "\(tally.classes.count)"
        guard let lead = tally.leader else {
            return SearchResult(
                strategy: name, answer: nil, text: candidates.first?.text ?? "", chosen: candidates.isEmpty ? nil : 0,
                candidates: scored, trace: trace.nodes, usage: usage, notes: notes)
        }
        let winner = tally.classes[lead].members[0]
        return SearchResult(
            strategy: name, answer: tally.classes[lead].representative, text: candidates[winner].text, chosen: winner, candidates: scored,
            trace: trace.nodes, usage: usage, notes: notes)
    }
}
