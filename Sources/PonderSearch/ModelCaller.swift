import PonderCore
import PonderVerifiers

/// Calls the model for one strategy run, checking completion counts, deriving per-call seeds, and recording usage.
struct ModelCaller: Sendable {
    let model: any LanguageModel
    let prompt: Prompt
    private(set) var usage = SearchUsage()
    private var calls: UInt64 = 0

    init(model: any LanguageModel, prompt: Prompt) {
        self.model = model
        self.prompt = prompt
    }

    /// Requests `n` completions continuing `continuation`; a seeded `parameters` gets seed + call index, so
    /// repeated calls draw different samples reproducibly.
    mutating func sample(_ parameters: SamplingParameters, n: Int, continuation: String = "", stop: [String]? = nil) async throws
        -> [Completion]
    {
        var p = parameters
        p.n = n
        if let stop { p.stop = stop }
        if let seed = parameters.seed { p.seed = seed &+ calls }
        calls += 1
        let response = try await model.complete(CompletionRequest(prompt: prompt, continuation: continuation, parameters: p))
        guard response.completions.count == n else {
            throw SearchError.wrongCompletionCount(requested: n, received: response.completions.count)
        }
        usage.addGeneration(response.usage)
        return response.completions
    }

    /// Records what a scorer spent.
    mutating func addScoring(_ cost: ScoringCost) { usage.addScoring(cost) }

    /// Adds another caller's generation usage (a call made with a different prompt) to this run's.
    mutating func addRevision(_ other: SearchUsage) { usage = usage + other }

    /// Adds to the pruned-token count.
    mutating func addPruned(_ tokens: Int) { usage.prunedTokens += tokens }
}
