import ArgumentParser
import Foundation
import PonderModels
import PonderTokenizers
import Torch

struct InitModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-model",
        abstract: "Create a new model directory: train a byte-level BPE tokenizer on a corpus and write config.json with fresh weights.")

    @Option(name: .long, help: "Output model directory.") var out: String
    @Option(name: .long, help: "Text corpus for the tokenizer (blank-line separated documents, or JSONL with a \"text\" field).")
    var corpus: String
    @Option(name: .long, help: "Tokenizer vocabulary size (special tokens and the 256 bytes included).") var vocabularySize = 320
    @Option(name: .long, parsing: .upToNextOption, help: "Special tokens; the first ends documents.")
    var specialTokens = ["<|endoftext|>", "<think>", "</think>", "<answer>", "</answer>"]
    @Option(name: .long, help: "llama, qwen2 or qwen3.") var family = "llama"
    @Option(name: .long) var hiddenSize = 128
    @Option(name: .long) var intermediateSize = 352
    @Option(name: .long) var layers = 4
    @Option(name: .long) var heads = 4
    @Option(name: .long) var keyValueHeads: Int?
    @Option(name: .long, help: "Context length (positions).") var context = 256
    @Option(name: .long) var ropeTheta = 10_000.0
    @Option(name: .long, help: "Seed of the initial weights.") var seed: UInt64 = 0

    func validate() throws {
        guard ModelFamily(rawValue: family) != nil else { throw ValidationError("--family \(family): use llama, qwen2 or qwen3") }
        guard hiddenSize % heads == 0 else { throw ValidationError("--hidden-size \(hiddenSize) must be a multiple of --heads \(heads)") }
        guard !specialTokens.isEmpty else { throw ValidationError("--special-tokens needs at least the end-of-text token") }
    }

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let documents = try Pretrain.documents(URL(fileURLWithPath: corpus), field: "text")
        let tokenizer = try BPETrainer(vocabularySize: vocabularySize, specialTokens: specialTokens).train(documents)
        try tokenizer.save(
            to: dir, config: TokenizerConfig(eosToken: specialTokens[0], padToken: specialTokens[0], modelMaxLength: context))
        let eos = tokenizer.id(for: specialTokens[0])!
        let config = ModelConfiguration(
            family: ModelFamily(rawValue: family)!, vocabularySize: tokenizer.vocabularySize, hiddenSize: hiddenSize,
            intermediateSize: intermediateSize, layerCount: layers, headCount: heads, keyValueHeadCount: keyValueHeads,
            ropeTheta: ropeTheta,
            maxPositionEmbeddings: context, tieWordEmbeddings: true, eosTokenIds: [eos])
        let model = try CausalLM(configuration: config, seed: seed)
        try ModelDirectory.save(model, to: dir)
        FileHandle.standardError.write(
            Data(
                "wrote \(out): \(family), \(model.parameterCount) parameters, vocabulary \(tokenizer.vocabularySize) (trained on \(documents.count) documents)\n"
                    .utf8))
    }
}
