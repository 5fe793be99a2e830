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

    /// Samples `expansions` next steps from `node` and adds them as children with their priors.
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
            let sums = try completions.map { c in
                guard let lp = c.logprobs else { throw SearchError.missingLogprobs(model: caller.model.name) }
                return lp.reduce(0, +)
            }
            let top = sums.max() ?? 0
            weights = sums.map { exp($0 - top) }  // stable softmax over siblings
        }
        let total = weights.reduce(0, +)
        var ids: [Int] = []
        let d = depth[node, default: 0] + 1
        for (c, w) in zip(completions, weights) {
            let terminal = d >= s.maxDepth || s.steps.isTerminal(c, after: solution, grouping: s.grouping)
            let id = trace.add(parent: node, text: s.steps.stepText(c, terminal: terminal), tokens: c.tokens.count, isTerminal: terminal)
            trace[id].prior = w / total
            depth[id] = d
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

    /// The most-visited path's last node.
    func mostVisitedLeaf() -> Int {
        var node = 0
        while let kids = children[node], !kids.isEmpty {
            let best = kids.max { a, b in
                if trace[a].visits != trace[b].visits { return trace[a].visits < trace[b].visits }
                if (trace[a].value ?? 0) != (trace[b].value ?? 0) { return (trace[a].value ?? 0) < (trace[b].value ?? 0) }
                return a > b
            }!
            if trace[best].visits == 0 { break }
            node = best
        }
        return node
    }

    func result(strategy s: MonteCarloTreeSearch) -> SearchResult {
        var ends = trace.nodes.filter { $0.isTerminal && $0.visits > 0 }.map(\.id)
        let leaf = mostVisitedLeaf()
        if !ends.contains(leaf), leaf != 0 { ends.append(leaf) }
        let candidates = ends.map { id in
            let text = trace.solution(to: id)
            return Candidate(
                text: text, answer: s.grouping.answer(of: text), score: trace[id].value, tokens: trace.tokens(to: id), node: id,
                isComplete: trace[id].isTerminal)
        }
        var usage = caller.usage
        usage.prunedTokens += trace.prunedTokens(keeping: ends)
        var chosen = candidates.firstIndex { $0.node == leaf }
        if s.finalAnswer == .vote {
            var tally = VoteTally()
            for c in candidates { tally.add(c.answer, grouping: s.grouping) }
            if let lead = tally.leader {
                chosen = tally.classes[lead].members.max { a, b in
                    trace[candidates[a].node].visits != trace[candidates[b].node].visits
                        ? trace[candidates[a].node].visits < trace[candidates[b].node].visits : a > b
                }
            }
        }
        let notes = ["nodes": "\(trace.nodes.count)", "rootVisits": "\(trace[0].visits)"]
        guard let chosen else {
            return SearchResult(
                strategy: s.name, answer: nil, text: "", chosen: nil, candidates: candidates, trace: trace.nodes, usage: usage, notes: notes
            )
        }
        return SearchResult(
            strategy: s.name, answer: candidates[chosen].answer, text: candidates[chosen].text, chosen: chosen, candidates: candidates,
            trace: trace.nodes, usage: usage, notes: notes)
    }
}
