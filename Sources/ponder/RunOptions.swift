import ArgumentParser
import Foundation
import PonderConfiguration
import PonderTraining

/// Flags of a training run that are not part of its configuration.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Run directory (config.json, metrics, completions, checkpoints).") var run: String
    @Option(
        name: .long,
        help: "A JSON file whose keys are configuration flags (snake_case, as config.json and --print-config write them); flags typed here override it."
    )
    var config: String?
    @Flag(name: .long, help: "Continue from the run's latest checkpoint.") var resume = false
    @Flag(name: .long, help: "Print the effective configuration as JSON and exit.") var printConfig = false

    var directory: RunDirectory { get throws { try RunDirectory(URL(fileURLWithPath: run)) } }

    /// Prints `configuration` and returns true when --print-config was given.
    func printedConfiguration(_ configuration: some ParsableArguments) -> Bool {
        if printConfig { print(configuration.configurationText) }
        return printConfig
    }

    func finished(at step: Int) {
        FileHandle.standardError.write(Data("stopped at step \(step); checkpoints in \(run)/checkpoints\n".utf8))
    }
}

/// The tokenizer files of a model directory, copied into each checkpoint so it is a complete model directory.
func tokenizerFiles(_ dir: URL) -> [URL] {
    ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"]
        .map { dir.appendingPathComponent($0) }
        .filter { FileManager.default.fileExists(atPath: $0.path) }
}
