import Foundation
import XCTest

extension CLITests {
    /// Every strategy runs on the bundled model through `ponder solve`, returns an answer line, a trace and usage,
    /// and gives the same output twice with the same seed.
    func testEveryStrategySolvesOnTheBundledModel() throws {
        let model = Self.repository.appendingPathComponent("Models/ponder-tiny-base").path
        for strategy in [
            "cot", "self-consistency", "best-of-n", "confidence", "beam", "dvts", "mcts", "self-refine", "budget", "allocator",
        ] {
            let args = [
                "solve", "--model", model, "--strategy", strategy, "--n", "2", "--expansions", "2", "--iterations-per-unit", "2",
                "--rollouts", "1", "--delimiter", ", ", "--max-tokens", "48", "--token-budget", "300", "--seed", "3", "--answer", "30",
                "Compute 12+9-4+13.",
            ]
            let first = try ponder(args)
            XCTAssertEqual(first.status, 0, "\(strategy): \(first.stderr)")
            XCTAssertTrue(first.stdout.hasPrefix("answer: "), "\(strategy): \(first.stdout)")
            XCTAssertTrue(first.stdout.contains("--- trace ("), strategy)
            XCTAssertNotNil(
                first.stdout.range(
                    of: #"usage: \d+ generated, \d+ for scoring, \d+ pruned, [1-9]\d* model calls"#, options: .regularExpression),
                "\(strategy): \(first.stdout)")
            let second = try ponder(args)
            XCTAssertEqual(first.stdout, second.stdout, "\(strategy) is reproducible with a fixed seed")
        }
    }

    /// `ponder eval` writes accuracy-against-tokens results with intervals, and counts KV-cache reuse.
    func testEvalWritesTheCurve() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let data = dir.appendingPathComponent("problems.jsonl")
        let made = try ponder(["data", "problems", "--task", "arithmetic", "--count", "6", "--seed", "7", "--out", data.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try ponder([
            "eval", "--model", Self.repository.appendingPathComponent("Models/ponder-tiny-base").path, "--dataset", data.path,
            "--strategy", "cot", "self-consistency", "beam", "--budgets", "1,2", "--delimiter", ", ", "--rollouts", "1",
            "--max-tokens", "48", "--out", dir.appendingPathComponent("out").path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let curve =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("out/results.json"))) as! [String: Any]
        let points = curve["points"] as! [[String: Any]]
        XCTAssertEqual(points.count, 1 + 2 + 2, "cot once, the others at each budget")
        for p in points {
            let accuracy = p["accuracy"] as! [String: Double]
            XCTAssertTrue(
                (0...1).contains(accuracy["estimate"]!) && accuracy["lower"]! <= accuracy["estimate"]!
                    && accuracy["estimate"]! <= accuracy["upper"]!)
            XCTAssertGreaterThan(p["meanTokens"] as! Double, 0)
        }
        XCTAssertNotNil(
            r.stdout.range(of: #"served from the KV cache [1-9]\d*"#, options: .regularExpression),
            "beam search reuses cached prefixes: \(r.stdout)")
        let html = try String(contentsOf: dir.appendingPathComponent("out/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<svg") && html.contains("<polyline"))
    }
}
