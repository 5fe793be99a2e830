import ArgumentParser
import Dispatch
import Foundation
import PonderCore
import PonderTokenizers

/// Trains, encodes with and times PonderTokenizers; used by the fixture script and Benchmarks/tokenizers/run.sh.
@main
struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer-bench", abstract: "Train, encode with and benchmark PonderTokenizers.",
        subcommands: [Train.self, Encode.self, Throughput.self, Chat.self])
}

/// Trains a byte-level BPE tokenizer and saves it.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a byte-level BPE tokenizer on a text file.")

    @Option(help: "Text file to train on.") var corpus: String
    @Option(help: "Target vocabulary size (special tokens and 256 bytes included).") var vocabSize: Int
    @Option(help: "A special token (repeatable).") var special: [String] = []
    @Option(help: "Directory to write tokenizer.json and tokenizer_config.json into.") var output: String

    func run() throws {
        let text = try String(contentsOfFile: corpus, encoding: .utf8)
        let start = DispatchTime.now()
        let tokenizer = try BPETrainer(vocabularySize: vocabSize, specialTokens: special).train(text)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        try tokenizer.save(
            to: URL(fileURLWithPath: output), config: TokenizerConfig(eosToken: special.first, padToken: special.first))
        FileHandle.standardError.write(
            Data(
                "trained \(tokenizer.vocabularySize) tokens on \(text.utf8.count) bytes in \(String(format: "%.2f", seconds)) s\n"
                    .utf8))
    }
}

/// Prints the ids of every string of a JSON array, as a JSON array of arrays.
struct Encode: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Encode the strings of a JSON array; print ids as JSON.")

    @Option(help: "tokenizer.json to load.") var tokenizer: String
    @Option(help: "JSON file holding an array of strings.") var strings: String
    @Flag(help: "Leave out the post-processor's special tokens.") var noSpecialTokens = false

    func run() throws {
        let tok = try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: strings)))
        let ids = tok.encodeBatch(texts, addSpecialTokens: !noSpecialTokens)
        print(String(decoding: try JSONEncoder().encode(ids), as: UTF8.self))
    }
}

/// Measures encode throughput on text files.
struct Throughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput", abstract: "Measure encode throughput (MB/s) on text files, one document per line.")

    @Option(help: "tokenizer.json to load.") var tokenizer: String
    @Argument(help: "Text files.") var files: [String]
    @Option(help: "Repetitions; the best is reported.") var repeats = 3

    func run() throws {
        let loadStart = DispatchTime.now()
        let tok = try Tokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart.uptimeNanoseconds) / 1e9
        FileHandle.standardError.write(Data("ponder load \(String(format: "%.3f", loadSeconds)) s\n".utf8))
        for file in files {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            // Split on the byte 0x0A (a Character split would keep "\r\n" together, unlike Python's split).
            let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map {
                String(decoding: $0, as: UTF8.self)
            }
            let megabytes = Double(text.utf8.count) / 1e6
            var bestSingle = Double.infinity
            var bestBatch = Double.infinity
            var tokens = 0
            for _ in 0..<repeats {
                var t0 = DispatchTime.now()
                tokens = 0
                for line in lines { tokens += tok.encodeIDs(line, addSpecialTokens: false).count }
                bestSingle = min(bestSingle, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
                t0 = DispatchTime.now()
                _ = tok.encodeBatch(lines, addSpecialTokens: false)
                bestBatch = min(bestBatch, Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e9)
            }
            print(
                "ponder \(URL(fileURLWithPath: file).lastPathComponent) \(String(format: "%.3f", megabytes)) MB \(tokens) tokens "
                    + "single \(String(format: "%.2f", megabytes / bestSingle)) MB/s batch \(String(format: "%.2f", megabytes / bestBatch)) MB/s"
            )
        }
    }
}

/// Renders conversations with a chat template; prints a JSON array of strings.
struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Render conversations (a JSON array of arrays of messages) with a chat template.")

    @Option(help: "Family: chatml, qwen2.5, qwen3, llama3, llama3.1, deepseek-r1.") var family: String
    @Option(help: "JSON file: an array of conversations, each an array of {role, content, reasoning?}.")
    var conversations: String
    @Flag(help: "Append the generation prompt.") var generationPrompt = false
    @Flag(help: "Qwen3: disable thinking.") var noThinking = false

    func run() throws {
        let template: ChatTemplate
        switch family {
        case "chatml": template = .chatML(defaultSystemPrompt: nil)
        case "qwen2.5": template = .qwen25
        case "qwen3": template = .qwen3
        case "llama3": template = .llama3
        case "llama3.1": template = .llama31(todayDate: "26 Jul 2024")
        case "deepseek-r1": template = .deepSeekR1
        default: throw ValidationError("unknown family \(family)")
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: conversations))
        let all = try JSONDecoder().decode([[Message]].self, from: data)
        let rendered = all.map {
            template.render($0, addGenerationPrompt: generationPrompt, enableThinking: !noThinking)
        }
        print(String(decoding: try JSONEncoder().encode(rendered), as: UTF8.self))
    }
}
