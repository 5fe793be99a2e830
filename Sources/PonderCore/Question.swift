/// What a test-time method may know about a problem: its identity and text, never its answer.
///
/// Strategies and scorers receive a `Question`, so no method can read the reference answer or a code problem's
/// tests by mistake; only an oracle scorer, given the references when it is made, can grade against them.
public struct Question: Sendable, Hashable, Codable, Identifiable {
    /// What kind of answer the question asks for (without the means to check it).
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A final answer: a number, an expression, a word.
        case math
        /// A program.
        case code
    }

    /// The problem's identifier (an oracle looks its reference up by it).
    public var id: String
    /// The question or instruction shown to the model.
    public var prompt: String
    /// What kind of answer is asked for.
    public var kind: Kind
    /// Free-form string metadata (source, level, subject, ...).
    public var metadata: [String: String]

    /// Makes a question.
    public init(id: String, prompt: String, kind: Kind = .math, metadata: [String: String] = [:]) {
        self.id = id
        self.prompt = prompt
        self.kind = kind
        self.metadata = metadata
    }
}

extension Problem {
    /// The problem without its reference answer or tests: what a test-time method is allowed to see.
    public var question: Question {
        let kind: Question.Kind = if case .code = self.kind { .code } else { .math }
        return Question(id: id, prompt: prompt, kind: kind, metadata: metadata)
    }
}
