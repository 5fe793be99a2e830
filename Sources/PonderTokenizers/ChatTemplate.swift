import Foundation
import PonderCore

/// A chat format rendered natively (no Jinja): the text a model of the family expects for a conversation.
///
/// Earlier assistant turns are rendered without their reasoning, as each family's template does. Encode the
/// result with `addSpecialTokens: false`: formats that need a BOS token write it themselves.
public enum ChatTemplate: Sendable, Hashable {
    /// ChatML: `<|im_start|>role\ncontent<|im_end|>\n` (Qwen2, Qwen2.5). Without a system message,
    /// `defaultSystemPrompt` (if any) is rendered as one.
    case chatML(defaultSystemPrompt: String?)
    /// Qwen3: ChatML with `<think>` blocks for the assistant turns after the last user turn, and an empty think
    /// block after the generation prompt when thinking is disabled.
    case qwen3
    /// Llama-3 Instruct: header tokens, trimmed contents, `<|eot_id|>`, BOS first.
    case llama3
    /// Llama-3.1 Instruct: as Llama-3, with a system block that always states the knowledge cutoff and `todayDate`.
    case llama31(todayDate: String)
    /// DeepSeek-R1-Distill (Qwen and Llama): BOS, the (last) system message's text, `<｜User｜>`/`<｜Assistant｜>`
    /// turns; the generation prompt pre-fills `<think>\n`.
    case deepSeekR1

    /// Qwen2.5's format: ChatML with its default system prompt.
    public static let qwen25 = ChatTemplate.chatML(
        defaultSystemPrompt: "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")

    /// Renders a conversation.
    /// - Parameters:
    ///   - addGenerationPrompt: append the opening of an assistant turn, so the model continues as the assistant.
    ///   - enableThinking: Qwen3 only; `false` appends an empty think block so the model answers directly.
    public func render(_ messages: [Message], addGenerationPrompt: Bool, enableThinking: Bool = true) -> String {
        switch self {
        case .chatML(let defaultSystem): return Self.renderChatML(messages, defaultSystem, addGenerationPrompt)
        case .qwen3: return Self.renderQwen3(messages, addGenerationPrompt, enableThinking)
        case .llama3: return Self.renderLlama3(messages, addGenerationPrompt)
        case .llama31(let date): return Self.renderLlama31(messages, date, addGenerationPrompt)
        case .deepSeekR1: return Self.renderDeepSeekR1(messages, addGenerationPrompt)
        }
    }

    // MARK: Qwen family

    /// Qwen's rendering of tool results: consecutive tool messages share one user turn.
    private static func toolTurn(_ messages: [Message], _ i: Int) -> String {
        var out = ""
        if i == 0 || messages[i - 1].role != .tool { out += "<|im_start|>user" }
        out += "\n<tool_response>\n" + messages[i].content + "\n</tool_response>"
        if i == messages.count - 1 || messages[i + 1].role != .tool { out += "<|im_end|>\n" }
        return out
    }

    private static func renderChatML(_ messages: [Message], _ defaultSystem: String?, _ generation: Bool) -> String {
        var out = ""
        if messages.first?.role != .system, let defaultSystem {
            out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n"
        }
        for (i, m) in messages.enumerated() {
            if m.role == .tool {
                out += toolTurn(messages, i)
            } else {
                out += "<|im_start|>" + m.role.rawValue + "\n" + m.content + "<|im_end|>\n"
            }
        }
        if generation { out += "<|im_start|>assistant\n" }
        return out
    }

