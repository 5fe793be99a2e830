import ArgumentParser
import Foundation
import PonderConfiguration
import PonderCore
import PonderModels

struct Generate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Complete a prompt with a local model, showing reasoning apart from the answer.")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    @Option(name: .long, help: "The prompt text.") var prompt: String
    @Flag(name: .long, help: "Send the prompt as a user message through the model's chat template.") var chat = false
    @Flag(name: .long, help: "Print text as it is generated.") var stream = false

    func run() async throws {
        let engine = try modelOptions.loadEngine()
        var request = CompletionRequest(
            prompt: chat ? .chat([.user(prompt)]) : .text(prompt), parameters: sampling.parameters(defaults: engine.generationDefaults))
        let promptText = try engine.promptText(request)
        if sampling.maxTokens == nil {
            // Without --max-tokens: the model's default (GenerationDefaults), or what the context leaves if that is less.
            let room = engine.model.configuration.maxPositionEmbeddings - engine.tokenizer.encode(promptText, addSpecialTokens: !chat).count
            request.parameters.maxTokens = Swift.max(1, Swift.min(engine.generationDefaults.maxTokens, room))
        }
        let parser = ThinkParser().continuing(promptText)
        let start = Date()
        if stream {
            var parsers = (0..<sampling.n).map { _ in ThinkStreamParser(parser) }
            var sections = [Section?](repeating: nil, count: sampling.n)
            for try await chunk in engine.stream(request) {
                var delta = parsers[chunk.index].feed(chunk.text)
                if chunk.finishReason != nil {
                    let rest = parsers[chunk.index].finish()
                    delta.reasoning += rest.reasoning
                    delta.answer += rest.answer
                }
                if !delta.reasoning.isEmpty { Self.write(delta.reasoning, section: .reasoning, index: chunk.index, current: &sections) }
                if !delta.answer.isEmpty { Self.write(delta.answer, section: .answer, index: chunk.index, current: &sections) }
                if let reason = chunk.finishReason {
                    FileHandle.standardOutput.write(Data("\n[\(chunk.index)] finished: \(reason.rawValue)\n".utf8))
                }
            }
        } else {
            let response = try await engine.complete(request)
            for (i, c) in response.completions.enumerated() {
                let parsed = parser.parse(c.text)
                if sampling.n > 1 { print("=== completion \(i) (\(c.tokens.count) tokens, \(c.finishReason.rawValue)) ===") }
                if let reasoning = parsed.reasoning {
                    print("--- reasoning (\(c.reasoningTokens) tokens, \(parsed.state.rawValue)) ---")
                    print(reasoning.trimmingCharacters(in: .whitespacesAndNewlines))
                    print("--- answer ---")
                }
                print(parsed.answer.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            let u = response.usage
            let seconds = Date().timeIntervalSince(start)
            FileHandle.standardError.write(
                Data(
                    String(
                        format: "usage: %d prompt, %d completion (%d reasoning) tokens in %.2f s, %.1f tokens/s\n",
                        u.promptTokens, u.completionTokens, u.reasoningTokens, seconds, Double(u.completionTokens) / seconds
                    ).utf8))
        }
    }

    enum Section { case reasoning, answer }

    static func write(_ text: String, section: Section, index: Int, current: inout [Section?]) {
        if current[index] != section {
            FileHandle.standardOutput.write(Data("\n--- [\(index)] \(section == .reasoning ? "reasoning" : "answer") ---\n".utf8))
            current[index] = section
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
