import Foundation
import XCTest

/// The reward-model commands end to end on the bundled base model: data from its samples (resumable), a few training
/// steps, and search guided by the result with no reference answer anywhere.
final class RewardModelCLITests: XCTestCase {
    let base = CLITests.repository.appendingPathComponent("Models/ponder-tiny-base").path

    /// Runs `ponder` (beside the test bundle) and collects its status and output.
    struct Runner {
        var binary: URL {
            var dir = Bundle.main.bundleURL
            if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
            return dir.appendingPathComponent("ponder")
        }

        func ponder(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            let p = Process()
            p.executableURL = binary
            p.arguments = arguments
            let (out, err) = (Pipe(), Pipe())
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }
    }

    let cli = Runner()

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: cli.binary.path), "ponder is not built at \(cli.binary.path)")
    }

    func temporary(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-cli-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func lines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testDataTrainAndSearchWithAProcessRewardModel() throws {
        let dir = temporary("prm")
        let steps = dir.appendingPathComponent("steps.jsonl")
        let data = [
            "data", "prm-labels", "--model", base, "--task", "arithmetic", "--count", "2", "--samples", "2", "--completions-per-step", "1",
            "--delimiter", ", ", "--max-tokens", "32", "--style", "plain", "--seed", "3", "--out", steps.path,
        ]
        let first = try cli.ponder(data)
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stderr.contains("2 of 2 problems to do"), first.stderr)
        let records = try lines(steps)
        XCTAssertFalse(records.isEmpty)
        for r in records {
            let completions = r["completions"] as! [String]
            XCTAssertEqual((r["labels"] as! [Bool]).count, completions.count)
            XCTAssertEqual((r["soft_labels"] as! [Double]).count, completions.count)
        }
        let again = try cli.ponder(data)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("0 of 2 problems to do"), "a rerun resumes: \(again.stderr)")
        XCTAssertEqual(try lines(steps).count, records.count)
        // A run killed while writing the last problem: its id never reached OUT.done and a line was cut off.
        let doneURL = URL(fileURLWithPath: steps.path + ".done")
        let ids = try String(contentsOf: doneURL, encoding: .utf8).split(separator: "\n")
        try (ids.dropLast().joined(separator: "\n") + "\n").write(to: doneURL, atomically: true, encoding: .utf8)
        let handle = try FileHandle(forWritingTo: steps)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"id": "cut"#.utf8))
        try handle.close()
        let resumed = try cli.ponder(data)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("1 of 2 problems to do"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("dropped the records of an unfinished problem"), resumed.stderr)
        XCTAssertEqual(
            try lines(steps).count, records.count, "the unfinished problem is redone whole, the same seeds giving the same records")

        let run = dir.appendingPathComponent("run")
        let train = try cli.ponder([
            "train-rm", "--model", base, "--kind", "prm", "--data", steps.path, "--run", run.path, "--steps", "2", "--batch-size", "2",
            "--eval-fraction", "0",
        ])
        XCTAssertEqual(train.status, 0, train.stderr)
        let checkpoint = run.appendingPathComponent("checkpoints/step-2")
        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: checkpoint.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(config["architectures"] as? [String], ["LlamaForTokenClassification"])

        // The question has no reference answer: only the reward model guides the search.
        let solve = try cli.ponder([
            "solve", "--model", base, "--strategy", "beam", "--budget", "2", "--delimiter", ", ", "--max-tokens", "16", "--max-steps", "3",
            "--scorer",
            "prm:\(checkpoint.path)", "--step-aggregation", "min", "Compute 12+9-4+5.",
        ])
        XCTAssertEqual(solve.status, 0, solve.stderr)
        XCTAssertTrue(solve.stdout.contains("answer:"), solve.stdout)
        let wrongKind = try cli.ponder([
            "solve", "--model", base, "--strategy", "best-of-n", "--budget", "1", "--max-tokens", "8", "--scorer", "orm:\(checkpoint.path)",
            "Compute 1+2.",
        ])
        XCTAssertNotEqual(wrongKind.status, 0)
        XCTAssertTrue(wrongKind.stderr.contains("prm:"), wrongKind.stderr)
        let missing = try cli.ponder(["solve", "--model", base, "--scorer", "orm:/nonexistent", "Compute 1+2."])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("/nonexistent/config.json"), missing.stderr)
    }

    func testPreferencesThenAnOutcomeModel() throws {
        let dir = temporary("orm")
        let pairs = dir.appendingPathComponent("pairs.jsonl")
        let graded = dir.appendingPathComponent("graded.jsonl")
        let r = try cli.ponder([
            "data", "preferences", "--model", base, "--task", "arithmetic", "--count", "3", "--samples", "4", "--max-tokens", "32",
            "--style", "plain",
            "--seed", "1", "--out", pairs.path, "--outcomes", graded.path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try lines(graded).count, 12)
        for p in FileManager.default.fileExists(atPath: pairs.path) ? try lines(pairs) : [] {
            XCTAssertNotNil(p["chosen"] as? String)
            XCTAssertNotNil(p["rejected"] as? String)
        }
        let run = dir.appendingPathComponent("run")
        let train = try cli.ponder([
            "train-rm", "--model", base, "--kind", "orm", "--objective", "pointwise", "--data", graded.path, "--run", run.path, "--steps",
            "2", "--batch-size", "4", "--eval-fraction", "0.25",
        ])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("held-out (3)"), train.stderr)
        let solve = try cli.ponder([
            "solve", "--model", base, "--strategy", "best-of-n", "--budget", "2", "--max-tokens", "16", "--scorer",
            "orm:\(run.path)/checkpoints/step-2", "Compute 12+9-4+5.",
        ])
        XCTAssertEqual(solve.status, 0, solve.stderr)
        // The old spelling of `ponder data` still reaches the synthetic data.
        let problems = try cli.ponder(["data", "problems", "--count", "2", "--out", dir.appendingPathComponent("p.jsonl").path])
        XCTAssertEqual(problems.status, 0, problems.stderr)
    }
}
