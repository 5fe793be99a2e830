import Foundation
import PonderCore
import PonderVerifiers

/// The state of one MCTS run: the trace with visit counts and values, children lists, and the model caller.
struct SearchTree: Sendable {
    var trace = TraceBuilder()
    var caller: ModelCaller
    let context: ScoringContext
    private var children: [Int: [Int]] = [:]
    private var valueSums: [Int: Double] = [:]
    private var depth: [Int: Int] = [0: 0]
    /// Nodes whose step ended the solution (not cut by the depth limit).
    private(set) var finished = Set<Int>()

    init(caller: ModelCaller, context: ScoringContext) {
        self.caller = caller
        self.context = context
    }

    func isExpanded(_ node: Int) -> Bool { children[node] != nil }

    /// The child maximising `Q + c·P·√N / (1 + n)`; `nil` when `node` has no children.
    func select(from node: Int, exploration c: Double, unvisited: Double) -> Int? {
        let parentVisits = Double(trace[node].visits)
        func puct(_ id: Int) -> Double {
            let n = trace[id]
            let q = n.visits > 0 ? valueSums[id, default: 0] / Double(n.visits) : unvisited
            return q + c * (n.prior ?? 0) * parentVisits.squareRoot() / Double(1 + n.visits)
        }
        return children[node]?.max { a, b in
            let pa = puct(a)
            let pb = puct(b)
            if pa != pb { return pa < pb }
            if trace[a].prior != trace[b].prior { return (trace[a].prior ?? 0) < (trace[b].prior ?? 0) }
            return a > b
        }
    }

    /// Samples `expansions` next steps from `node` and adds them as children with their priors; identical steps
    /// become one child whose prior is their sum (the duplicates' tokens count as pruned).
    mutating func expand(_ node: Int, strategy s: MonteCarloTreeSearch) async throws {
        let solution = trace.solution(to: node)
        var params = s.parameters
        params.logprobs = s.prior == .sequenceProbability
        let completions = try await caller.sample(params, n: s.expansions, continuation: solution, stop: [s.steps.delimiter])
        var weights: [Double] = []
        switch s.prior {
        case .uniform:
            weights = Array(repeating: 1, count: completions.count)
        case .sequenceProbability:
            let means = try completions.map { c in
                guard let lp = c.logprobs else { throw SearchError.missingLogprobs(model: caller.model.name) }
                return lp.isEmpty ? 0 : lp.reduce(0, +) / Double(lp.count)
            }
            let top = means.max() ?? 0
            weights = means.map { exp($0 - top) }  // stable softmax over siblings
        }
        let total = weights.reduce(0, +)
        var ids: [Int] = []
        var byText: [String: Int] = [:]
        let d = depth[node, default: 0] + 1
        for (c, w) in zip(completions, weights) {
            let ended = s.steps.isTerminal(c, after: solution, grouping: s.grouping)
            let text = s.steps.stepText(c, terminal: ended || d >= s.maxDepth)
            if let same = byText[text] {
                trace[same].prior! += w / total
                caller.addPruned(c.tokens.count)
                continue
            }
            let id = trace.add(parent: node, text: text, tokens: c.tokens.count, isTerminal: ended || d >= s.maxDepth)
            trace[id].prior = w / total
            depth[id] = d
            if ended { finished.insert(id) }
            byText[text] = id
            ids.append(id)
        }
        children[node] = ids
    }

    /// The value of `node`: its cached score, or the scorer's (outcome score for an ended node, prefix score otherwise).
    mutating func value(of node: Int, strategy s: MonteCarloTreeSearch) async throws -> Double {
        if let v = trace[node].score { return v }
        let batch = try await s.scorer.checkedScores([trace.solution(to: node)], outcome: trace[node].isTerminal, in: context)
        caller.addScoring(batch.cost)
        trace[node].score = batch.scores[0]
        return batch.scores[0]
    }

    /// Adds a visit and `value` to every node of `path`.
    mutating func backup(_ value: Double, along path: [Int]) {
        for id in path {
            trace[id].visits += 1
            valueSums[id, default: 0] += value
            trace[id].value = valueSums[id]! / Double(trace[id].visits)
        }
    }

    /// The result: candidates are the finished leaves (visited ones; all of them when none was visited), and the
    /// answer is the heaviest class of their answers under the strategy's ``MonteCarloTreeSearch/FinalAnswer``.
    func result(strategy s: MonteCarloTreeSearch) -> SearchResult {
        let visited = finished.filter { trace[$0].visits > 0 }.sorted()
        let ends = visited.isEmpty ? finished.sorted() : visited
        let candidates = ends.map { id in
            let text = trace.solution(to: id)
            return Candidate(
                text: text, answer: s.grouping.answer(of: text), score: trace[id].value, tokens: trace.tokens(to: id), node: id,
                isComplete: true)
        }
        var usage = caller.usage
        usage.prunedTokens += trace.prunedTokens(keeping: ends)
        var tally = VoteTally()
        for c in candidates {
            let n = trace[c.node]
            let weight: Double =
                switch s.finalAnswer {
                case .visits: visited.isEmpty ? 1 : Double(n.visits)
                case .value: visited.isEmpty ? 1 : n.value ?? 0
                case .vote: 1
                }
            tally.add(c.answer, weight: weight, grouping: s.grouping)
        }
        let notes = ["nodes": "\(trace.nodes.count)", "rootVisits": "\(trace[0].visits)", "finishedLeaves": "\(ends.count)"]
        guard let lead = tally.leader else {
            return SearchResult(
                strategy: s.name, answer: nil, text: "", chosen: nil, candidates: candidates, trace: trace.nodes, usage: usage, notes: notes
            )
        }
        let chosen = tally.classes[lead].members.max { a, b in
            let (va, vb) = (trace[candidates[a].node].visits, trace[candidates[b].node].visits)
            return va != vb ? va < vb : a > b
        }!
        return SearchResult(
            strategy: s.name, answer: tally.classes[lead].representative, text: candidates[chosen].text, chosen: chosen,
            candidates: candidates, trace: trace.nodes, usage: usage, notes: notes)
    }
}
