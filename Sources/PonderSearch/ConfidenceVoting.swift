import Foundation
import PonderCore
import PonderVerifiers

/// Confidence-filtered, confidence-weighted voting (DeepConf, Fu et al. 2025, "Deep Think with Confidence").
///
/// Confidence is the paper's: the token confidence `C_i` is the negative mean of the top-k log-probabilities of the
/// model's distribution at token i (the engine measures it while generating: ``PonderCore/ConfidenceStop``), a
/// group confidence is the mean of `C_i` over a sliding window of ``window`` tokens, and a trace's confidence is
/// its lowest group confidence (``Measure/lowestGroup``) or the mean over all its tokens (``Measure/mean``).
///
/// Offline (``warmup`` `nil`): all ``traces`` are drawn; the top ``keepPercent`` by confidence (and any tied with
/// the last of them) vote, each weighted by its confidence. Online (DeepConf-low/high): ``warmup`` traces set the
/// threshold (the confidence of the last trace in their top ``keepPercent``); every further trace is generated
/// with that threshold as the engine's online stop, so a trace whose group confidence drops below it ends at once
/// (`StopReason.lowConfidence`) and does not vote; sampling stops once the leading answer's share of the vote
/// weight reaches ``consensus``. Tokens of traces that do not vote are counted as pruned.
public struct ConfidenceVoting: SearchStrategy {
    /// How a trace's confidence is computed from its token confidences.
    public enum Measure: String, Sendable, Hashable, Codable {
        /// The mean token confidence of the whole trace (DeepConf's "average trace confidence").
        case mean
        /// The lowest mean over any ``ConfidenceVoting/window`` consecutive tokens (the whole trace when shorter).
        case lowestGroup
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
    /// The trace confidence.
    public var measure: Measure
    /// Tokens per group (DeepConf: 2048; small models write short traces, so shorter groups suit them).
    public var window: Int
    /// Top log-probabilities per token in the token confidence (DeepConf: 20).
    public var topLogprobs: Int
    /// Decoding settings (`confidence` is set per call, `n` per batch).
    public var parameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        traces: Int = 32, warmup: Int? = nil, batchSize: Int = 1, keepPercent: Double = 90, consensus: Double = 0.95,
        measure: Measure = .lowestGroup, window: Int = 2048, topLogprobs: Int = 20, parameters: SamplingParameters = SamplingParameters(),
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.traces = traces
        self.warmup = warmup
        self.batchSize = batchSize
        self.keepPercent = keepPercent
        self.consensus = consensus
        self.measure = measure
        self.window = window
        self.topLogprobs = topLogprobs
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
        try SearchError.require(window >= 1, "window", window, "must be at least 1")
        try SearchError.require(topLogprobs >= 1, "topLogprobs", topLogprobs, "must be at least 1")
        try parameters.validate()
    }

    /// The settings the engine measures with (and, given a threshold, stops with).
    func stopSettings(threshold: Double?) -> ConfidenceStop {
        ConfidenceStop(topLogprobs: topLogprobs, window: window, threshold: threshold)
    }

    /// The confidence of a trace with these token confidences; 0 for an empty trace.
    public func confidence(_ tokenConfidences: [Double]) -> Double {
        guard !tokenConfidences.isEmpty else { return 0 }
        switch measure {
        case .mean: return tokenConfidences.reduce(0, +) / Double(tokenConfidences.count)
        case .lowestGroup: return stopSettings(threshold: nil).lowestGroup(tokenConfidences) ?? 0
        }
    }

    /// How many of `count` traces the top `keepPercent` keeps (at least one).
    func keepCount(of count: Int) -> Int { max(1, Int((keepPercent / 100 * Double(count)).rounded(.up))) }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var candidates: [Candidate] = []
        var confidences: [Double] = []
        var stoppedEarly = 0

        func draw(_ n: Int, threshold: Double?) async throws {
            var p = parameters
            p.confidence = stopSettings(threshold: threshold)
            for c in try await caller.sample(p, n: n) {
                guard let tc = c.confidences else { throw SearchError.missingLogprobs(model: model.name) }
                let conf = confidence(tc)
                var lowConfidence = false
                if case .lowConfidence = c.stop {
                    lowConfidence = true
                    stoppedEarly += 1
                }
                let node = trace.add(parent: 0, text: c.text, tokens: c.tokens.count, score: conf, isTerminal: !lowConfidence)
                candidates.append(
                    Candidate(
                        text: c.text, answer: lowConfidence ? nil : grouping.answer(of: c.text), score: conf, tokens: c.tokens.count,
                        node: node, isComplete: c.finishReason == .stop && !lowConfidence))
                confidences.append(lowConfidence ? -.infinity : conf)
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
            try await draw(warmup, threshold: nil)
            threshold = confidences.sorted(by: >)[keepCount(of: warmup) - 1]
            vote(from: 0, threshold: threshold)
            while candidates.count < traces {
                let total = tally.classes.reduce(0) { $0 + $1.weight }
                if total > 0, tally.leaderWeight / total >= consensus {
                    stop = "consensus after \(candidates.count) traces: leader share \(tally.leaderWeight / total) >= \(consensus)"
                    break
                }
                let start = candidates.count
                try await draw(min(batchSize, traces - candidates.count), threshold: threshold)
                vote(from: start, threshold: threshold)
            }
        } else {
            try await draw(traces, threshold: nil)
            threshold = confidences.sorted(by: >)[keepCount(of: traces) - 1]
            vote(from: 0, threshold: threshold)
        }

        let keptSet = Set(kept)
        caller.addPruned(candidates.indices.filter { !keptSet.contains($0) }.reduce(0) { $0 + candidates[$1].tokens })
        var result = SearchResult(
            strategy: name, answer: nil, text: "", chosen: nil, candidates: candidates, trace: trace.nodes, usage: caller.usage,
            notes: ["stop": stop, "threshold": "\(threshold)", "kept": "\(kept.count)", "stoppedEarly": "\(stoppedEarly)"])
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
