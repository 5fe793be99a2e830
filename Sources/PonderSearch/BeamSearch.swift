import PonderCore
import PonderVerifiers

/// Step-level beam search guided by a process scorer, as search-and-learn runs it (Snell et al. 2024; Beeching et
/// al. 2024).
///
/// Every step samples ``beams`` (N) next steps in all: the kept beams are repeated, in order, until there are N
/// slots (the root fills all N at the first step), so each kept beam is extended about ``expansions`` (M) ways.
/// Each new step is scored (after ``lookahead`` further greedy steps when `lookahead > 0`) and its path score is
/// the ``aggregation`` of the step scores from the root. New steps that end the solution are set aside as
/// finished and never compete for a slot; among the others, duplicates (the same solution text) are dropped and the
/// best N / M by aggregated score are kept (ties: the earlier). The last step (step ``maxSteps``) is sampled without
/// the delimiter as a stop, so every surviving beam is completed to its end. The candidates are the finished
/// solutions, best N by aggregated score; when none finished, the kept unfinished ones.
///
/// What search-and-learn does and this does not: it pads the candidate list to N by repeating finished beams;
/// Ponder returns the distinct finished ones.
public struct BeamSearch: SearchStrategy {
    /// Next steps sampled per step in all (N).
    public var beams: Int
    /// Beam width (M): next steps per kept beam; N / M beams are kept after each step.
    public var expansions: Int
    /// Greedy steps rolled out past a candidate before scoring it (0 for none).
    public var lookahead: Int
    /// Most steps per solution.
    public var maxSteps: Int
    /// How step scores along a path become its score.
    public var aggregation: StepAggregation
    /// Scores partial (and finished) solutions.
    public var scorer: any Scorer
    /// How the answer is chosen among finished beams.
    public var selection: BestOfN.Selection
    /// Step delimiter and end detection.
    public var steps: StepRules
    /// Decoding settings for steps (`n` and `stop` are set per call).
    public var parameters: SamplingParameters
    /// Decoding settings for lookahead steps.
    public var lookaheadParameters: SamplingParameters
    /// How answers are extracted and grouped.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        beams: Int = 4, expansions: Int = 4, lookahead: Int = 0, maxSteps: Int = 40, aggregation: StepAggregation = .last,
        scorer: any Scorer, selection: BestOfN.Selection = .best, steps: StepRules = StepRules(),
        parameters: SamplingParameters = SamplingParameters(), lookaheadParameters: SamplingParameters = .greedy(),
        grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.beams = beams
        self.expansions = expansions
        self.lookahead = lookahead
        self.maxSteps = maxSteps
        self.aggregation = aggregation
        self.scorer = scorer
        self.selection = selection
        self.steps = steps
        self.parameters = parameters
        self.lookaheadParameters = lookaheadParameters
        self.grouping = grouping
    }

    public var name: String { "beam-search" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(beams >= 1, "beams", beams, "must be at least 1")
        try SearchError.require(
            expansions >= 1 && expansions <= beams, "expansions", expansions, "beam width must be in 1...beams (\(beams))")
        try SearchError.require(lookahead >= 0, "lookahead", lookahead, "must be >= 0")
        try SearchError.require(maxSteps >= 1, "maxSteps", maxSteps, "must be at least 1")
        try steps.validate()
        try parameters.validate()
        try lookaheadParameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        let run = try await search(question: question, prompt: prompt, model: model)
        return run.result(name: name, selection: selection, grouping: grouping)
    }

    /// Beams kept after each step: N / M, at least one.
    var kept: Int { max(1, beams / expansions) }

    /// The search itself.
    func search(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> StepSearchRun {
        let context = ScoringContext(question: question, prompt: prompt)
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var pathScores: [Int: [Double]] = [0: []]
        var aggregated: [Int: Double] = [:]
        var active = [0]
        var finished: [Int] = []
        var lookaheadTokens = 0
        var stepsTaken = 0

        while !active.isEmpty && stepsTaken < maxSteps {
            stepsTaken += 1
            let last = stepsTaken == maxSteps
            // Refill to N slots by repeating the kept beams in order.
            var copies = [Int](repeating: 0, count: active.count)
            for slot in 0..<beams { copies[slot % active.count] += 1 }
            var fresh: [Int] = []
            for (beam, n) in zip(active, copies) where n > 0 {
                let solution = trace.solution(to: beam)
                // The last step runs to the end of the solution: no step delimiter.
                for c in try await caller.sample(parameters, n: n, continuation: solution, stop: last ? [] : [steps.delimiter]) {
                    let terminal = last || steps.isTerminal(c, after: solution, grouping: grouping)
                    fresh.append(
                        trace.add(parent: beam, text: steps.stepText(c, terminal: terminal), tokens: c.tokens.count, isTerminal: terminal))
                }
            }
            // Texts to score: each new path, extended by lookahead for those that have not ended.
            var texts: [String] = []
            for id in fresh {
                var text = trace.solution(to: id)
                if !trace[id].isTerminal {
                    for _ in 0..<lookahead {
                        let c = try await caller.sample(lookaheadParameters, n: 1, continuation: text, stop: [steps.delimiter])[0]
                        lookaheadTokens += c.tokens.count
                        let terminal = steps.isTerminal(c, after: text, grouping: grouping)
                        text += steps.stepText(c, terminal: terminal)
                        if terminal { break }
                    }
                }
                texts.append(text)
            }
            let scores = try await score(texts, terminal: fresh.map { trace[$0].isTerminal }, context: context, caller: &caller)
            for (id, s) in zip(fresh, scores) {
                trace[id].score = s
                pathScores[id] = pathScores[trace[id].parent!]! + [s]
                aggregated[id] = aggregation.aggregate(pathScores[id]!)
            }
            // Finished beams are set aside; the others, without duplicates, compete for the N / M kept slots.
            finished += fresh.filter { trace[$0].isTerminal }
            var seen = Set<String>()
            let open = fresh.filter { !trace[$0].isTerminal && seen.insert(trace.solution(to: $0)).inserted }
            active = Array(open.sorted { aggregated[$0]! != aggregated[$1]! ? aggregated[$0]! > aggregated[$1]! : $0 < $1 }.prefix(kept))
        }
        caller.addPruned(lookaheadTokens)
        let best = Array(
            finished.sorted { aggregated[$0]! != aggregated[$1]! ? aggregated[$0]! > aggregated[$1]! : $0 < $1 }.prefix(beams))
        return StepSearchRun(
            trace: trace, finished: best, unfinished: active, aggregated: aggregated, caller: caller, steps: stepsTaken,
            grouping: grouping)
    }

    /// Scores new paths: finished ones as outcomes, the others as prefixes, in one call each.
    func score(_ texts: [String], terminal: [Bool], context: ScoringContext, caller: inout ModelCaller) async throws -> [Double] {
        var scores = [Double](repeating: 0, count: texts.count)
        for outcome in [true, false] {
            let ids = texts.indices.filter { terminal[$0] == outcome }
            let batch = try await scorer.checkedScores(ids.map { texts[$0] }, outcome: outcome, in: context)
            caller.addScoring(batch.cost)
            for (i, s) in zip(ids, batch.scores) { scores[i] = s }
        }
        return scores
    }
}
