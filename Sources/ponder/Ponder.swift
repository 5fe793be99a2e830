import ArgumentParser
import Foundation
import PonderConfiguration
import PonderModels
import PonderSearch

@main
struct Ponder: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ponder",
        abstract: "Train and run reasoning language models: generation, verification, RL training and test-time search.",
        subcommands: [
            Generate.self, VerifyCommand.self, DataCommand.self, InitModel.self, Pretrain.self, SFT.self, GRPO.self, TrainRM.self, Eval.self,
            Sweep.self, Solve.self, Allocate.self, Serve.self, Demo.self, TemplateCommand.self, TokenizeCommand.self, MergeAdapter.self,
            DPO.self, Sample.self, Distill.self, Star.self, Recipe.self,
        ]
    )

    /// Parses with `--config FILE` expanded into flags (typed flags win), then runs the command.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        // `--scorer orm:DIR` / `prm:DIR` load their models through PonderModels.
        RewardModelRegistry.register { path in try RewardModel.load(URL(fileURLWithPath: path)) }
        do {
            var command = try parseAsRoot(try ConfigurationFile.expand(arguments))
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
