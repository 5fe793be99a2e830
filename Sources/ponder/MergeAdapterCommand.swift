import ArgumentParser
import Foundation
import PonderModels

/// `ponder merge-adapter`: folds LoRA adapters into their base model and writes a complete model directory.
struct MergeAdapter: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-adapter", abstract: "Merge LoRA adapters (PEFT's format) into their base model and save the merged model.")

    @Option(name: .long, help: "The base model directory.") var model: String
    @Option(name: .long, help: "The adapter directory (adapter_config.json, adapter_model.safetensors), e.g. a LoRA run's checkpoint.")
    var adapter: String
    @Option(name: .long, help: "Where to write the merged model.") var out: String

    func run() throws {
        let base = URL(fileURLWithPath: model)
        let network = try ModelDirectory.load(base)
        network.attach(try LoRA.load(URL(fileURLWithPath: adapter), configuration: network.configuration, dtype: network.dtype))
        network.mergeAdapters()
        try ModelDirectory.save(network, to: URL(fileURLWithPath: out), tokenizerFiles: tokenizerFiles(base))
        FileHandle.standardError.write(Data("merged \(adapter) into \(model): \(out)\n".utf8))
    }
}
