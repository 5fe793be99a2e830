import Foundation
import PonderCore

/// How a conversation becomes a model's prompt: the model's own Jinja chat template (rendered as transformers'
/// `apply_chat_template` renders it), or, for a directory without one, a native renderer of a known family.
public enum PromptTemplate: Sendable {
    /// The chat template the model ships (`tokenizer_config.json`'s `chat_template`, or `chat_template.jinja`).
    case jinja(JinjaChatTemplate)
    /// A native renderer (directories without a template).
    case native(ChatTemplate)

    /// The template of a Hugging Face model directory: its Jinja template when it has one (`chat_template.jinja`
    /// first, as transformers reads it, then `tokenizer_config.json`'s `chat_template`; of several named templates,
    /// the one named `default`), with the tokenizer's `bos_token` and `eos_token`. Otherwise a native family from the
    /// special tokens and `model_type`. Errors name the file (and, for a template that does not parse, the line).
    public static func detect(directory: URL) throws -> PromptTemplate {
        let configURL = directory.appendingPathComponent("tokenizer_config.json")
        let tokenizerConfig = try readJSON(configURL)
        func token(_ key: String) -> String? {
            guard let node = tokenizerConfig?[key], !node.isNull else { return nil }
            return node.stringValue ?? node["content"].stringValue
        }
        var source: String?
        var origin = configURL.path
        let file = directory.appendingPathComponent("chat_template.jinja")
        if let data = FileManager.default.contents(atPath: file.path) {
            source = String(decoding: data, as: UTF8.self)
            origin = file.path
        } else if let t = tokenizerConfig?["chat_template"].stringValue {
            source = t
        } else if let list = try? tokenizerConfig?["chat_template"].array() {
            source = (list.first { $0["name"].stringValue == "default" } ?? list.first)?["template"].stringValue
        }
        guard let source, !source.isEmpty else {
            do { return .native(try ChatTemplate.detect(directory: directory)) } catch TokenizerError.unknownChatTemplate(let reason) {
                throw TokenizerError.unknownChatTemplate(reason: "\(directory.path) has no chat template, and \(reason)")
            }
        }
        do {
            return .jinja(try JinjaChatTemplate(source: source, bosToken: token("bos_token"), eosToken: token("eos_token")))
        } catch let error as JinjaError {
            throw TokenizerError.unknownChatTemplate(reason: "\(origin): the chat template does not parse: \(error)")
        }
    }

    /// The directory's template, or `nil` when it has none and no known family: a model that takes text prompts only.
    /// A template that is present but broken is still an error.
    public static func find(directory: URL) throws -> PromptTemplate? {
        do { return try detect(directory: directory) } catch TokenizerError.unknownChatTemplate(let reason) where reason.contains("has no chat template") {
            return nil
        }
    }

    /// Renders a conversation. `arguments` are extra template variables (`enable_thinking`, `tools`...), as the
    /// keyword arguments of `apply_chat_template`; native renderers read `enable_thinking` only.
    /// - Throws: `JinjaError` from the template (`.raised` with its message when it calls `raise_exception`).
    public func render(_ messages: [Message], addGenerationPrompt: Bool, arguments: [String: JinjaValue] = [:]) throws -> String {
        switch self {
        case .jinja(let t): return try t.render(messages, addGenerationPrompt: addGenerationPrompt, extra: arguments)
        case .native(let t):
            return t.render(messages, addGenerationPrompt: addGenerationPrompt, enableThinking: arguments["enable_thinking"] != .bool(false))
        }
    }
}
