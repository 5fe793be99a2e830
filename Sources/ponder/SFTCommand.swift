import ArgumentParser
import Foundation
import PonderCore
import PonderModels
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
    @Option(name: .long, help: "Examples per micro-batch.") var batchSize: Int?
    @Option(name: .long, help: "Longest example in tokens.") var maxLength: Int?
    @OptionGroup var flags: TrainingFlags

    func run() async throws {
        let dir = URL(fileURLWithPath: model)
        let tokenizer = try Tokenizer.load(directory: dir)
        var config = try flags.base(
            SFTTrainer.Configuration.self, fallback: SFTTrainer.Configuration(training: TrainingOptions(steps: 100)))
        flags.apply(to: &config.training)
        if let batchSize { config.batchSize = batchSize }
        if let maxLength { config.maxLength = maxLength }
        let network = try ModelDirectory.load(dir, dtype: flags.computeDType!)
        let url = URL(fileURLWithPath: data)
        let prompts = try JSONLines.strings(url, field: promptField)
        let completions = try JSONLines.strings(url, field: completionField)
        let examples = zip(prompts, completions).map { SFTExample(prompt: chat ? .chat([.user($0)]) : .text($0), completion: $1) }
        let template = chat ? try ChatTemplate.detect(directory: dir) : nil
        guard let end = tokenizer.specialTokenIDs.eos.first ?? network.configuration.eosTokenIds.first else {
            throw ValidationError("\(model): no end-of-sequence token is configured")
        }
        let trainer = try SFTTrainer(
            configuration: config, model: network, tokenizer: tokenizer, template: template, examples: examples, endToken: end)
        let bar = ProgressBar(keys: ["loss", "grad_norm", "learning_rate"], every: 10)
        let last = try trainer.train(
            run: RunDirectory(URL(fileURLWithPath: flags.run)), resume: flags.resume, tokenizerFiles: tokenizerFiles(dir),
            interrupt: InterruptFlag.onSignals(), onStep: bar.update)
        FileHandle.standardError.write(Data("stopped at step \(last); checkpoints in \(flags.run)/checkpoints\n".utf8))
    }
}
