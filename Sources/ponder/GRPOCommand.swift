import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTokenizers
import PonderTraining
import PonderVerifiers

struct GRPO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo", abstract: "Reinforcement learning with verifiable rewards (GRPO and its DAPO, Dr. GRPO, GSPO variants).")

    @Option(name: .long, help: "Policy model directory.") var model: String
    @Option(name: .long, help: "JSONL problems.") var data: String
    @Option(name: .long, help: "Field holding the question.") var promptField = "prompt"
    @Option(name: .long, help: "Field holding the reference answer (GSM8K answers ending '#### n' are understood).") var answerField =
        "answer"
    @Flag(name: .long, help: "Send questions as user messages through the chat template.") var chat = false
    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Reward functions: accuracy, format, soft_format, tag_count, reasoning_steps, length, repetition.")
    var reward: [String] = ["accuracy", "format"]
    @Option(name: .long, parsing: .upToNextOption, help: "One weight per reward function.") var rewardWeights: [Double] = []
    @Option(name: .long, help: "Completions per prompt.") var numGenerations: Int?
    @Option(name: .long, help: "Prompts per generation batch.") var promptsPerStep: Int?
    @Option(name: .long, help: "Longest completion in tokens.") var maxCompletionLength: Int?
    @Option(name: .long, help: "grpo, bnpo, dr_grpo, dapo, cispo or sapo.") var lossType: GRPOLossType?
    @Option(name: .long, help: "KL weight (0 loads no reference model).") var beta: Double?
    @Option(name: .long, help: "Lower clip range.") var epsilon: Double?
    @Option(name: .long, help: "Upper clip range (clip-higher).") var epsilonHigh: Double?
    @Option(name: .long, help: "token or sequence (GSPO).") var importanceSamplingLevel: ImportanceSamplingLevel?
    @Option(name: .long, help: "Optimizer steps per generation batch.") var numIterations: Int?
    @Option(name: .long, help: "group, batch or none.") var scaleRewards: RewardScaling?
    @Option(name: .long, help: "Sampling temperature.") var temperature: Double?
    @Flag(name: .long, help: "DAPO dynamic sampling.") var dynamicSampling = false
    @Flag(name: .long, help: "Give no loss to completions cut by the length limit.") var maskTruncatedCompletions = false
    @OptionGroup var flags: TrainingFlags

    func run() async throws {
        let dir = URL(fileURLWithPath: model)
        var c = try flags.base(GRPOTrainer.Configuration.self, fallback: GRPOTrainer.Configuration(training: TrainingOptions(steps: 100)))
        flags.apply(to: &c.training)
        if let numGenerations { c.numGenerations = numGenerations }
        if let promptsPerStep { c.promptsPerStep = promptsPerStep }
        if let maxCompletionLength { c.objective.maxCompletionLength = maxCompletionLength }
        if let lossType { c.objective.lossType = lossType }
        if let beta { c.objective.beta = beta }
        if let epsilon { c.objective.epsilon = epsilon }
        if let epsilonHigh { c.objective.epsilonHigh = epsilonHigh }
        if let importanceSamplingLevel { c.objective.importanceSamplingLevel = importanceSamplingLevel }
        if let numIterations { c.numIterations = numIterations }
        if let scaleRewards { c.scaleRewards = scaleRewards }
        if let temperature { c.temperature = temperature }
        if dynamicSampling { c.dynamicSampling = true }
        if maskTruncatedCompletions { c.maskTruncatedCompletions = true }
        if !rewardWeights.isEmpty { c.rewardWeights = rewardWeights }
        let rewards = try reward.map(Self.rewardFunction)
        let policy = try ModelDirectory.load(dir, dtype: flags.computeDType!)
        let engine = try Engine(
            model: policy, tokenizer: Tokenizer.load(directory: dir), template: chat ? ChatTemplate.detect(directory: dir) : nil,
            name: dir.lastPathComponent, options: .init(prefixCacheBytes: 0))
        let reference = c.objective.beta != 0 ? try ModelDirectory.load(dir, dtype: flags.computeDType!) : nil
        let problems = try Self.problems(URL(fileURLWithPath: data), promptField: promptField, answerField: answerField)
        let chat = self.chat
        let trainer = try GRPOTrainer(
            configuration: c, policy: policy, engine: engine, rewards: rewards, problems: problems, reference: reference,
            makePrompt: { chat ? .chat([.user($0.prompt)]) : .text($0.prompt) })
        let bar = ProgressBar(keys: ["reward", "completions/mean_length", "entropy", "kl"], every: 5)
        let last = try await trainer.train(
            run: RunDirectory(URL(fileURLWithPath: flags.run)), resume: flags.resume, tokenizerFiles: tokenizerFiles(dir),
            interrupt: InterruptFlag.onSignals(), onStep: bar.update)
        FileHandle.standardError.write(Data("stopped at step \(last); checkpoints in \(flags.run)/checkpoints\n".utf8))
    }

    static func rewardFunction(_ name: String) throws -> any RewardFunction {
        switch name {
        case "accuracy": return AccuracyReward()
        case "format": return StrictFormatReward()
        case "soft_format": return SoftFormatReward()
        case "tag_count": return TagCountReward()
        case "reasoning_steps": return ReasoningStepsReward()
        case "length": return LengthReward()
        case "repetition": return try RepetitionPenaltyReward()
        default:
            throw ValidationError(
                "unknown reward \"\(name)\" (known: accuracy, format, soft_format, tag_count, reasoning_steps, length, repetition)")
        }
    }

    /// Problems from JSONL; a GSM8K answer ("… #### 42") keeps only what follows ####.
    static func problems(_ url: URL, promptField: String, answerField: String) throws -> [Problem] {
        try JSONLines.read(url).enumerated().map { i, object in
            guard let prompt = object[promptField] as? String else {
                throw TrainingError.badData(path: url.path, line: i + 1, reason: "field \"\(promptField)\" is missing or not a string")
            }
            let raw: String
            if let s = object[answerField] as? String {
                raw = s
            } else if let n = object[answerField] as? NSNumber {
                raw = n.stringValue
            } else {
                throw TrainingError.badData(path: url.path, line: i + 1, reason: "field \"\(answerField)\" is missing")
            }
            let answer = raw.components(separatedBy: "####").last!.trimmingCharacters(in: .whitespacesAndNewlines)
            return Problem.math(id: "\(url.lastPathComponent)/\(i + 1)", prompt: prompt, answer: answer)
        }
    }
}

extension GRPOLossType: ExpressibleByArgument {}
extension ImportanceSamplingLevel: ExpressibleByArgument {}
extension RewardScaling: ExpressibleByArgument {}
