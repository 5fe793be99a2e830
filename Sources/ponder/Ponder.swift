import ArgumentParser

@main
struct Ponder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ponder",
        abstract: "Train and run reasoning language models: generation, verification, RL training and test-time search.",
        subcommands: [
            Generate.self, VerifyCommand.self, DataCommand.self, InitModel.self, Pretrain.self, SFT.self, GRPO.self, Evaluate.self,
            Demo.self, Solve.self, Eval.self,
        ]
    )
}
