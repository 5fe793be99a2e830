import PonderCore
import PonderVerifiers

/// Diverse verifier tree search (Beeching et al. 2024, search-and-learn's DVTS): the budget of N next steps per
/// step is split into N / M independent subtrees. Each subtree keeps one beam: it samples M next steps from it,
/// scores them, and follows the best (greedy per subtree), until the step it follows ends the solution or
/// ``BeamSearch/maxSteps`` steps are taken (the last is sampled to the end). Subtrees cannot crowd each other out,
/// which keeps the answers diverse at large N.
///
/// The candidates are all N solutions of the subtrees' last expansions: each subtree's M last siblings (not just
/// the N / M it followed), as search-and-learn returns them; the answer is chosen among them by the subtree's
/// ``BeamSearch/selection``. Subtrees run concurrently, each with its own seed; their trees are joined under one
/// root in the trace.
public struct DiverseVerifierTreeSearch: SearchStrategy {
    /// Total next steps per step (N); a multiple of ``width``.
    public var budget: Int
    /// Next steps per subtree (M).
    public var width: Int
    /// The scorer, steps, sampling settings, aggregation, selection and step limit every subtree uses (its `beams`
    /// and `expansions` are not used).
    public var subtree: BeamSearch

    /// Makes the strategy from a beam search whose settings every subtree uses.
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
        var b = subtree
        b.beams = width
        b.expansions = width
        try b.validate()
    }

    /// One subtree: its trace, the ids of its last expansion, their aggregated scores, and its caller.
    struct Subtree: Sendable {
        var trace = TraceBuilder()
        var last: [Int] = []
        var aggregated: [Int: Double] = [:]
        var caller: ModelCaller
        var steps = 0
    }

    func grow(seed: UInt64?, question: Question, prompt: Prompt, model: any LanguageModel) async throws -> Subtree {
        let s = subtree
        var parameters = s.parameters
        parameters.seed = seed
        let context = ScoringContext(question: question, prompt: prompt)
        var tree = Subtree(caller: ModelCaller(model: model, prompt: prompt))
        var pathScores: [Int: [Double]] = [0: []]
        var beam = 0
        while tree.steps < s.maxSteps {
            tree.steps += 1
            let last = tree.steps == s.maxSteps
            let solution = tree.trace.solution(to: beam)
            var fresh: [Int] = []
            for c in try await tree.caller.sample(parameters, n: width, continuation: solution, stop: last ? [] : [s.steps.delimiter]) {
                let terminal = last || s.steps.isTerminal(c, after: solution, grouping: s.grouping)
                fresh.append(
                    tree.trace.add(
                        parent: beam, text: s.steps.stepText(c, terminal: terminal), tokens: c.tokens.count, isTerminal: terminal))
            }
            let scores = try await s.score(
                fresh.map { tree.trace.solution(to: $0) }, terminal: fresh.map { tree.trace[$0].isTerminal }, context: context,
                caller: &tree.caller)
            for (id, score) in zip(fresh, scores) {
                tree.trace[id].score = score
                pathScores[id] = pathScores[beam]! + [score]
                tree.aggregated[id] = s.aggregation.aggregate(pathScores[id]!)
            }
            tree.last = fresh
            let best = fresh.max { tree.aggregated[$0]! != tree.aggregated[$1]! ? tree.aggregated[$0]! < tree.aggregated[$1]! : $0 > $1 }!
            if tree.trace[best].isTerminal { break }
            beam = best
        }
        return tree
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        let trees = try await withThrowingTaskGroup(of: (Int, Subtree).self) { group in
            for k in 0..<(budget / width) {
                let seed = subtree.parameters.seed.map { $0 &+ UInt64(k) &* 1_000_003 }
                group.addTask { (k, try await grow(seed: seed, question: question, prompt: prompt, model: model)) }
            }
            var all: [(Int, Subtree)] = []
            for try await r in group { all.append(r) }
            return all.sorted { $0.0 < $1.0 }.map(\.1)
        }
        // Join the subtrees under one root, renumbering nodes.
        var trace = TraceBuilder()
        var usage = SearchUsage()
        var candidates: [Candidate] = []
        for tree in trees {
            var map = [0: 0]
            for node in tree.trace.nodes.dropFirst() {
                map[node.id] = trace.add(
                    parent: map[node.parent!]!, text: node.text, tokens: node.tokens, score: node.score, isTerminal: node.isTerminal)
            }
            for id in tree.last {
                let text = tree.trace.solution(to: id)
                candidates.append(
                    Candidate(
                        text: text, answer: subtree.grouping.answer(of: text), score: tree.aggregated[id],
                        tokens: tree.trace.tokens(to: id),
                        node: map[id]!, isComplete: tree.trace[id].isTerminal))
            }
            usage = usage + tree.caller.usage
            usage.prunedTokens += tree.trace.prunedTokens(keeping: tree.last)
        }
        let notes = ["subtrees": "\(trees.count)", "finished": "\(candidates.filter(\.isComplete).count)"]
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
