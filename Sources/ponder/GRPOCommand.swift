import ArgumentParser
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTraining
import PonderVerifiers

struct GRPO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpo", abstract: "Reinforcement learning with verifiable rewards (GRPO and its DAPO, Dr. GRPO, GSPO variants).")

    @Option(name: .long, help: "Policy model directory.") var model: String
    @OptionGroup var problems: ProblemOptions
    @Option(
        name: .long, parsing: .upToNextOption,
        help: "Reward functions (default: the task's, accuracy + 0.2 × format for tagged tasks): \(RewardCatalog.names.joined(separator: ", ")).")
    var reward: [String] = []
    @Option(
        name: .long,
        help:
            "An external reward: a command run by /bin/sh that reads one JSON line per completion ({answer, completion, id, metadata, prompt}) and answers {\"reward\": x} or null (repeatable; after --reward's functions in --reward-weights order).")
    var rewardCommand: [String] = []
    @Option(name: .long, help: "An HTTP reward endpoint: one POST of the same JSON per completion (repeatable; after the commands).")
    var rewardURL: [String] = []
    @Option(name: .long, help: "Seconds an external reward may take per completion before it counts as unscored.") var rewardTimeout = 30.0
    @Option(name: .long, help: "External reward processes or HTTP requests at once.") var rewardConcurrency = 4
    @OptionGroup var options: RunOptions
    @OptionGroup var distributed: DistributedOptions
    @OptionGroup var config: GRPOTrainer.Configuration

    func run() async throws {
        if let rate = config.training.learningRate, rate > 1e-4 {
            FileHandle.standardError.write(
                Data(
                    "warning: --learning-rate \(rate) is a pretraining-sized rate; GRPO on a pretrained model usually wants about 1e-6 (TRL's default), and rates above 1e-4 tend to collapse it within a few steps\n"
                        .utf8))
        }
        if options.printedConfiguration(config.resolved) { return }
        if try distributed.launchIfRequested() { return }
        let parallel = try distributed.join()
        let dir = URL(fileURLWithPath: model)
        let (task, problems) = try await self.problems.load()
        var rewards = try reward.isEmpty ? task.rewards : reward.map { WeightedReward(try RewardCatalog.reward(named: $0, task: task)) }
        for (i, command) in rewardCommand.enumerated() {
            rewards.append(
                WeightedReward(
                    try CommandReward(
                        name: rewardCommand.count == 1 ? "command" : "command\(i + 1)", command: command, timeout: rewardTimeout,
                        concurrency: rewardConcurrency)))
        }
        for (i, address) in rewardURL.enumerated() {
            guard let url = URL(string: address) else { throw ValidationError("--reward-url \(address) is not a URL") }
            rewards.append(
                WeightedReward(
                    try HTTPReward(
                        name: rewardURL.count == 1 ? "http" : "http\(i + 1)", url: url, timeout: rewardTimeout, concurrency: rewardConcurrency)))
        }
        let dtype = config.training.dtype.dtype
        let policy = try ModelDirectory.load(dir, dtype: dtype)
        // The sampler computes with the policy's own tensors, so every update is visible to the next rollout.
        let engine = try Engine(model: policy, directory: dir, chat: self.problems.chat)
        // With LoRA the base model (adapters off) is the reference: no second copy.
        let reference = (config.beta != 0 || config.logKL) && config.lora.settings == nil ? try ModelDirectory.load(dir, dtype: dtype) : nil
        let trainer = try GRPOTrainer(
            configuration: config, policy: policy, rollouts: engine, task: task, problems: problems, rewards: rewards, reference: reference)
        policy.adapters?.baseModel = dir.path
        let bar = ProgressBar(keys: ["reward", "completions/mean_length", "entropy", "kl"], every: 5)
        let last = try await trainer.train(
            run: options.directory, resume: options.resume, tokenizerFiles: tokenizerFiles(dir), interrupt: InterruptFlag.onSignals(),
            parallel: parallel, onStep: bar.update)
        options.finished(at: last)
    }
}
