import Foundation
import PonderCore
import PonderTasks

/// One preference pair: a prompt, the completion preferred, and the one rejected.
public struct PreferenceExample: Sendable, Codable, Equatable {
    public var prompt: Prompt
    public var chosen: String
    public var rejected: String
    /// Whether `chosen` ends the answer, so DPO appends the end-of-sequence token after it (true unless a step-level
    /// pair says otherwise).
    public var chosenComplete: Bool
    /// Whether `rejected` ends the answer.
    public var rejectedComplete: Bool

    public init(prompt: Prompt, chosen: String, rejected: String, chosenComplete: Bool = true, rejectedComplete: Bool = true) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.chosenComplete = chosenComplete
        self.rejectedComplete = rejectedComplete
    }

    /// Reads TRL's preference JSONL (the layout `DPOTrainer` takes and `ponder data preferences` writes): `prompt`,
    /// `chosen` and `rejected` per line, each either a string ("standard" format) or a list of `{role, content}`
    /// messages ("conversational": the prompt's messages go through the chat template; `chosen` and `rejected` are
    /// the assistant's reply). Optional booleans `chosen_complete` and `rejected_complete` (default true) mark a
    /// completion that does not end the answer — a step of a step-level pair (`ponder data preferences --from mcts`) —
    /// after which no end-of-sequence token is appended. Errors name the file, line and field.
    public static func load(_ url: URL) throws -> [PreferenceExample] {
        let lines = try JSONLines.numbered(url)
        guard !lines.isEmpty else { throw TrainingError.badData(path: url.path, line: 1, reason: "no preference pairs") }
        return try lines.map { line, object in
            func bad(_ reason: String) -> TrainingError { .badData(path: url.path, line: line, reason: reason) }
            func messages(_ field: String) throws -> [Message]? {
                guard let list = object[field] as? [Any] else { return nil }
                return try list.enumerated().map { k, item in
                    guard let m = item as? [String: Any], let r = m["role"] as? String, let role = Message.Role(rawValue: r),
                        let content = m["content"] as? String
                    else {
                        throw bad(
                            "field \"\(field)\" message \(k) needs a \"role\" (\(Message.Role.allCases.map(\.rawValue).joined(separator: ", "))) and a string \"content\""
                        )
                    }
                    return Message(role: role, content: content)
                }
            }
            func completion(_ field: String) throws -> String {
                if let s = object[field] as? String { return s }
                if let list = try messages(field) {
                    guard list.count == 1, list[0].role == .assistant else {
                        throw bad("field \"\(field)\" must be one assistant message (got \(list.map(\.role.rawValue)))")
                    }
                    return list[0].content
                }
                throw bad(
                    "field \"\(field)\" is missing, or neither a string nor a list of messages (fields: \(object.keys.sorted().joined(separator: ", ")))"
                )
            }
            let prompt: Prompt
            if let s = object["prompt"] as? String {
                prompt = .text(s)
            } else if let list = try messages("prompt") {
                prompt = .chat(list)
            } else {
                throw bad(
                    "field \"prompt\" is missing, or neither a string nor a list of messages (fields: \(object.keys.sorted().joined(separator: ", ")))"
                )
            }
            func flag(_ field: String) throws -> Bool {
                guard let value = object[field] else { return true }
                guard let b = value as? Bool else { throw bad("field \"\(field)\" must be true or false (got \(value))") }
                return b
            }
            return PreferenceExample(
                prompt: prompt, chosen: try completion("chosen"), rejected: try completion("rejected"),
                chosenComplete: try flag("chosen_complete"), rejectedComplete: try flag("rejected_complete"))
        }
    }
}
