import ArgumentParser
import Foundation
import Logging
import PonderModels
import PonderTokenizers
import PonderTraining
import PonderTasks
import Torch

struct Pretrain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pretrain a model with next-token loss over packed text.")

    @Option(name: .long, help: "Model directory (config.json, tokenizer.json; weights unless --from-scratch).") var model: String
    @Flag(name: .long, help: "Initialise fresh weights from the directory's config.json instead of loading them.") var fromScratch = false
    @Option(
        name: .long,
        help: "Training text: a .jsonl file (see --text-field) or a plain text file (one document per blank-line-separated block).")
    var data: String
    @Option(name: .long, help: "The JSONL field holding a document.") var textField = "text"
    @OptionGroup var options: RunOptions
    @OptionGroup var distributed: DistributedOptions
    @OptionGroup var config: Pretrainer.Configuration

    func run() async throws {
        if options.printedConfiguration(config.resolved) { return }
        if try distributed.launchIfRequested() { return }
        let parallel = try distributed.join()
        let dir = URL(fileURLWithPath: model)
        let tokenizer = try Tokenizer.load(directory: dir)
        let dtype = config.training.dtype.dtype
        let network =
            fromScratch
            ? try CausalLM(configuration: ModelDirectory.configuration(at: dir), seed: config.training.seed, dtype: dtype)
            : try ModelDirectory.load(dir, dtype: dtype)
        let documents = try Self.documents(URL(fileURLWithPath: data), field: textField)
        guard let end = tokenizer.specialTokenIDs.eos.first ?? network.configuration.eosTokenIds.first else {
            throw ValidationError("\(model): the tokenizer and config name no end-of-sequence token to separate documents")
        }
        let trainer = try Pretrainer(configuration: config, model: network, tokenizer: tokenizer, documents: documents, endToken: end)
        FileHandle.standardError.write(
            Data(
                "pretraining \(network.parameterCount) parameters on \(trainer.windowCount) windows of \(config.contextLength) tokens\n"
                    .utf8))
        let bar = ProgressBar(keys: ["loss", "grad_norm", "learning_rate"], every: 10)
        let last = try await trainer.train(
            run: options.directory, resume: options.resume, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(),
            parallel: parallel, onStep: bar.update)
        options.finished(at: last)
    }

    static func documents(_ url: URL, field: String) throws -> [String] {
        if url.pathExtension == "jsonl" { return try JSONLines.strings(url, field: field) }
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.components(separatedBy: "\n\n").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
    }
}