    private static func renderQwen3(_ messages: [Message], _ generation: Bool, _ enableThinking: Bool) -> String {
        var out = ""
        if let first = messages.first, first.role == .system {
            out += "<|im_start|>system\n" + first.content + "<|im_end|>\n"
        }
        // Reasoning is kept only for assistant turns after the last real user query.
        let lastQuery =
            messages.lastIndex { m in
                m.role == .user && !(m.content.hasPrefix("<tool_response>") && m.content.hasSuffix("</tool_response>"))
            } ?? messages.count - 1
        for (i, m) in messages.enumerated() {
            switch m.role {
            case .system:
                if i > 0 { out += "<|im_start|>system\n" + m.content + "<|im_end|>\n" }
            case .user:
                out += "<|im_start|>user\n" + m.content + "<|im_end|>\n"
            case .tool:
                out += toolTurn(messages, i)
            case .assistant:
                var content = m.content
                var reasoning = m.reasoning ?? ""
                if m.reasoning == nil, let first = content.range(of: "</think>"),
                    let close = content.range(of: "</think>", options: .backwards)
                {
                    // Reasoning written inline: split it out as the template does (before the first `</think>`,
                    // after the last).
                    let before = String(content[..<first.lowerBound])
                    reasoning = String(before.components(separatedBy: "<think>").last ?? "").trimmingLeading("\n")
                    reasoning = reasoning.trimmingTrailing("\n")
                    content = String(content[close.upperBound...]).trimmingLeading("\n")
                }
                out += "<|im_start|>assistant\n"
                if i > lastQuery && (i == messages.count - 1 || !reasoning.isEmpty) {
                    out += "<think>\n" + reasoning.trimmingLeading("\n").trimmingTrailing("\n") + "\n</think>\n\n"
                    out += content.trimmingLeading("\n")
                } else {
                    out += content
                }
                out += "<|im_end|>\n"
            }
        }
        if generation {
            out += "<|im_start|>assistant\n"
            if !enableThinking { out += "<think>\n\n</think>\n\n" }
        }
        return out
    }

    // MARK: Llama family

    private static func llamaTurn(_ role: String, _ content: String) -> String {
        "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + content.trimmingCharacters(in: .whitespacesAndNewlines)
            + "<|eot_id|>"
    }

    private static func renderLlama3(_ messages: [Message], _ generation: Bool) -> String {
        var out = messages.isEmpty ? "" : "<|begin_of_text|>"
        for m in messages { out += llamaTurn(m.role.rawValue, m.content) }
        if generation { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    private static func renderLlama31(_ messages: [Message], _ date: String, _ generation: Bool) -> String {
        var rest = messages[...]
        var system = ""
        if let first = rest.first, first.role == .system {
            system = first.content.trimmingCharacters(in: .whitespacesAndNewlines)
            rest = rest.dropFirst()
        }
        var out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        out += "Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n" + system + "<|eot_id|>"
        for m in rest { out += llamaTurn(m.role == .tool ? "ipython" : m.role.rawValue, m.content) }
        if generation { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        return out
    }

    // MARK: DeepSeek-R1-Distill

    private static func renderDeepSeekR1(_ messages: [Message], _ generation: Bool) -> String {
        // As the R1-Distill template: the last system message is the system prompt, written right after BOS.
        let system = messages.last { $0.role == .system }?.content ?? ""
        var out = "<｜begin▁of▁sentence｜>" + system
        var inTools = false
        var firstOutput = true
        for m in messages {
            switch m.role {
            case .system: continue
            case .user:
                inTools = false
                out += "<｜User｜>" + m.content
            case .assistant:
                if inTools {
                    out += "<｜tool▁outputs▁end｜>" + answerOnly(m) + "<｜end▁of▁sentence｜>"
                    inTools = false
                } else {
                    out += "<｜Assistant｜>" + answerOnly(m) + "<｜end▁of▁sentence｜>"
                }
            case .tool:
                inTools = true
                if firstOutput {
                    out += "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>"
                    firstOutput = false
                } else {
                    out += "\n<｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>"
                }
            }
        }
        if inTools { out += "<｜tool▁outputs▁end｜>" }
        if generation && !inTools { out += "<｜Assistant｜><think>\n" }
        return out
    }

    /// An assistant turn's visible answer: `reasoning` is dropped, and so is anything up to `</think>` in content.
    private static func answerOnly(_ m: Message) -> String {
        guard m.role == .assistant, let close = m.content.range(of: "</think>", options: .backwards) else {
            return m.content
        }
        return String(m.content[close.upperBound...])
    }
}

extension String {
    fileprivate func trimmingLeading(_ c: Character) -> String { String(drop { $0 == c }) }
    fileprivate func trimmingTrailing(_ c: Character) -> String {
        var s = self[...]
        while s.last == c { s = s.dropLast() }
        return String(s)
    }
}
