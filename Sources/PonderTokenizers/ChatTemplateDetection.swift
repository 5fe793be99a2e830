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
        if let t = tokenizerConfig?["chat_template"].stringValue {
            template = t
        } else if let list = try? tokenizerConfig?["chat_template"].array() {
            // Several named templates: [{"name": ..., "template": ...}].
            template = list.compactMap { $0["template"].stringValue }.joined(separator: "\n")
        } else if let data = FileManager.default.contents(
            atPath: directory.appendingPathComponent("chat_template.jinja").path)
        {
            template = String(decoding: data, as: UTF8.self)
        }
        let specials = ((try? tokenizerConfig?["added_tokens_decoder"].members())?.values ?? [])
            .compactMap { value -> String? in
                if case .string(let s)? = value["content"] { return s }
                return nil
            }
        let modelType = config?["model_type"].stringValue
        return try detect(chatTemplate: template, specialTokens: specials, modelType: modelType)
    }

    /// Detects the family from a Jinja template's text, the tokenizer's special tokens and `model_type`.
    public static func detect(chatTemplate: String, specialTokens: [String], modelType: String?) throws -> ChatTemplate {
        let has = { (s: String) in chatTemplate.contains(s) }
        if has("<｜Assistant｜>") || has("<｜User｜>") { return .deepSeekR1 }
        if has("<|im_start|>") {
            if has("enable_thinking") || has("reasoning_content") { return .qwen3 }
            return .chatML(defaultSystemPrompt: defaultSystemPrompt(inChatML: chatTemplate))
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

    /// The default system prompt a ChatML template writes when the conversation has none (Qwen2.5's "You are
    /// Qwen...", Qwen2.5-Math's "Please reason step by step..."): the text of a string literal
    /// `'<|im_start|>system\n...<|im_end|>\n'` in the template, or `nil`.
    static func defaultSystemPrompt(inChatML template: String) -> String? {
        for quote in ["'", "\""] {
            let opening = quote + "<|im_start|>system\\n"
            var searchRange = template.startIndex..<template.endIndex
            while let start = template.range(of: opening, range: searchRange) {
                searchRange = start.upperBound..<template.endIndex
                guard let end = template.range(of: "<|im_end|>", range: searchRange) else { break }
                let body = template[start.upperBound..<end.lowerBound]
                // A literal without concatenation: no closing quote inside.
                if body.contains(Character(quote)) { continue }
                return body.replacingOccurrences(of: "\\n", with: "\n")
            }
        }
        return nil
    }
}
