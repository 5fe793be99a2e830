import Foundation
import XCTest

/// Runs the built `ponder` executable (it sits beside the test bundle in the build directory).
final class CLITests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let fixtureModel = repository.appendingPathComponent("Tests/PonderModelsTests/Fixtures/tiny-qwen3")

    /// The built executable; running it is `PonderBinary`'s job (shared with the distributed tests).
    let runner = PonderBinary()
    var binary: URL { runner.binary }

    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        try runner.launch(arguments, environment: environment)
    }

    func ponder(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runner.ponder(arguments, environment: environment)
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: binary.path), "ponder is not built at \(binary.path)")
    }

    func testGenerateOnAFixtureModel() throws {
        let r = try ponder([
            "generate", "--model", Self.fixtureModel.path, "--prompt", "Question 3:", "--max-tokens", "8", "--seed", "1", "--n", "2",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("=== completion 1"), r.stdout)
        XCTAssertTrue(r.stderr.contains("usage: 3 prompt, 16 completion"), r.stderr)
        let streamed = try ponder([
            "generate", "--model", Self.fixtureModel.path, "--prompt", "hi <think>", "--stream", "--max-tokens", "6",
            "--max-thinking-tokens", "2", "--seed", "2",
        ])
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertTrue(streamed.stdout.contains("[0] finished"), streamed.stdout)
        let bad = try ponder(["generate", "--model", "/nonexistent", "--prompt", "x"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("/nonexistent/config.json"), bad.stderr)
    }

    func testVerifyBothModes() throws {
        let yes = try ponder(["verify", "--gold", "\\frac{1}{2}", "--prediction", "<think>half</think> The answer is \\boxed{0.5}"])
        XCTAssertEqual(yes.status, 0, yes.stdout + yes.stderr)
        let no = try ponder(["verify", "--gold", "7", "--prediction", "\\boxed{8}"])
        XCTAssertEqual(no.status, 1)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let input = dir.appendingPathComponent("pairs.jsonl")
        try "{\"gold\": \"42\", \"prediction\": \"#### 42\"}\n{\"gold\": \"3\", \"prediction\": \"\\\\boxed{4}\"}\n".write(
            to: input, atomically: true, encoding: .utf8)
        let batch = try ponder(["verify", "--input", input.path, "--output", dir.appendingPathComponent("out.jsonl").path])
        XCTAssertEqual(batch.status, 0, batch.stderr)
        let lines = try String(contentsOf: dir.appendingPathComponent("out.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let verdicts = try lines.map { (try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["verdict"] as? String }
        XCTAssertEqual(verdicts, ["equivalent", "notEquivalent"], "\(lines)")
        // The two extraction modes: an unmarked final answer counts only in lenient mode.
        let unmarked = ["verify", "--gold", "9", "--prediction", "Adding them up. Answer $9$"]
        let strict = try ponder(unmarked)
        XCTAssertEqual(strict.status, 1, strict.stdout + strict.stderr)
        XCTAssertFalse(strict.stdout.hasPrefix("equivalent"), strict.stdout)
        let lenient = try ponder(unmarked + ["--mode", "lenient"])
        XCTAssertEqual(lenient.status, 0, lenient.stdout + lenient.stderr)
        XCTAssertTrue(lenient.stdout.hasPrefix("equivalent"), lenient.stdout)
        try "{\"gold\": \"1\"}\nnot json\n".write(to: input, atomically: true, encoding: .utf8)
        let broken = try ponder(["verify", "--input", input.path])
        XCTAssertNotEqual(broken.status, 0)
        XCTAssertTrue((broken.stdout + broken.stderr).contains("pairs.jsonl:"), broken.stderr)
    }

    /// SIGKILL a pretraining run mid-way, resume it, and get exactly the weights of an uninterrupted run.
    func testPretrainSurvivesSIGKILL() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try (0..<200).map { "Question \($0): what is \($0) + 4? The answer is \($0 + 4)." }.joined(separator: "\n\n").write(
            to: corpus, atomically: true, encoding: .utf8)
        func args(_ run: String) -> [String] {
            [
                "pretrain", "--model", Self.fixtureModel.path, "--from-scratch", "--data", corpus.path, "--run",
                dir.appendingPathComponent(run).path,
                "--steps", "40", "--save-every", "3", "--batch-size", "4", "--context-length", "48", "--seed", "5", "--learning-rate",
                "0.002",
            ]
        }
        let straight = try ponder(args("straight"))
        XCTAssertEqual(straight.status, 0, straight.stderr)
        // Kill once a checkpoint exists (so the resume below really starts from the middle), wherever in the step
        // cycle that happens to be.
        let (p, _, _) = try launch(args("killed"))
        let metrics = dir.appendingPathComponent("killed/metrics.jsonl")
        let checkpoints = dir.appendingPathComponent("killed/checkpoints").path
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []
            if names.contains(where: { $0.hasPrefix("step-") }) { break }
            usleep(5_000)
        }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        // The kill landed mid-run, after at least one checkpoint: the resume below really starts from the middle.
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("killed/checkpoints").path)
            .compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }
        XCTAssertFalse(saved.isEmpty, "a checkpoint existed when the run was killed")
        XCTAssertLessThan(saved.max() ?? 40, 40, "the run was killed before its end")
        let resumed = try ponder(args("killed") + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("step 40/40") || resumed.stderr.contains("stopped at step 40"), resumed.stderr)
        let a = try Data(contentsOf: dir.appendingPathComponent("straight/checkpoints/step-40/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("killed/checkpoints/step-40/model.safetensors"))
        XCTAssertEqual(a, b, "the resumed run ends with exactly the uninterrupted weights")
        let steps = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").map {
            (try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["step"] as! Int
        }
        XCTAssertEqual(steps, Array(1...40))
    }
}

extension CLITests {
    /// Ctrl-C (SIGINT) saves a checkpoint at the current step and exits cleanly; bfloat16 training runs.
    func testInterruptSavesACheckpoint() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-int-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let corpus = dir.appendingPathComponent("corpus.txt")
        try (0..<200).map { "Question \($0): what is \($0) + 4? The answer is \($0 + 4)." }.joined(separator: "\n\n").write(
            to: corpus, atomically: true, encoding: .utf8)
        let (p, _, err) = try launch([
            "pretrain", "--model", Self.fixtureModel.path, "--from-scratch", "--data", corpus.path, "--run",
            dir.appendingPathComponent("run").path,
            "--steps", "100000", "--save-every", "100000", "--batch-size", "2", "--context-length", "32", "--dtype", "bfloat16",
        ])
        let metrics = dir.appendingPathComponent("run/metrics.jsonl")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, ((try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0) < 3 {
            usleep(5_000)
        }
        kill(p.processIdentifier, SIGINT)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, stderr)
        let logged = try String(contentsOf: metrics, encoding: .utf8).split(separator: "\n").count
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("run/checkpoints").path)
        XCTAssertEqual(checkpoints, ["step-\(logged)"], stderr)
        let config = try String(contentsOf: dir.appendingPathComponent("run/checkpoints/step-\(logged)/config.json"), encoding: .utf8)
        XCTAssertTrue(config.contains("bfloat16"), "the checkpoint records its dtype")
    }
}

