import Foundation
import PonderCore
import Testing

@testable import PonderTokenizers

/// Renderings written by hand from each family's documented prompt format.
@Suite struct ChatTemplateTests {
    let conversation: [Message] = [
        .system("Be brief."),
        .user("What is 2+2?"),
        .assistant("4", reasoning: "2+2 is 4."),
        .user("And 3+3?"),
    ]

    @Test func qwen25() {
        #expect(
            ChatTemplate.qwen25.render(conversation, addGenerationPrompt: true)
                == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n")
        // Without a system message Qwen2.5 adds its default one; plain ChatML adds none.
        #expect(
            ChatTemplate.qwen25.render([.user("hi")], addGenerationPrompt: false)
                == "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                + "<|im_start|>user\nhi<|im_end|>\n")
        #expect(
            ChatTemplate.chatML(defaultSystemPrompt: nil).render([.user("hi")], addGenerationPrompt: true)
                == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func qwen3DropsEarlierReasoningAndHonoursEnableThinking() {
        let prompt =
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            + "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n"
        #expect(ChatTemplate.qwen3.render(conversation, addGenerationPrompt: true) == prompt)
        #expect(
            ChatTemplate.qwen3.render(conversation, addGenerationPrompt: true, enableThinking: false)
                == prompt + "<think>\n\n</think>\n\n")
        // The turn after the last user message keeps its reasoning (an SFT target).
        let answered = conversation + [.assistant("6", reasoning: "3+3 is 6.")]
        #expect(
            ChatTemplate.qwen3.render(answered, addGenerationPrompt: false)
                == "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
                + "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n"
                + "<|im_start|>assistant\n<think>\n3+3 is 6.\n</think>\n\n6<|im_end|>\n")
        // Inline reasoning in content is split out the same way.
        let inline: [Message] = [.user("q"), .assistant("<think>\nr\n</think>\n\na"), .user("q2")]
        #expect(
            ChatTemplate.qwen3.render(inline, addGenerationPrompt: false)
                == "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\na<|im_end|>\n<|im_start|>user\nq2<|im_end|>\n"
        )
        // Tool results are grouped into one user turn.
        let tools: [Message] = [.user("q"), Message(role: .tool, content: "r1"), Message(role: .tool, content: "r2")]
        #expect(
            ChatTemplate.qwen3.render(tools, addGenerationPrompt: false)
                == "<|im_start|>user\nq<|im_end|>\n<|im_start|>user\n<tool_response>\nr1\n</tool_response>"
                + "\n<tool_response>\nr2\n</tool_response><|im_end|>\n")
    }

    @Test func llama3() {
        #expect(
            ChatTemplate.llama3.render(conversation, addGenerationPrompt: true)
                == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
        // Contents are trimmed.
        #expect(
            ChatTemplate.llama3.render([.user("  hi \n")], addGenerationPrompt: false)
                == "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>")
        #expect(
            ChatTemplate.llama31(todayDate: "1 Jan 2025").render([.user("hi")], addGenerationPrompt: true)
                == "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 1 Jan 2025\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
    }

    @Test func deepSeekR1PrefillsThink() {
        #expect(
            ChatTemplate.deepSeekR1.render(conversation, addGenerationPrompt: true)
                == "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2+2?<｜Assistant｜>4<｜end▁of▁sentence｜>"
                + "<｜User｜>And 3+3?<｜Assistant｜><think>\n")
        // Only the last system message is kept, before the first turn.
        #expect(
            ChatTemplate.deepSeekR1.render([.system("s1"), .user("u"), .system("s2")], addGenerationPrompt: false)
                == "<｜begin▁of▁sentence｜>s2<｜User｜>u")
        let inline: [Message] = [.user("q"), .assistant("<think>\nr\n</think>\n\na")]
        #expect(
            ChatTemplate.deepSeekR1.render(inline, addGenerationPrompt: false)
                == "<｜begin▁of▁sentence｜><｜User｜>q<｜Assistant｜>\n\na<｜end▁of▁sentence｜>")
    }

    @Test func detection() throws {
        #expect(
            try ChatTemplate.detect(
                chatTemplate: "{{'<｜Assistant｜><think>\\n'}}", specialTokens: [], modelType: "qwen2") == .deepSeekR1)
        #expect(
            try ChatTemplate.detect(
                chatTemplate: "<|im_start|>{% if enable_thinking %}", specialTokens: [], modelType: nil) == .qwen3)
        // ChatML's default system prompt is read from the template's string literal (as written in Jinja, with
        // `\n` escapes): Qwen2.5's, or Qwen2.5-Math's, or none.
        let qwen25 =
            #"{%- else %}{{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}"#
            + #"{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}"#
        #expect(try ChatTemplate.detect(chatTemplate: qwen25, specialTokens: [], modelType: nil) == .qwen25)
        let math = #"{{- '<|im_start|>system\nPlease reason step by step.<|im_end|>\n' }}"#
        #expect(
            try ChatTemplate.detect(chatTemplate: math, specialTokens: [], modelType: "qwen2")
                == .chatML(defaultSystemPrompt: "Please reason step by step."))
        let plain = #"{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"#
        #expect(
            try ChatTemplate.detect(chatTemplate: plain, specialTokens: [], modelType: nil)
                == .chatML(defaultSystemPrompt: nil))
        #expect(
            try ChatTemplate.detect(chatTemplate: "<|start_header_id|>", specialTokens: [], modelType: "llama")
                == .llama3)
        #expect(try ChatTemplate.detect(chatTemplate: "", specialTokens: [], modelType: "qwen3") == .qwen3)
        #expect(
            try ChatTemplate.detect(chatTemplate: "", specialTokens: ["<|start_header_id|>"], modelType: "llama")
                == .llama3)
        #expect(throws: TokenizerError.self) {
            try ChatTemplate.detect(chatTemplate: "[INST] {{ m }} [/INST]", specialTokens: [], modelType: "mistral")
        }
        #expect(throws: TokenizerError.self) {
            try ChatTemplate.detect(chatTemplate: "", specialTokens: [], modelType: "gpt2")
        }
    }

    @Test func detectsFromModelDirectory() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-chat-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(#"{"model_type": "qwen3"}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        #expect(try ChatTemplate.detect(directory: dir) == .qwen3)
        try Data(#"{"chat_template": "{% for m in messages %}<|start_header_id|>{% endfor %}"}"#.utf8)
            .write(to: dir.appendingPathComponent("tokenizer_config.json"))
        #expect(try ChatTemplate.detect(directory: dir) == .llama3)
    }

    /// A rendered prompt encodes with its markers as single special tokens.
    @Test func renderedPromptEncodesMarkersAsSpecialTokens() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2")
        let text = ChatTemplate.chatML(defaultSystemPrompt: nil).render([.user("hi")], addGenerationPrompt: true)
        let ids = tokenizer.encode(text, addSpecialTokens: false)
        #expect(ids.first == tokenizer.id(for: "<|im_start|>"))
        #expect(ids.filter { $0 == tokenizer.id(for: "<|im_end|>") }.count == 1)
        #expect(tokenizer.decode(ids) == text)
    }
}
