import PonderCore
import PonderVerifiers

/// The state a step-level search ends in.
struct StepSearchRun: Sendable {
    var trace: TraceBuilder
    var finished: [Int]
    var unfinished: [Int]
    var aggregated: [Int: Double]
    var caller: ModelCaller
    var steps: Int
    var grouping: AnswerGrouping

    /// Candidates: the finished paths, or the unfinished ones when none finished.
    func candidates() -> [Candidate] {
        let ends = finished.isEmpty ? unfinished : finished
        return ends.map { id in
            let text = trace.solution(to: id)
            return Candidate(
                text: text, answer: grouping.answer(of: text), score: aggregated[id], tokens: trace.tokens(to: id), node: id,
                isComplete: trace[id].isTerminal)
        }
    }

    func result(name: String, selection: BestOfN.Selection, grouping: AnswerGrouping) -> SearchResult {
        let cands = candidates()
        var usage = caller.usage
        usage.prunedTokens += trace.prunedTokens(keeping: cands.map(\.node))
        let notes = ["steps": "\(steps)", "finished": "\(finished.count)"]
        guard !cands.isEmpty else {
            return SearchResult(
                strategy: name, answer: nil, text: "", chosen: nil, candidates: [], trace: trace.nodes, usage: usage, notes: notes)
        }
        let chosen = BestOfN.select(cands, selection: selection, grouping: grouping)
        return SearchResult(
            strategy: name, answer: cands[chosen].answer, text: cands[chosen].text, chosen: chosen, candidates: cands, trace: trace.nodes,
            usage: usage, notes: notes)
    }
}
