import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining

struct TrainRM: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-rm",
        abstract:
            "Train an outcome (orm: Bradley–Terry on pairs, or pointwise on graded samples) or process (prm: per-step classification) reward model; checkpoints load in transformers."
    )

    enum Objective: String, ExpressibleByArgument { case pairs, pointwise }

    @Option(name: .long, help: "Base model directory (a language model: its decoder gets a new head) or a reward model to keep training.")
    var model: String
    @Option(name: .long, help: "orm (outcome reward model) or prm (process reward model).") var kind: RewardModelKind
    @Option(
        name: .long,
        help:
            "JSONL data: pairs (prompt, chosen, rejected) or graded samples (prompt, completion, label) for orm; steps (prompt, completions, labels) for prm."
    )
    var data: String
    @Option(
        name: .long, help: "orm only: pairs (Bradley–Terry, TRL's RewardTrainer) or pointwise (binary cross-entropy on graded samples).")
    var objective: Objective = .pairs
    @Flag(name: .long, help: "prm only: train on the soft Monte-Carlo labels (soft_labels) instead of the hard ones.") var softLabels =
        false
    @Option(
        name: .long,
        help:
            "Held-out JSONL in the same layout (problems the training data does not contain) for eval.json; without it, --eval-fraction of --data."
    )
    var evalData: String?
    @OptionGroup var options: RunOptions
    @OptionGroup var config: RewardModelTrainer.Configuration

    func run() async throws {
        if options.printedConfiguration(config.resolved) { return }
        let dir = URL(fileURLWithPath: model)
        let tokenizer = try Tokenizer.load(directory: dir)
        let base = try ModelDirectory.load(dir, dtype: config.training.dtype.dtype)
        let head: ModelHead = kind == .outcome ? .sequenceClassification(labels: 1) : .tokenClassification(labels: 2, bias: true)
        let network: CausalLM
        switch base.configuration.head {
        case .languageModel:
            // transformers needs pad_token_id to batch a sequence classifier; TRL falls back to EOS as the pad token.
            let pad = tokenizer.specialTokenIDs.pad ?? tokenizer.specialTokenIDs.eos.first ?? base.configuration.eosTokenIds.first
            network = try base.withHead(head, padTokenId: pad, seed: config.training.seed)
        case let existing where existing.rewardKind == kind: network = base
        case let existing:
            throw ValidationError(
                "\(model) is a \(existing.rewardKind?.rawValue ?? "?") reward model; --kind \(kind.rawValue) starts from a language model or continues a \(kind.rawValue) reward model"
            )
        }
        let layout: RewardData.Layout = kind == .process ? .steps : objective == .pairs ? .pairs : .outcomes
        let examples = try RewardData.read(URL(fileURLWithPath: data), layout: layout, softLabels: softLabels)
        let endText = tokenizer.specialTokenIDs.eos.first.flatMap { tokenizer.token(for: $0) }
        let encoder = RewardEncoder(tokenizer: tokenizer, endText: endText, stepSeparator: config.stepSeparator)
        // Held-out labels are always the hard ones: metrics ask whether the model tells right steps from wrong.
        let heldOut = try evalData.map { try RewardData.read(URL(fileURLWithPath: $0), layout: layout) }
        let trainer = try RewardModelTrainer(configuration: config, model: network, encoder: encoder, data: examples, evalData: heldOut)
        let bar = ProgressBar(keys: ["loss", "accuracy", "grad_norm", "learning_rate"], every: 10)
        let run = try options.directory
        let last = try await trainer.train(
            run: run, resume: options.resume, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(), onStep: bar.update)
        options.finished(at: last)
        let evalURL = run.url.appendingPathComponent("eval.json")
        if last == trainer.configuration.training.steps, FileManager.default.fileExists(atPath: evalURL.path) {
            let metrics = try JSONDecoder().decode(RewardModelTrainer.EvaluationRecord.self, from: Data(contentsOf: evalURL)).heldOut
            let auc = metrics.rocAUC.map { String(format: "%.3f", $0) } ?? "-"
            let ece = metrics.expectedCalibrationError.map { String(format: "%.3f", $0) } ?? "-"
            FileHandle.standardError.write(
                Data(
                    "held-out (\(metrics.count)): accuracy \(String(format: "%.3f", metrics.accuracy)), ROC AUC \(auc), ECE \(ece); \(options.run)/eval.json\n"
                        .utf8))
        }
    }
}
