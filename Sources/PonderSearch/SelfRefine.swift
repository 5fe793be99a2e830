import PonderCore
import PonderVerifiers

/// Self-refine (Madaan et al. 2023): answer, critique, revise, for at most ``rounds`` rounds.
///
/// The critic is either a verifier with the answer key (an oracle, given the references when made: its results are
/// upper bounds; its verdict explanation is the feedback) or the model itself, asked with ``critiqueRequest``; the model's critique ends the loop when it
/// contains ``approval``. A revision is asked with ``reviseRequest`` (`{feedback}` is replaced). With a chat prompt
/// the turns are appended as messages; with a text prompt, as text. Every version is a candidate; the answer is the
/// last version (or the first the verifier accepts). Critiques count as scoring tokens.
public struct SelfRefine: SearchStrategy {
    /// Who critiques.
    public enum Critic: Sendable {
        /// A verifier decides against the reference answers (an oracle); its explanation is the feedback.
        case oracle(any Verifier, ReferenceAnswers)
        /// The model critiques its own answer.
        case model
    }

    /// Most critique-and-revise rounds.
    public var rounds: Int
    /// Who critiques.
    public var critic: Critic
    /// Asks the model for a critique.
    public var critiqueRequest: String
    /// Text in a model critique that means "no changes needed" (case-insensitive).
    public var approval: String
    /// Asks for a revision; `{feedback}` is replaced by the critique.
    public var reviseRequest: String
    /// Decoding settings for answers, critiques and revisions.
    public var parameters: SamplingParameters
    /// How answers are extracted.
    public var grouping: AnswerGrouping

    /// Makes the strategy.
    public init(
        rounds: Int = 2, critic: Critic = .model,
        critiqueRequest: String =
            "Review the solution above step by step. If it is correct, reply exactly \"NO ISSUES\". Otherwise describe the mistakes.",
        approval: String = "NO ISSUES",
        reviseRequest: String =
            "Feedback on your solution:\n{feedback}\n\nWrite a corrected, complete solution with the final answer in \\boxed{}.",
        parameters: SamplingParameters = SamplingParameters(), grouping: AnswerGrouping = AnswerGrouping()
    ) {
        self.rounds = rounds
        self.critic = critic
        self.critiqueRequest = critiqueRequest
        self.approval = approval
        self.reviseRequest = reviseRequest
        self.parameters = parameters
        self.grouping = grouping
    }

    public var name: String { "self-refine" }

    /// Checks the settings, naming the first bad one.
    public func validate() throws {
        try SearchError.require(rounds >= 0, "rounds", rounds, "must be >= 0")
        try SearchError.require(!approval.isEmpty, "approval", "\"\"", "must not be empty")
        try parameters.validate()
    }

    public func run(question: Question, prompt: Prompt, model: any LanguageModel) async throws -> SearchResult {
        try validate()
        var caller = ModelCaller(model: model, prompt: prompt)
        var trace = TraceBuilder()
        var candidates: [Candidate] = []
        var conversation = prompt
        var current = try await caller.sample(parameters, n: 1)[0]
        var stop = "\(rounds) rounds done"
        var accepted: Int?
        for round in 0...rounds {
            let node = trace.add(parent: candidates.last?.node ?? 0, text: current.text, tokens: current.tokens.count, isTerminal: true)
            candidates.append(
                Candidate(
                    text: current.text, answer: grouping.answer(of: current.text), score: nil, tokens: current.tokens.count, node: node,
                    isComplete: current.finishReason == .stop))
            conversation = Self.appending(conversation, assistant: current.text)
            if round == rounds, case .model = critic { break }
            // Critique: `nil` feedback ends the loop.
            var feedback: String?
            switch critic {
            case .oracle(let verifier, let references):
                let verdict = try await verifier.verify(current.text, against: references.problem(for: question))
                candidates[candidates.count - 1].score = verdict.isEquivalent ? 1 : 0
                if verdict.isEquivalent {
                    stop = "verifier accepted version \(round)"
                    accepted = candidates.count - 1
                } else {
                    feedback = verdict.explanation
                }
            case .model:
                var critiqueCaller = ModelCaller(model: model, prompt: Self.appending(conversation, user: critiqueRequest))
                let critique = try await critiqueCaller.sample(parameters, n: 1)[0]
                caller.addScoring(ScoringCost(usage: critiqueCaller.usage.model, modelCalls: 1))
                if critique.text.lowercased().contains(approval.lowercased()) {
                    stop = "critic approved version \(round)"
                } else {
                    feedback = critique.text
                }
            }
            guard let feedback, round < rounds else { break }
            conversation = Self.appending(conversation, user: reviseRequest.replacingOccurrences(of: "{feedback}", with: feedback))
            var reviseCaller = ModelCaller(model: model, prompt: conversation)
            current = try await reviseCaller.sample(parameters, n: 1)[0]
            caller.addRevision(reviseCaller.usage)
        }
        let chosen = accepted ?? candidates.count - 1
        return SearchResult(
            strategy: name, answer: candidates[chosen].answer, text: candidates[chosen].text, chosen: chosen, candidates: candidates,
            trace: trace.nodes, usage: caller.usage, notes: ["stop": stop, "versions": "\(candidates.count)"])
    }

    /// `prompt` with an assistant turn appended.
    static func appending(_ prompt: Prompt, assistant text: String) -> Prompt {
        switch prompt {
        case .chat(let m): .chat(m + [.assistant(text)])
        case .text(let t): .text(t + text)
        }
    }

    /// `prompt` with a user turn appended.
    static func appending(_ prompt: Prompt, user text: String) -> Prompt {
        switch prompt {
        case .chat(let m): .chat(m + [.user(text)])
        case .text(let t): .text(t + "\n\n" + text + "\n\n")
        }
    }
}
