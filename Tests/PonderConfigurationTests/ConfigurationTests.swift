import ArgumentParser
import Foundation
import PonderConfiguration
import PonderSearch
import PonderTraining
import XCTest

final class ConfigurationTests: XCTestCase {
    /// Flag names and file keys agree: a run of capitals is one word, as ArgumentParser spells flags.
    func testNamesMatchArgumentParser() throws {
        XCTAssertEqual(ConfigurationFile.snakeCase("useBiasCorrectionKL"), "use_bias_correction_kl")
        XCTAssertEqual(ConfigurationFile.snakeCase("numGenerations"), "num_generations")
        XCTAssertEqual(ConfigurationFile.kebabCase("beta2"), "beta2")
        XCTAssertEqual(ConfigurationFile.kebabCase("logKL"), "log-kl")
        // Every key the GRPO configuration writes is a flag it accepts.
        let json = GRPOTrainer.Configuration.defaults.configurationJSON
        let help = GRPOTrainer.Configuration.helpMessage(columns: 400)
        for key in json.keys { XCTAssertTrue(help.contains("--" + ConfigurationFile.kebabCase(key)), key) }
    }

    /// A configuration written as JSON and read back through its flags is the same configuration, for every trainer
    /// and for search.
    func testRoundTrip() throws {
        func roundTrip<C: ParsableArguments>(_ type: C.Type, _ arguments: [String]) throws {
            let original = try C.parse(arguments)
            let reread = try C.parse(ConfigurationFile.arguments(from: original.configurationJSON))
            XCTAssertEqual(
                NSDictionary(dictionary: reread.configurationJSON), NSDictionary(dictionary: original.configurationJSON), "\(C.self)")
        }
        try roundTrip(
            GRPOTrainer.Configuration.self,
            [
                "--beta", "0.04", "--top-k", "7", "--reward-weights", "1", "0.2", "--dynamic-sampling", "--no-use-bias-correction-kl",
                "--loss-type", "dr_grpo", "--decay", "linear", "--dtype", "bfloat16", "--seed", "18446744073709551615",
            ])
        try roundTrip(SFTTrainer.Configuration.self, ["--batch-size", "3", "--steps", "9"])
        try roundTrip(Pretrainer.Configuration.self, ["--context-length", "64"])
        try roundTrip(SearchConfiguration.self, ["--scorer", "judge", "--delimiter", ", ", "--stop", "a", "--stop", "b"])
    }

    /// `--config` puts the file's flags before the typed ones, so typed flags win wherever they stand.
    func testTypedFlagsWinOverTheFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-config-\(UUID().uuidString).json")
        try #"{"beta": 0.5, "num_generations": 4, "training": {"learning_rate": 1e-5}, "top_k": null}"#.write(
            to: file, atomically: true, encoding: .utf8)
        let expanded = try ConfigurationFile.expand(["grpo", "--beta", "0.1", "--config", file.path])
        XCTAssertEqual(expanded.first, "grpo")
        let c = try GRPOTrainer.Configuration.parse(Array(expanded.dropFirst()).filter { $0 != "--config" && $0 != file.path })
        XCTAssertEqual(c.beta, 0.1)
        XCTAssertEqual(c.numGenerations, 4)
        XCTAssertEqual(c.training.learningRate, 1e-5, "nested objects are flattened")
        XCTAssertNil(c.topK, "null leaves the default")
        try "[1, 2]".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ConfigurationFile.expand(["grpo", "--config", file.path])) {
            XCTAssertTrue("\($0)".contains("not a JSON object"), "\($0)")
        }
        XCTAssertThrowsError(try ConfigurationFile.expand(["grpo", "--config", "/nonexistent.json"])) {
            XCTAssertTrue("\($0)".contains("/nonexistent.json"), "\($0)")
        }
    }

    /// Values out of range are refused when parsed, naming the knob.
    func testValidationNamesTheKnob() {
        XCTAssertThrowsError(try GRPOTrainer.Configuration.parse(["--num-generations", "1"])) {
            XCTAssertTrue(GRPOTrainer.Configuration.message(for: $0).contains("numGenerations"), "\($0)")
        }
        XCTAssertThrowsError(try GRPOTrainer.Configuration.parse(["--steps", "0"]))
        XCTAssertThrowsError(try GRPOTrainer.Configuration.parse(["--loss-type", "ppo"]))
    }

    /// GRPO's optimizer defaults are TRL's; pretraining and SFT keep theirs; a typed value wins over both.
    func testTrainersResolveTheirOptimizerDefaults() throws {
        let grpo = GRPOTrainer.Configuration.defaults.resolved.training
        XCTAssertEqual(grpo.learningRate, 1e-6)
        XCTAssertEqual(grpo.beta2, 0.999)
        let pretrain = Pretrainer.Configuration.defaults.resolved.training
        XCTAssertEqual(pretrain.learningRate, 3e-4)
        XCTAssertEqual(pretrain.beta2, 0.95)
        XCTAssertEqual(try GRPOTrainer.Configuration.parse(["--learning-rate", "5e-6"]).resolved.training.learningRate, 5e-6)
    }
}
