import Foundation
import PonderCore
import PonderVerifiers

/// Confidence-weighted voting from token log-probabilities (DeepConf, Fu et al. 2025).
///
/// Each trace gets a confidence from the log-probabilities of its sampled tokens: `exp` of their mean
/// (``Measure/mean``) or of the lowest mean over a sliding window of tokens (``Measure/lowestGroup(size:)``), a
/// value in (0, 1]. (DeepConf averages the top-k log-probabilities per token; the `LanguageModel` API reports
/// the sampled token's only, so that is the proxy used.) The top ``keepPercent`` of traces by confidence (and any
/// tied with the last of them) vote, each weighted by its confidence; the others are counted as pruned tokens.
///
/// Offline (``warmup`` `nil`): all ``traces`` are drawn, then filtered. Online: ``warmup`` traces set the
/// threshold (the confidence of the last trace in their top ``keepPercent``); further traces are drawn in batches of
/// ``batchSize``, those below the threshold are dropped (DeepConf stops them mid-generation; a `LanguageModel` call
/// cannot be stopped, so their tokens are spent and reported as pruned), and sampling stops once the leading
/// answer's share of the vote weight reaches ``consensus``.
public struct ConfidenceVoting: SearchStrategy {
    /// How a trace's confidence is computed from its token log-probabilities.
    public enum Measure: Sendable, Hashable, Codable {
        /// `exp` of the mean log-probability.
        case mean
        /// `exp` of the lowest mean log-probability over any `size` consecutive tokens (the whole trace when shorter).
        case lowestGroup(size: Int)
    }

    /// Most traces to draw.
    public var traces: Int
    /// Warm-up traces for the online variant; `nil` for offline filtering.
    public var warmup: Int?
    /// Traces per call after the warm-up.
    public var batchSize: Int
    /// Percentage of traces kept (DeepConf's η: 10 aggressive, 90 conservative), in (0, 100].
    public var keepPercent: Double
    /// Online stop: leading share of the vote weight (τ), in (0, 1].
    public var consensus: Double
    /// The confidence measure.
    public var measure: Measure
    /// Decoding settings (`logprobs` is forced on, `n` set per call).
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        traces: Int = 32, warmup: Int? = nil, batchSize: Int = 1, keepPercent: Double = 90, consensus: Double = 0.95,
        measure: Measure = .lowestGroup(size: 32), parameters: SamplingParameters = SamplingParameters(),
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.traces = traces
        self.warmup = warmup
        self.batchSize = batchSize
        self.keepPercent = keepPercent
        self.consensus = consensus
        self.measure = measure
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { warmup == nil ? "deepconf-offline" : "deepconf-online" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(traces >= 1, "traces", traces, "must be at least 1")
        if let w = warmup { try SearchError.require(w >= 1 && w <= traces, "warmup", w, "must be in 1...traces (\(traces))") }
        try SearchError.require(batchSize >= 1, "batchSize", batchSize, "must be at least 1")
        try SearchError.require(keepPercent > 0 && keepPercent <= 100, "keepPercent", keepPercent, "must be in (0, 100]")
        try SearchError.require(consensus > 0 && consensus <= 1, "consensus", consensus, "must be in (0, 1]")
        if case .lowestGroup(let size) = measure { try SearchError.require(size >= 1, "measure.size", size, "must be at least 1") }
        try parameters.validate()
    }

    /// The confidence of a trace with these token log-probabilities, in (0, 1]; 0 for an empty trace.
    public func confidence(_ logprobs: [Double]) -> Double {
        guard !logprobs.isEmpty else { return 0 }
        switch measure {
        case .mean:
            return exp(logprobs.reduce(0, +) / Double(logprobs.count))
        case .lowestGroup(let size):
            let w = min(size, logprobs.count)
            var sum = logprobs[0..<w].reduce(0, +)
            var lowest = sum
            for i in w..<logprobs.count {
                sum += logprobs[i] - logprobs[i - w]
                lowest = min(lowest, sum)
            }
            return exp(lowest / Double(w))
        }
    }

    /// How many of `count` traces the top `keepPercent` keeps (at least one).
    func keepCount(of count: Int) -> Int { max(1, Int((keepPercent / 100 * Double(count)).rounded(.up))) }

    public func run(problem: Problem, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var params = parameters
        params.logprobs = true
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var candidates: [Candidate] = []
        var confidences: [Double] = []

        func draw(_ n: Int) async throws {
            for c in try await caller.sample(params, n: n) {
                guard let lp = c.logprobs else { throw SearchError.missingLogprobs(model: model.name) }
                let conf = confidence(lp)
                let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, score: conf, isTerminal: true)
                candidates.append(
                    Candidate(
                        text: c.text, answer: grouping.answer(of: c.text), score: conf, tokens: c.tokens.count, node: node,
                        isComplete: c.finishReason == .stop))
                confidences.append(conf)
            }
        }

        // The vote so far: traces at or above the threshold, weighted by confidence; `kept[i]` is vote i's trace.
        var tally = VoteTally()
        var kept: [Int] = []
        func vote(from start: Int, threshold: Double) {
            for i in start..<candidates.count where confidences[i] >= threshold {
                tally.add(candidates[i].answer, weight: confidences[i], grouping: grouping)
                kept.append(i)
            }
        }

        let threshold: Double
        var stop = "all \(traces) traces drawn"
        if let warmup {
            try await draw(warmup)
            threshold = confidences.sorted(by: >)[keepCount(of: warmup) - 1]
            vote(from: 0, threshold: threshold)
            while candidates.count < traces {
                let total = tally.classes.reduce(0) { $0 + $1.weight }
                if total > 0, tally.leaderWeight / total >= consensus {
                    stop = "consensus after \(candidates.count) traces: leader share \(tally.leaderWeight / total) >= \(consensus)"
                    break
                }
                let start = candidates.count
                try await draw(min(batchSize, traces - candidates.count))
                vote(from: start, threshold: threshold)
            }
        } else {
            try await draw(traces)
            threshold = confidences.sorted(by: >)[keepCount(of: traces) - 1]
            vote(from: 0, threshold: threshold)
        }

        let keptSet = Set(kept)
        caller.addPruned(candidates.indices.filter { !keptSet.contains($0) }.reduce(0) { $0 + candidates[$1].tokens })
        var result = SearchResult(
            strategy: name, answer: nil, text: "", chosen: nil, candidates: candidates, trace: trace.nodes, usage: caller.usage,
            notes: ["stop": stop, "threshold": "\(threshold)", "kept": "\(kept.count)"])
        if let lead = tally.leader {
            let members = tally.classes[lead].members.map { kept[$0] }
            let best = members.max {
                candidates[$0].score! != candidates[$1].score! ? candidates[$0].score! < candidates[$1].score! : $0 > $1
            }!
            result.answer = tally.classes[lead].representative
            result.text = candidates[best].text
            result.chosen = best
        }
        return result
    }
}
