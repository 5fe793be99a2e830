import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTokenizers
import PonderTraining

struct DPO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dpo",
        abstract: "Direct Preference Optimization on TRL's preference JSONL (prompt, chosen, rejected), as TRL's DPOTrainer computes it.")

    @Option(name: .long, help: "Policy model directory.") var model: String
    @Option(
        name: .long,
        help:
            "JSONL preference pairs: \"prompt\", \"chosen\", \"rejected\", each a string or a list of {role, content} messages (TRL's format, as `ponder data preferences` writes it)."
    )
    var data: String
    @Option(name: .long, help: "Reference model directory (default: the initial policy).") var reference: String?
    @Flag(name: .long, help: "Send string prompts as user messages through the model's chat template.") var chat = false
    @OptionGroup var options: RunOptions
    @OptionGroup var config: DPOTrainer.Configuration

    func run() async throws {
        if options.printedConfiguration(config.resolved) { return }
        let dir = URL(fileURLWithPath: model)
        let tokenizer = try Tokenizer.load(directory: dir)
        let dtype = config.training.dtype.dtype
        let policy = try ModelDirectory.load(dir, dtype: dtype)
        var examples = try PreferenceExample.load(URL(fileURLWithPath: data))
        if chat {
            if let k = examples.firstIndex(where: { !$0.chosenComplete || !$0.rejectedComplete }) {
                throw ValidationError(
                    "\(data): pair \(k + 1) is a step-level pair (its prompt ends with solution steps the completion continues); --chat would put those steps into the user's message, so leave out --chat"
                )
            }
            examples = examples.map {
                guard case .text(let t) = $0.prompt else { return $0 }
                return PreferenceExample(prompt: .chat([.user(t)]), chosen: $0.chosen, rejected: $0.rejected)
            }
        }
        let needsTemplate = examples.contains { if case .chat = $0.prompt { true } else { false } }
        let template = needsTemplate ? try PromptTemplate.detect(directory: dir) : nil
        guard let end = tokenizer.specialTokenIDs.eos.first ?? policy.configuration.eosTokenIds.first else {
            throw ValidationError("\(model): no end-of-sequence token is configured")
        }
        // The reference: a named model, else a copy of the initial policy; none with LoRA (the base is the reference)
        // or with precomputed log-probabilities (computed from the policy before the first step).
        var referenceModel: CausalLM?
        if let reference {
            let refDir = URL(fileURLWithPath: reference)
            try requireSameTokenizer(model: dir, other: refDir, role: "reference")
            referenceModel = try ModelDirectory.load(refDir, dtype: dtype)
        } else if config.lora.settings == nil && !config.precomputeRefLogProbs {
            referenceModel = try ModelDirectory.load(dir, dtype: dtype)
        }
        let trainer = try DPOTrainer(
            configuration: config, policy: policy, tokenizer: tokenizer, template: template, examples: examples, endToken: end,
            reference: referenceModel)
        policy.adapters?.baseModel = dir.path
        let bar = ProgressBar(keys: ["loss", "rewards/margins", "rewards/accuracies"], every: 10)
        let last = try await trainer.train(
            run: options.directory, resume: options.resume, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(),
            onStep: bar.update)
        options.finished(at: last)
    }
}

/// Refuses two model directories whose tokenizers differ (a reference or teacher must read the same token ids),
/// naming both directories and what differs.
func requireSameTokenizer(model: URL, other: URL, role: String) throws {
    let a = try Tokenizer.load(directory: model)
    let b = try Tokenizer.load(directory: other)
    let probe = "Think in <think></think>, answer in <answer></answer>. 12+9-4=17 ✓ Ünïcode"
    if a.vocabularySize != b.vocabularySize || a.encode(probe, addSpecialTokens: true) != b.encode(probe, addSpecialTokens: true)
        || a.specialTokenIDs.eos != b.specialTokenIDs.eos
    {
        throw ValidationError(
            "the \(role) \(other.path) and the model \(model.path) have different tokenizers (vocabulary \(b.vocabularySize) vs \(a.vocabularySize), or different ids for the same text); token-level training needs one shared tokenizer"
        )
    }
}
