import PonderCore
import Synchronization

/// Which requests a scripted response answers: a continuation, optionally only for one prompt.
struct ScriptKey: Hashable, Sendable {
    var prompt: String?
    var continuation: String
}

/// A deterministic fake `LanguageModel`: responses are chosen by prompt and continuation and served in order
/// (cycling), with their token counts and logprobs; every request is logged.
final class ScriptedModel: LanguageModel, Sendable {
    struct Missing: Error, CustomStringConvertible {
        var prompt: String
        var continuation: String
        var description: String { "no scripted response for prompt '\(prompt)' continuation '\(continuation)'" }
    }

    let name = "scripted"
    let promptTokens: Int
    private let script: [ScriptKey: [Completion]]
    private let fallback: (@Sendable (CompletionRequest) -> Completion?)?
    private let state = Mutex<(served: [ScriptKey: Int], requests: [CompletionRequest])>(([:], []))

    init(promptTokens: Int = 7, script: [ScriptKey: [Completion]] = [:], fallback: (@Sendable (CompletionRequest) -> Completion?)? = nil) {
        self.promptTokens = promptTokens
        self.script = script
        self.fallback = fallback
    }

    /// A model that answers every request with `respond`.
    convenience init(promptTokens: Int = 7, respond: @escaping @Sendable (CompletionRequest) -> Completion?) {
        self.init(promptTokens: promptTokens, script: [:], fallback: respond)
    }

    /// A model that answers every request for `continuation` with `responses`, in order.
    convenience init(promptTokens: Int = 7, _ responses: [String: [Completion]]) {
        var s: [ScriptKey: [Completion]] = [:]
        for (k, v) in responses { s[ScriptKey(prompt: nil, continuation: k)] = v }
        self.init(promptTokens: promptTokens, script: s)
    }

    static func text(of prompt: Prompt) -> String {
        switch prompt {
        case .text(let t): t
        case .chat(let messages): messages.map(\.content).joined(separator: "\n")
        }
    }

    var requests: [CompletionRequest] { state.withLock { $0.requests } }

    func complete(_ request: CompletionRequest) async throws -> CompletionResponse {
        let prompt = Self.text(of: request.prompt)
        let exact = ScriptKey(prompt: prompt, continuation: request.continuation)
        let loose = ScriptKey(prompt: nil, continuation: request.continuation)
        let key: ScriptKey? = script[exact] != nil ? exact : script[loose] != nil ? loose : nil
        var out: [Completion] = []
        try state.withLock { s in
            s.requests.append(request)
            for _ in 0..<request.parameters.n {
                if let key, let list = script[key], !list.isEmpty {
                    let i = s.served[key, default: 0]
                    s.served[key] = i + 1
                    out.append(list[i % list.count])
                } else if let f = fallback, let c = f(request) {
                    out.append(c)
                } else {
                    throw Missing(prompt: prompt, continuation: request.continuation)
                }
            }
        }
        var completions: [Completion] = []
        for var c in out {
            if !request.parameters.logprobs { c.logprobs = nil }
            // Token confidences as scripted, only when asked for; with a threshold, the engine's online stop
            // (`ConfidenceStop.stops`) cuts the tokens where it would have stopped (the text is left whole).
            if let settings = request.parameters.confidence, let all = c.confidences {
                for i in all.indices {
                    if let group = settings.stops(Array(all[...i])) {
                        c.tokens = Array(c.tokens.prefix(i + 1))
                        c.confidences = Array(all[...i])
                        c.stop = .lowConfidence(group: group)
                        break
                    }
                }
            } else {
                c.confidences = nil
            }
            // As the engine reports it: a scripted step that stopped, in a request with stop strings, stopped at the
            // first of them (unless the script says it ended the sequence with token 1).
            if case .endOfSequence(let token) = c.stop, token == 0, let delimiter = request.parameters.stop.first {
                c.stop = .stopString(delimiter)
            }
            completions.append(c)
        }
        let usage = Usage(
            promptTokens: promptTokens, completionTokens: completions.reduce(0) { $0 + $1.tokens.count },
            reasoningTokens: completions.reduce(0) { $0 + $1.reasoningTokens })
        return CompletionResponse(completions: completions, usage: usage)
    }
}

/// A completion of `text` with `tokens` tokens, each with log-probability `logprob` (or the listed values).
func sample(_ text: String, tokens: Int = 5, logprob: Double = -0.1, logprobs: [Double]? = nil, finish: FinishReason = .stop) -> Completion
{
    let lp = logprobs ?? Array(repeating: logprob, count: tokens)
    return Completion(
        text: text, tokens: Array(0..<lp.count), logprobs: lp, stop: finish == .stop ? .endOfSequence(token: 0) : .length(inThinking: false)
    )
}

/// A completion that ended with the model's own end-of-sequence token (a step the model finished).
func ended(_ text: String, tokens: Int = 5) -> Completion {
    Completion(text: text, tokens: Array(0..<tokens), logprobs: Array(repeating: -0.1, count: tokens), stop: .endOfSequence(token: 1))
}

/// A boxed final answer.
func boxed(_ answer: String, tokens: Int = 5, logprob: Double = -0.1) -> Completion {
    sample("so \\boxed{\(answer)}", tokens: tokens, logprob: logprob)
}

/// A boxed final answer whose token confidences (DeepConf's, as the engine measures them) are `confidences`.
func confident(_ answer: String, _ confidences: [Double]) -> Completion {
    Completion(
        text: "so \\boxed{\(answer)}", tokens: Array(0..<confidences.count), stop: .endOfSequence(token: 0), confidences: confidences)
}

/// A boxed final answer of `tokens` tokens, each with token confidence `confidence`.
func confident(_ answer: String, _ confidence: Double, tokens: Int = 5) -> Completion {
    confident(answer, Array(repeating: confidence, count: tokens))
}
