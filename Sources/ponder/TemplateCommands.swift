import ArgumentParser
import Foundation
import PonderCore
import PonderTokenizers

/// `ponder template`: the exact prompt a model's chat template makes of a conversation.
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Print exactly the prompt a model's chat template renders for a conversation (as transformers' apply_chat_template).")

    @Option(
        name: .long,
        help: "A model directory: tokenizer_config.json with chat_template, bos_token and eos_token, or a chat_template.jinja.")
    var model: String
    @Option(name: .long, help: "A JSON file holding an array of messages ({role, content}, optionally reasoning_content, tool_calls).")
    var messages: String
    @Flag(name: .long, help: "Open an assistant turn after the messages.") var addGenerationPrompt = false
    @Option(name: .long, help: "Extra template variables as a JSON object, e.g. '{\"enable_thinking\": false}'.") var templateKwargs: String?

    func run() throws {
        let dir = URL(fileURLWithPath: model)
        let template = try PromptTemplate.detect(directory: dir)
        let text: String
        do { text = try String(contentsOfFile: messages, encoding: .utf8) } catch {
            throw ValidationError("--messages \(messages): cannot read (\(error.localizedDescription))")
        }
        let parsed: JinjaValue
        do { parsed = try JinjaValue.parse(json: text) } catch { throw ValidationError("--messages \(messages): not JSON (\(error))") }
        guard case .array(let list) = parsed else { throw ValidationError("--messages \(messages): expected a JSON array of messages") }
        for (i, m) in list.enumerated() {
            guard case .object = m, m["role"] != nil else {
                throw ValidationError("--messages \(messages): message \(i) is not an object with a \"role\"")
            }
        }
        var extra: [String: JinjaValue] = [:]
        if let templateKwargs {
            guard case .object(let members)? = try? JinjaValue.parse(json: templateKwargs) else {
                throw ValidationError("--template-kwargs \(templateKwargs): expected a JSON object")
            }
            for (k, v) in members { extra[k] = v }
        }
        let rendered: String
        switch template {
        case .jinja(let t): rendered = try t.render(messages: list, addGenerationPrompt: addGenerationPrompt, extra: extra)
        case .native:
            let converted = try list.map { m -> Message in
                guard let role = m["role"].flatMap({ if case .string(let s) = $0 { Message.Role(rawValue: s) } else { nil } }) else {
                    throw ValidationError("--messages \(messages): unknown role in \(m)")
                }
                let content: String = { if case .string(let s)? = m["content"] { s } else { "" } }()
                let reasoning: String? = { if case .string(let s)? = m["reasoning_content"] { s } else { nil } }()
                return Message(role: role, content: content, reasoning: reasoning)
            }
            rendered = try template.render(converted, addGenerationPrompt: addGenerationPrompt, arguments: extra)
        }
        FileHandle.standardOutput.write(Data(rendered.utf8))
    }
}

/// `ponder tokenize`: the ids and pieces a model's tokenizer makes of a text.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Print the token ids and pieces of a text.")

    @Option(name: .long, help: "A model directory with tokenizer.json.") var model: String
    @Flag(name: .long, help: "Do not add the tokenizer's special tokens (BOS).") var noSpecialTokens = false
    @Argument(help: "The text.") var text: String

    func run() throws {
        let tokenizer = try Tokenizer.load(directory: URL(fileURLWithPath: model))
        let ids = tokenizer.encode(text, addSpecialTokens: !noSpecialTokens)
        print("\(ids.count) tokens")
        print("ids: " + ids.map(String.init).joined(separator: " "))
        for id in ids {
            let piece = tokenizer.token(for: id) ?? "?"
            let decoded = tokenizer.decode([id])
            print(String(format: "%8d  %@  %@", id, piece.debugDescription, decoded.debugDescription))
        }
    }
}
