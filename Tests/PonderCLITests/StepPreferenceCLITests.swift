import Foundation
import XCTest

/// `ponder data preferences --from mcts` on the bundled model and the arithmetic task, then `ponder dpo` on its pairs.
extension CLITests {
    /// The bundled model's training problems as the bundled PRM's recipe asks them (docs/RECIPES.md): the tagged
    /// instruction in the prompt, graded in any answer format (`--style plain`), since the base model mostly answers
    /// untagged and strict grading would value nearly every step 0.
    func testMCTSStepPairsThenDPO() throws {
        let dir = scratch("mcts-pairs")
        let raw = dir.appendingPathComponent("raw.jsonl")
        let made = try ponder(["data", "problems", "--task", "arithmetic", "--count", "4", "--seed", "1000", "--out", raw.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let problems = dir.appendingPathComponent("problems.jsonl")
        try metricLines(raw).map { o -> String in
            var o = o
            o["prompt"] = "Think in <think></think>, answer in <answer></answer>.\n\(o["prompt"] as! String)\n"
            return String(decoding: try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
        }.joined(separator: "\n").write(to: problems, atomically: true, encoding: .utf8)
        let pairs = dir.appendingPathComponent("pairs.jsonl")
        let trees = dir.appendingPathComponent("trees.jsonl")
        let margin = 0.25
        let arguments = [
            "data", "preferences", "--from", "mcts", "--model", Self.bundledModel.path, "--threads", "1", "--data", problems.path,
            "--style", "plain", "--iterations", "12", "--expansions", "3", "--rollouts", "4", "--delimiter", ", ", "--max-tokens", "48",
            "--seed", "0", "--margin", "\(margin)", "--min-visits", "1", "--max-pairs-per-problem", "3", "--out", pairs.path, "--trees",
            trees.path,
        ]
        let r = try ponder(arguments, environment: ["OMP_NUM_THREADS": "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("[4/4]"), r.stderr)
        let records = FileManager.default.fileExists(atPath: pairs.path) ? try metricLines(pairs) : []
        let forest = Dictionary(uniqueKeysWithValues: try metricLines(trees).map { ($0["id"] as! String, $0) })
        XCTAssertEqual(forest.count, 4, "one tree per problem")
        XCTAssertFalse(records.isEmpty, "the searches produced no pair: \(r.stderr)")
        var perProblem: [String: Int] = [:]
        for p in records {
            let id = p["id"] as! String
            perProblem[id, default: 0] += 1
            let (cq, rq) = (p["chosen_q"] as! Double, p["rejected_q"] as! Double)
            XCTAssertGreaterThanOrEqual(cq, rq + margin - 1e-9, "\(p)")
            XCTAssertGreaterThanOrEqual(p["chosen_visits"] as! Int, 1)
            XCTAssertGreaterThanOrEqual(p["rejected_visits"] as! Int, 1)
            XCTAssertNotEqual(p["chosen"] as! String, p["rejected"] as! String)
            // The two steps are siblings in the stored tree, with the Q and visits the pair reports.
            let tree = forest[id]!
            let nodes = tree["nodes"] as! [[String: Any]]
            let (c, j) = ((p["nodes"] as! [Int])[0], (p["nodes"] as! [Int])[1])
            XCTAssertEqual(nodes[c]["parent"] as? Int, nodes[j]["parent"] as? Int)
            XCTAssertEqual(nodes[c]["text"] as? String, p["chosen"] as? String)
            XCTAssertEqual(nodes[j]["text"] as? String, p["rejected"] as? String)
            XCTAssertEqual(nodes[c]["value"] as! Double, cq, accuracy: 1e-12)
            XCTAssertEqual(nodes[j]["value"] as! Double, rq, accuracy: 1e-12)
            XCTAssertEqual(nodes[c]["visits"] as? Int, p["chosen_visits"] as? Int)
            XCTAssertEqual(nodes[j]["visits"] as? Int, p["rejected_visits"] as? Int)
            // The prompt is the problem's prompt and the steps on the path to the parent: it ends at a step boundary.
            var path: [String] = []
            var cur = nodes[c]["parent"] as? Int
            while let k = cur, k != 0 {
                path.insert(nodes[k]["text"] as! String, at: 0)
                cur = nodes[k]["parent"] as? Int
            }
            let problemPrompt = tree["prompt"] as! String
            XCTAssertEqual(p["prompt"] as? String, problemPrompt + path.joined())
            XCTAssertEqual(p["depth"] as? Int, path.count)
            XCTAssertTrue(path.allSatisfy { $0.hasSuffix(", ") }, "\(path)")
            // A step that does not end the solution is marked so (DPO appends no end token to it).
            XCTAssertEqual(p["chosen_complete"] as? Bool, nodes[c]["isTerminal"] as? Bool)
            XCTAssertEqual(p["rejected_complete"] as? Bool, nodes[j]["isTerminal"] as? Bool)
        }
        XCTAssertTrue(perProblem.values.allSatisfy { $0 <= 3 }, "\(perProblem)")

        // Rerunning resumes: every problem is done.
        let again = try ponder(arguments, environment: ["OMP_NUM_THREADS": "1"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("0 of 4 problems to do"), again.stderr)
        XCTAssertEqual(try metricLines(pairs).count, records.count)

        // One DPO step on the pairs, with the real binary.
        let run = dir.appendingPathComponent("dpo")
        let dpo = try ponder(
            [
                "dpo", "--model", Self.bundledModel.path, "--data", pairs.path, "--run", run.path, "--steps", "1", "--batch-size", "2",
                "--precompute-ref-log-probs",
            ], environment: ["OMP_NUM_THREADS": "1"])
        XCTAssertEqual(dpo.status, 0, dpo.stderr)
        let metrics = try metricLines(run.appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(metrics.last?["step"] as? Int, 1)
        XCTAssertEqual(metrics.last?["loss"] as! Double, log(2), accuracy: 1e-4, "the first step's policy is the reference")
        XCTAssertTrue(FileManager.default.fileExists(atPath: run.appendingPathComponent("checkpoints/step-1/model.safetensors").path))
        let chat = try ponder(["dpo", "--model", Self.bundledModel.path, "--data", pairs.path, "--run", run.path, "--chat"])
        XCTAssertNotEqual(chat.status, 0)
        XCTAssertTrue(chat.stderr.contains("step-level pair") && chat.stderr.contains("--chat"), chat.stderr)
    }

    func testMCTSPairsRefuseBadSettings() throws {
        let out = scratch("mcts-bad").appendingPathComponent("pairs.jsonl").path
        let common = ["data", "preferences", "--model", Self.bundledModel.path, "--task", "arithmetic", "--count", "1", "--out", out]
        for (extra, expected) in [
            (["--iterations", "3"], "--iterations applies to --from mcts only"),
            (["--from", "mcts", "--samples", "4"], "--samples applies to --from samples only"),
            (["--from", "mcts", "--outcomes", "x.jsonl"], "--outcomes applies to --from samples only"),
            (["--from", "mcts", "--margin", "0"], "--margin 0.0"),
            (["--from", "mcts", "--expansions", "1"], "--expansions 1"),
            (["--from", "mcts", "--min-visits", "0"], "--min-visits 0"),
            (["--from", "mcts", "--delimiter", ""], "--delimiter must not be empty"),
            (["--from", "tree"], "tree"),
            (["--from", "mcts", "--chat"], "step-level pairs need text prompts"),
        ] {
            let r = try ponder(common + extra)
            XCTAssertNotEqual(r.status, 0, "\(extra)")
            XCTAssertTrue(r.stderr.contains(expected), "\(extra): \(r.stderr)")
        }
    }
}
