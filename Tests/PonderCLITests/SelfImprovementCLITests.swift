import Foundation
import XCTest

/// `ponder dpo`, `sample`, `distill`, `star` and `recipe` end to end on tiny models (seconds each; the recipe test
/// under a minute).
extension CLITests {
    static let bundledModel = repository.appendingPathComponent("Models/ponder-tiny-base")

    func scratch(_ name: String) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    func metricLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testDPOCommand() throws {
        let dir = scratch("dpo")
        let data = dir.appendingPathComponent("prefs.jsonl")
        try (0..<6).map { "{\"prompt\": \"Question \($0):\", \"chosen\": \" \($0 + 1)\", \"rejected\": \" no\"}" }.joined(separator: "\n")
            .write(to: data, atomically: true, encoding: .utf8)
        let run = dir.appendingPathComponent("run")
        let common = [
            "dpo", "--model", Self.fixtureModel.path, "--data", data.path, "--run", run.path, "--batch-size", "2", "--learning-rate",
            "1e-3",
        ]
        let r = try ponder(common + ["--steps", "2", "--precompute-ref-log-probs"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let resumed = try ponder(common + ["--steps", "3", "--precompute-ref-log-probs", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let lines = try metricLines(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(lines.map { $0["step"] as! Int }, [1, 2, 3])
        for key in ["loss", "rewards/chosen", "rewards/rejected", "rewards/accuracies", "rewards/margins", "logps/chosen"] {
            XCTAssertNotNil(lines.last![key] as? Double, key)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints/step-3/model.safetensors").path))
        // A reference model (the default: the initial policy) instead of precomputed log-probabilities.
        let withReference = try ponder(
            [
                "dpo", "--model", Self.fixtureModel.path, "--data", data.path, "--run", dir.appendingPathComponent("run2").path, "--steps",
                "1",
                "--loss-type", "ipo",
            ])
        XCTAssertEqual(withReference.status, 0, withReference.stderr)
        let bad = try ponder(common + ["--label-smoothing", "0.1"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("labelSmoothing") && bad.stderr.contains("robust"), bad.stderr)
    }

    func testSampleCommandWritesStatsAndResumes() throws {
        let out = scratch("sample").appendingPathComponent("sft.jsonl")
        let args = [
            "sample", "--model", Self.bundledModel.path, "--task", "arithmetic", "--count", "6", "--k", "3", "--max-tokens", "60", "--out",
            out.path,
        ]
        let r = try ponder(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("sampled: 6/6 problems"), r.stderr)
        XCTAssertTrue(r.stdout.contains("pass rate"), r.stdout)
        let stats =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out.path + ".stats.json"))) as! [String: Any]
        XCTAssertEqual(stats["samples"] as? Int, 18)
        let kept = stats["kept"] as! Int
        let sft = try String(contentsOf: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(sft.count, kept)
        // A rerun finds every problem done and samples nothing.
        let again = try ponder(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.hasPrefix("loaded") && again.stderr.contains("sampled: 6/6 problems"), again.stderr)
        XCTAssertFalse(again.stderr.contains("sampled: 0/6"), "nothing was left to sample")
        XCTAssertEqual(try String(contentsOf: out, encoding: .utf8).split(separator: "\n"), sft)
    }

    func testDistillCommand() throws {
        let run = scratch("distill")
        let r = try ponder([
            "distill", "--teacher", Self.bundledModel.path, "--student", Self.bundledModel.path, "--task", "arithmetic", "--count", "6",
            "--k", "3", "--max-tokens", "60", "--run", run.path, "--on-policy", "--lmbda", "1", "--steps", "2", "--batch-size", "2",
            "--max-new-tokens", "24",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try metricLines(run.appendingPathComponent("student/metrics.jsonl"))
        XCTAssertEqual(lines.map { $0["on_policy"] as! Double }, [1, 1])
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("teacher_traces.jsonl").path))
        let sequence = try ponder([
            "distill", "--teacher", Self.bundledModel.path, "--student", Self.bundledModel.path, "--task", "arithmetic", "--count", "6",
            "--k", "3", "--max-tokens", "60", "--run", scratch("distill-seq").path, "--steps", "2", "--batch-size", "2",
        ])
        XCTAssertEqual(sequence.status, 0, sequence.stderr)
        // Token-level distillation needs one tokenizer: the refusal names both models.
        let mismatch = try ponder([
            "distill", "--teacher", Self.bundledModel.path, "--student", Self.fixtureModel.path, "--task", "arithmetic", "--count", "2",
            "--run", scratch("distill-bad").path, "--on-policy",
        ])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stderr.contains("ponder-tiny-base") && mismatch.stderr.contains("tiny-qwen3"), mismatch.stderr)
    }

    func testStarCommand() throws {
        let run = scratch("star")
        let args = [
            "star", "--model", Self.bundledModel.path, "--task", "arithmetic", "--count", "8", "--run", run.path, "--iterations", "2",
            "--steps", "2", "--k", "2", "--max-tokens", "60", "--min-improvement=-1",
        ]
        let r = try ponder(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try metricLines(run.appendingPathComponent("star.jsonl"))
        XCTAssertEqual(rows.map { $0["iteration"] as! Int }, [1, 2])
        for row in rows {
            XCTAssertNotNil(row["train_accuracy"] as? Double)
            XCTAssertEqual(row["examples"] as? Int, (row["rationales"] as! Int) + (row["rationalisations"] as! Int))
        }
        // The second iteration fine-tunes the original model for 20% more steps (2 × 1.2, rounded).
        XCTAssertTrue((rows[1]["model"] as? String ?? "").hasSuffix("iter-2/sft/checkpoints/step-2"), "\(rows[1])")
        // Rerunning finds every stage done.
        let again = try ponder(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("step 1/"), "no training step reran")
    }

    func testRecipeR1Quick() throws {
        let run = scratch("recipe")
        let args = [
            "recipe", "r1", "--quick", "--model", Self.bundledModel.path, "--run", run.path, "--held-out", "4", "--rl-steps", "2",
            "--sft-steps", "3",
        ]
        let r = try ponder(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        for stage in ["base", "cold-start SFT", "GRPO 1", "rejection-sampled SFT", "GRPO 2"] {
            XCTAssertTrue(r.stdout.contains(stage), stage)
        }
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("rejection-sampled SFT") && html.contains("<polyline"), "the report covers every stage with charts")
        XCTAssertFalse(html.contains("nan") || html.contains("inf"))
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("results.json"))) as! [String: Any]
        let rows = results["results"] as! [[String: Any]]
        XCTAssertEqual(rows.count, 10, "five stages × easy and hard")
        XCTAssertEqual(Set(rows.map { $0["split"] as! String }), ["easy", "hard"])
        for stage in ["1-cold-start", "2-grpo", "4-sft", "5-grpo"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("\(stage)/metrics.jsonl").path), stage)
        }
        // Every stage is finished: a rerun reads them back and prints the same table.
        let again = try ponder(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout.split(separator: "\n").prefix(11), r.stdout.split(separator: "\n").prefix(11))
    }
}