extension CLITests {
    /// `ponder demo --quick` runs end to end and writes a well-formed report, metrics and results.
    func testDemoQuick() throws {
        let model = Self.repository.appendingPathComponent("Models/ponder-tiny-base")
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-demo-\(UUID().uuidString)")
        let r = try ponder(["demo", "--quick", "--model", model.path, "--held-out", "8", "--steps", "3", "--run", run.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("greedy pass@1") && r.stdout.contains("format compliance"), r.stdout)
        XCTAssertTrue(r.stdout.contains("any answer format"), "the lenient grade beside the strict one: \(r.stdout)")
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertEqual(html.components(separatedBy: "<svg").count - 1, 7, "six training charts and the test-time compute chart")
        XCTAssertTrue(html.contains("after RL: self-consistency"), "the budget chart covers both models")
        XCTAssertTrue(html.contains("<polyline"), "the charts have data")
        XCTAssertTrue(html.contains("best-of-n [vote]") && html.contains("beam-search [vote]"), "reference-free search curves")
        XCTAssertTrue(html.contains("stroke-dasharray") && html.contains("[oracle, upper bound]"), "the oracle curve is a dashed upper bound")
        XCTAssertFalse(html.contains("nan") || html.contains("inf"), "no placeholder numbers")
        let lines = try String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)
        for line in lines {
            let m = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            for key in ["reward", "rewards/accuracy/mean", "rewards/format/mean", "completions/mean_length", "entropy", "step_time"] {
                XCTAssertNotNil(m[key] as? Double, key)
            }
        }
        let results =
            try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("results.json"))) as! [String: [String: Any]]
        for side in ["before", "after"] {
            for key in [
                "greedyAccuracy", "sampledAccuracy", "majorityAccuracy", "formatCompliance", "meanLength", "greedyAccuracyAnyFormat",
                "sampledAccuracyAnyFormat",
            ] {
                let v = results[side]?[key] as? Double
                XCTAssertNotNil(v, "\(side).\(key)")
                XCTAssertTrue((v ?? -1) >= 0, "\(side).\(key)")
            }
        }
    }
}
