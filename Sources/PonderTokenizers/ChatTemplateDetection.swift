import Foundation

extension ChatTemplate {
    /// Detects the family of a Hugging Face model directory from `tokenizer_config.json`'s `chat_template`
    /// (or a `chat_template.jinja` file), its special tokens, and `config.json`'s `model_type`.
    ///
    /// Throws `unknownChatTemplate` when nothing identifies a supported family; pass a template explicitly then.
    public static func detect(directory: URL) throws -> ChatTemplate {
        let tokenizerConfig = try readJSON(directory.appendingPathComponent("tokenizer_config.json"))
        let config = try readJSON(directory.appendingPathComponent("config.json"))
        var template = ""
        if let t = tokenizerConfig?["chat_template"].value as? String {
            template = t
        } else if let list = tokenizerConfig?["chat_template"].value as? [[String: Any]] {
            template = list.compactMap { $0["template"] as? String }.joined(separator: "\n")
        } else if let data = FileManager.default.contents(
            atPath: directory.appendingPathComponent("chat_template.jinja").path)
        {
            template = String(decoding: data, as: UTF8.self)
        }
        let specials =
            (tokenizerConfig?["added_tokens_decoder"].value as? [String: Any])?.values
            .compactMap { ($0 as? [String: Any])?["content"] as? String } ?? []
        let modelType = config?["model_type"].value as? String
        return try detect(chatTemplate: template, specialTokens: specials, modelType: modelType)
    }

    /// Detects the family from a Jinja template's text, the tokenizer's special tokens and `model_type`.
    public static func detect(chatTemplate: String, specialTokens: [String], modelType: String?) throws -> ChatTemplate
    {
        let has = { (s: String) in chatTemplate.contains(s) }
        if has("<｜Assistant｜>") || has("<｜User｜>") { return .deepSeekR1 }
        if has("<|im_start|>") {
            if has("enable_thinking") || has("reasoning_content") { return .qwen3 }
            return has("You are Qwen, created by Alibaba Cloud") ? .qwen25 : .chatML(defaultSystemPrompt: nil)
        }
        if has("<|start_header_id|>") {
            return has("Cutting Knowledge Date") ? .llama31(todayDate: "26 Jul 2024") : .llama3
        }
        if !chatTemplate.isEmpty {
            throw TokenizerError.unknownChatTemplate(reason: "chat_template matches no supported family")
        }
        // No template text: fall back on the special tokens and the architecture.
        if specialTokens.contains("<｜Assistant｜>") { return .deepSeekR1 }
        switch modelType {
        case "qwen3": return .qwen3
        case "qwen2": return .qwen25
        case "llama" where specialTokens.contains("<|start_header_id|>"): return .llama3
        default: break
        }
        if specialTokens.contains("<|im_start|>") { return .chatML(defaultSystemPrompt: nil) }
        throw TokenizerError.unknownChatTemplate(
            reason:
                "no chat_template, and model_type \(modelType ?? "(none)") with these special tokens is not recognised")
    }
}
