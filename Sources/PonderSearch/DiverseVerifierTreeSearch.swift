import PonderCore
import PonderVerifiers

/// Diverse verifier tree search (Beeching et al. 2024, search-and-learn's DVTS): the budget of `N` expansions
/// per step is split into `N / M` independent subtrees, each a beam search that keeps one beam and expands it `M`
/// ways. Subtrees cannot crowd each other out, which keeps the answers diverse at large N.
///
/// Subtrees run concurrently; their trees are joined under one root in the trace.
public struct DiverseVerifierTreeSearch: SearchStrategy {
    /// Total expansions per step (N); a multiple of ``width``.
    public var budget: Int
    /// Expansions per subtree (M).
    public var width: Int
    /// The beam search each subtree runs (its `beams` and `expansions` are overridden to 1 and ``width``).
    public var subtree: BeamSearch

    /// Makes the strategy from a beam search whose scorer, steps and sampling settings every subtree uses.
    public init(budget: Int = 16, width: Int = 4, subtree: BeamSearch) {
        self.budget = budget
        self.width = width
        self.subtree = subtree
    }

    public var name: String { "dvts" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(width >= 1, "width", width, "must be at least 1")
        try SearchError.require(budget >= width && budget % width == 0, "budget", budget, "must be a positive multiple of width (\(width))")
        try subtree.validate()
    }

    public func run(problem: Problem, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var beam = subtree
        beam.beams = 1
        beam.expansions = width
        let runs = try await withThrowingTaskGroup(of: (Int, StepSearchRun).self) { group in
            for k in 0..<(budget / width) {
                var b = beam
                if let seed = b.parameters.seed { b.parameters.seed = seed &+ UInt64(k) &* 1_000_003 }
                group.addTask { (k, try await b.search(problem: problem, prompt: prompt, model: model)) }
            }
            var all: [(Int, StepSearchRun)] = []
            for try await r in group { all.append(r) }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
        // Join the subtrees under one root, renumbering nodes.
        var trace = TraceBuilder()
        var usage = SearchUsage()
        var candidates: [Candidate] = []
        var pruned = 0
        for run in runs {
            var map = [0: 0]
            for node in run.trace.nodes.dropFirst() {
                map[node.id] = trace.add(
                    parent: map[node.parent!]!, text: node.text, tokens: node.tokens, score: node.score, isTerminal: node.isTerminal)
            }
            for var c in run.candidates() {
                c.node = map[c.node]!
                candidates.append(c)
            }
            usage = usage + run.caller.usage
            pruned += run.trace.prunedTokens(keeping: run.candidates().map(\.node))
        }
        usage.prunedTokens += pruned
        let notes = ["subtrees": "\(runs.count)", "finished": "\(runs.reduce(0) { $0 + $1.finished.count })"]
        guard !candidates.isEmpty else {
            return SearchResult(
                strategy: name, answer: nil, text: "", chosen: nil, candidates: [], trace: trace.nodes, usage: usage, notes: notes)
        }
        let chosen = BestOfN.select(candidates, selection: subtree.selection, grouping: subtree.grouping)
        return SearchResult(
            strategy: name, answer: candidates[chosen].answer, text: candidates[chosen].text, chosen: chosen, candidates: candidates,
            trace: trace.nodes, usage: usage, notes: notes)
    }
}
