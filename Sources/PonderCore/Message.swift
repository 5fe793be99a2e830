/// One turn of a conversation, as chat templates and the OpenAI API see it.
public struct Message: Sendable, Hashable, Codable {
    /// Who speaks a turn.
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
        case system, user, assistant, tool
    }

    /// Who speaks.
    public var role: Role
    /// The visible text of the turn (for an assistant, the answer after any reasoning).
    public var content: String
    /// An assistant's chain of thought, kept apart from `content`; `nil` when there is none.
    /// Chat templates drop it from earlier assistant turns when re-templating a conversation.
    public var reasoning: String?

    /// Makes a message.
    public init(role: Role, content: String, reasoning: String? = nil) {
        self.role = role
        self.content = content
        self.reasoning = reasoning
    }

    /// A system message.
    public static func system(_ content: String) -> Message { Message(role: .system, content: content) }
    /// A user message.
    public static func user(_ content: String) -> Message { Message(role: .user, content: content) }
    /// An assistant message, optionally with its reasoning.
    public static func assistant(_ content: String, reasoning: String? = nil) -> Message {
        Message(role: .assistant, content: content, reasoning: reasoning)
    }
}
