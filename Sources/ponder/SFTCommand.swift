import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining

struct SFT: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sft", abstract: "Supervised fine-tuning with the loss on completion tokens only.")

    @Option(name: .long, help: "Model directory to fine-tune.") var model: String
    @Option(name: .long, help: "JSONL examples.") var data: String
    @Option(name: .long, help: "Field holding the prompt.") var promptField = "prompt"
    @Option(name: .long, help: "Field holding the completion to learn.") var completionField = "completion"
    @Flag(name: .long, help: "Send prompts as user messages through the model's chat template.") var chat = false
    @OptionGroup var options: RunOptions
    @OptionGroup var distributed: DistributedOptions
    @OptionGroup var config: SFTTrainer.Configuration

    func run() async throws {
        if options.printedConfiguration(config.resolved) { return }
        if try distributed.launchIfRequested() { return }
        let parallel = try distributed.join()
        let dir = URL(fileURLWithPath: model)
        let tokenizer = try Tokenizer.load(directory: dir)
        let network = try ModelDirectory.load(dir, dtype: config.training.dtype.dtype)
        let url = URL(fileURLWithPath: data)
        let prompts = try JSONLines.strings(url, field: promptField)
        let completions = try JSONLines.strings(url, field: completionField)
        let examples = zip(prompts, completions).map { SFTExample(prompt: chat ? .chat([.user($0)]) : .text($0), completion: $1) }
        let template = chat ? try PromptTemplate.detect(directory: dir) : nil
        guard let end = tokenizer.specialTokenIDs.eos.first ?? network.configuration.eosTokenIds.first else {
            throw ValidationError("\(model): no end-of-sequence token is configured")
        }
        let trainer = try SFTTrainer(
            configuration: config, model: network, tokenizer: tokenizer, template: template, examples: examples, endToken: end)
        network.adapters?.baseModel = dir.path
        let bar = ProgressBar(keys: ["loss", "grad_norm", "learning_rate"], every: 10)
        let last = try await trainer.train(
            run: options.directory, resume: options.resume, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(),
            parallel: parallel, onStep: bar.update)
        options.finished(at: last)
    }
}
