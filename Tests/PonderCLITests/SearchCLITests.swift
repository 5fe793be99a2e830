import Foundation
import PonderTokenizers
import XCTest

extension CLITests {
    /// Every strategy runs on the bundled model through `ponder solve` on a question nobody gave the answer to (no
    /// `--answer`), returns an answer line, a trace and usage, and gives the same output twice with the same seed.
    func testEveryStrategySolvesOnTheBundledModel() throws {
        let model = Self.repository.appendingPathComponent("Models/ponder-tiny-base").path
        for strategy in [
            "cot", "self-consistency", "best-of-n", "weighted-majority", "confidence", "beam", "dvts", "mcts", "self-refine", "budget",
            "allocator",
        ] {
            let args = [
                "solve", "--model", model, "--strategy", strategy, "--budget", "2", "--expansions", "2", "--iterations-per-unit", "2",
                "--rollouts", "1", "--delimiter", ", ", "--max-tokens", "48", "--seed", "3", "Compute 12+9-4+13.",
            ]
            let first = try ponder(args)
            XCTAssertEqual(first.status, 0, "\(strategy): \(first.stderr)")
            XCTAssertTrue(first.stdout.hasPrefix("answer: "), "\(strategy): \(first.stdout)")
            XCTAssertTrue(first.stdout.contains("--- trace ("), strategy)
            XCTAssertNotNil(
                first.stdout.range(
                    of: #"usage: \d+ generated, \d+ for scoring, \d+ pruned, [1-9]\d* model calls"#, options: .regularExpression),
                "\(strategy): \(first.stdout)")
            XCTAssertFalse(first.stdout.contains("upper bound"), strategy)
            let second = try ponder(args)
            XCTAssertEqual(first.stdout, second.stdout, "\(strategy) is reproducible with a fixed seed")
        }
    }

    /// The judge rates with the bundled base model (no chat template) by a text prompt; the oracle needs `--answer`,
    /// grades against it and is labelled an upper bound.
    func testJudgeOnABaseModelAndTheOracleLabel() throws {
        let model = Self.repository.appendingPathComponent("Models/ponder-tiny-base").path
        let base = [
            "solve", "--model", model, "--strategy", "best-of-n", "--budget", "2", "--max-tokens", "40", "--seed", "3",
            "Compute 12+9-4+13.",
        ]
        let judged = try ponder(base + ["--scorer", "judge"])
        XCTAssertEqual(judged.status, 0, judged.stderr)
        XCTAssertNotNil(judged.stdout.range(of: #"usage: \d+ generated, [1-9]\d* for scoring"#, options: .regularExpression), judged.stdout)
        let refused = try ponder(base + ["--scorer", "oracle"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("give --answer"), refused.stderr)
        let oracle = try ponder(base + ["--scorer", "oracle", "--answer", "30"])
        XCTAssertEqual(oracle.status, 0, oracle.stderr)
        XCTAssertTrue(oracle.stdout.contains("upper bound"), oracle.stdout)
        XCTAssertNotNil(oracle.stdout.range(of: "graded against --answer: (correct|wrong)", options: .regularExpression), oracle.stdout)
    }

    /// `ponder sweep` writes accuracy-against-tokens results with intervals, and counts KV-cache reuse.
    func testSweepWritesTheCurve() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let data = dir.appendingPathComponent("problems.jsonl")
        let made = try ponder(["data", "problems", "--task", "arithmetic", "--count", "6", "--seed", "7", "--out", data.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        let r = try ponder([
            "sweep", "--model", Self.repository.appendingPathComponent("Models/ponder-tiny-base").path, "--data", data.path,
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
            XCTAssertTrue((0...1).contains(accuracy["estimate"]!))
            XCTAssertGreaterThan(p["meanTokens"] as! Double, 0)
            XCTAssertEqual(p["upperBound"] as? Bool, false, "no oracle was asked for")
        }
        // The interval is a real bootstrap interval: on 6 problems, an accuracy strictly between 0 and 1 has an interval
        // that strictly surrounds it (a degenerate [x, x] would mean no resampling happened).
        let interior = points.filter { (0.01...0.99).contains(($0["accuracy"] as! [String: Double])["estimate"]!) }
        XCTAssertFalse(interior.isEmpty, "some cell is neither all right nor all wrong: \(points)")
        for p in interior {
            let a = p["accuracy"] as! [String: Double]
            XCTAssertLessThan(a["lower"]!, a["estimate"]!)
            XCTAssertGreaterThan(a["upper"]!, a["estimate"]!)
        }
        XCTAssertNotNil(
            r.stdout.range(of: #"served from the KV cache [1-9]\d*"#, options: .regularExpression),
            "beam search reuses cached prefixes: \(r.stdout)")
        let html = try String(contentsOf: dir.appendingPathComponent("out/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<svg") && html.contains("<polyline"))
    }

    /// GSM8K's test set as published (`question`, `answer` ending `#### n`) runs through `ponder eval` end to end with
    /// `--preset gsm8k`: every problem is read, asked in the boxed style and graded; prompts longer than the bundled
    /// model's context are counted, not fatal.
    func testEvalTakesGSM8KAsPublished() throws {
        let gsm8k = Self.repository.deletingLastPathComponent().appendingPathComponent("shared/data/gsm8k/test.jsonl")
        try XCTSkipUnless(
            FileManager.default.fileExists(atPath: gsm8k.path),
            "GSM8K is read from ../shared/data/gsm8k (present in CI and the developers' checkouts, absent from a user's clone)")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-gsm8k-\(UUID().uuidString).json")
        let r = try ponder([
            "eval", "--model", Self.repository.appendingPathComponent("Models/ponder-tiny-base").path, "--data", gsm8k.path, "--preset",
            "gsm8k", "--samples", "1", "--max-tokens", "8", "--out", out.path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("evaluating 1319 gsm8k problems"), r.stderr)
        let result = try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as! [String: Any]
        let tooLong = result["tooLong"] as! Int
        XCTAssertGreaterThan(tooLong, 0, "some GSM8K questions exceed a 256-token context")
        XCTAssertLessThan(tooLong, 1319, "most were asked")
        XCTAssertTrue(r.stdout.contains("\(tooLong) of 1319 prompts do not fit"), r.stdout)
        let examples = result["examples"] as! [[String: Any]]
        XCTAssertTrue((examples.first?["prompt"] as? String)?.hasPrefix("A robe takes 2 bolts") == true, "\(examples.first ?? [:])")
        // The same file without the preset is refused with the file, line and missing field named.
        let plain = try ponder([
            "eval", "--model", Self.repository.appendingPathComponent("Models/ponder-tiny-base").path, "--data", gsm8k.path,
        ])
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertTrue(plain.stderr.contains("test.jsonl:1: field \"prompt\" is missing"), plain.stderr)
    }

    /// Every GRPO knob is a flag; `--print-config` prints the effective configuration, `--config` reads it back, and
    /// flags typed on the command line win over the file.
    func testConfigurationIsTheCommandLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let base = ["grpo", "--model", Self.fixtureModel.path, "--task", "arithmetic", "--run", dir.appendingPathComponent("run").path]
        let first = try ponder(
            base + [
                "--print-config", "--top-p", "0.9", "--top-k", "5", "--overlong-buffer", "16", "--overlong-penalty", "0.5", "--beta",
                "0.04",
                "--reward-weights", "1", "0.5", "--dynamic-sampling", "--no-use-bias-correction-kl", "--learning-rate", "1e-6",
            ])
        XCTAssertEqual(first.status, 0, first.stderr)
        let printed = try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(printed["top_p"] as? Double, 0.9)
        XCTAssertEqual(printed["top_k"] as? Int, 5)
        XCTAssertEqual(printed["overlong_buffer"] as? Int, 16)
        XCTAssertEqual(printed["overlong_penalty"] as? Double, 0.5)
        XCTAssertEqual(printed["reward_weights"] as? [Double], [1, 0.5])
        XCTAssertEqual(printed["dynamic_sampling"] as? Bool, true)
        XCTAssertEqual(printed["use_bias_correction_kl"] as? Bool, false)
        XCTAssertEqual(printed["learning_rate"] as? Double, 1e-6)
        XCTAssertFalse(first.stderr.contains("warning"), first.stderr)
        let file = dir.appendingPathComponent("config.json")
        try first.stdout.write(to: file, atomically: true, encoding: .utf8)
        let second = try ponder(base + ["--config", file.path, "--beta", "0.1", "--print-config"])
        XCTAssertEqual(second.status, 0, second.stderr)
        var reread = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(reread["beta"] as? Double, 0.1, "the typed flag wins over the file")
        reread["beta"] = 0.04
        XCTAssertEqual(NSDictionary(dictionary: reread), NSDictionary(dictionary: printed), "everything else round-trips")
        // RL defaults are TRL's; a pretraining-sized rate is warned about.
        let defaults = try ponder(base + ["--print-config"])
        let resolved = try JSONSerialization.jsonObject(with: Data(defaults.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(resolved["learning_rate"] as? Double, 1e-6)
        XCTAssertEqual(resolved["beta2"] as? Double, 0.999)
        let hot = try ponder(base + ["--print-config", "--learning-rate", "3e-4"])
        XCTAssertTrue(hot.stderr.contains("warning: --learning-rate 0.0003"), hot.stderr)
        try "{\"num_generationz\": 3}".write(to: file, atomically: true, encoding: .utf8)
        let bad = try ponder(base + ["--config", file.path, "--print-config"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("num-generationz"), bad.stderr)
    }
}

extension CLITests {
    /// `ponder template` prints exactly what transformers' `apply_chat_template` renders for cases of each of the seven
    /// real templates in the committed fixture (templates read from ../shared: per template the first case, the first
    /// with template arguments, and every raising one; the library tests cover all cases), and exits non-zero with the
    /// template's message when it raises.
    func testTemplateCommandMatchesTransformers() throws {
        let templates = Self.repository.deletingLastPathComponent().appendingPathComponent("shared/data/chat-templates")
        try XCTSkipUnless(
            FileManager.default.fileExists(atPath: templates.path),
            "needs ../shared/data/chat-templates (third-party templates, not in the repository)")
        let files = [
            "qwen2.5-instruct": "qwen2.5-instruct.json", "qwen3": "qwen3.json", "deepseek-r1-distill": "deepseek-r1-distill-qwen-32b.json",
            "llama-3.2-instruct": "llama-3.2-instruct.json", "mistral-nemo-instruct-2407": "mistral-nemo-instruct-2407.json",
            "phi-3.5-mini-instruct": "phi-3.5-mini-instruct.json", "gemma-2-it": "gemma-2-it.json",
        ]
        // Parsed with member order kept: templates print tool schemas in the order given.
        let fixture = try JinjaValue.parse(
            json: String(
                contentsOf: Self.repository.appendingPathComponent("Tests/PonderTokenizersTests/Fixtures/chat_template_renders.json"),
                encoding: .utf8))
        guard case .int(let epoch)? = fixture["source_date_epoch"], case .object(let all)? = fixture["templates"] else {
            return XCTFail("unexpected fixture layout")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-template-\(UUID().uuidString)")
        var checked = 0
        var raised = 0
        for (name, cases) in all {
            let shipped =
                try JSONSerialization.jsonObject(with: Data(contentsOf: templates.appendingPathComponent(files[name]!))) as! [String: Any]
            let model = dir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: model, withIntermediateDirectories: true)
            var config: [String: Any] = ["chat_template": shipped["chat_template"]!]
            for key in ["bos_token", "eos_token"] { if let t = shipped[key] as? String { config[key] = t } }
            try JSONSerialization.data(withJSONObject: config).write(to: model.appendingPathComponent("tokenizer_config.json"))
            guard case .array(let list) = cases else { return XCTFail(name) }
            let withArguments = list.first { if case .object(let e)? = $0["extra"] { !e.isEmpty } else { false } }
            let chosen = [list[0]] + (withArguments.map { [$0] } ?? []) + list.filter { $0["error"] != nil }
            for c in chosen {
                let messages = model.appendingPathComponent("messages.json")
                try Self.json(c["messages"]!).write(to: messages, atomically: true, encoding: .utf8)
                var args = ["template", "--model", model.path, "--messages", messages.path]
                if c["add_generation_prompt"] == .bool(true) { args.append("--add-generation-prompt") }
                if case .object(let extra)? = c["extra"], !extra.isEmpty { args += ["--template-kwargs", Self.json(c["extra"]!)] }
                let r = try ponder(args, environment: ["SOURCE_DATE_EPOCH": "\(epoch)"])
                let label = "\(name)/\(c["name"].map(Self.json) ?? "?")"
                if case .string(let expected)? = c["expected"] {
                    XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
                    XCTAssertEqual(r.stdout, expected, label)
                    checked += 1
                } else {
                    XCTAssertNotEqual(r.status, 0, label)
                    if case .string(let message)? = c["error"]?["message"] {
                        XCTAssertTrue(r.stderr.contains(message), "\(label): \(r.stderr)")
                    }
                    raised += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 7 + 3, "each template, some with arguments")
        XCTAssertGreaterThan(raised, 0)
        // `ponder tokenize` prints ids and pieces.
        let t = try ponder(["tokenize", "--model", Self.fixtureModel.path, "hi there"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let lines = t.stdout.split(separator: "\n")
        let count = Int(lines[0].split(separator: " ")[0])!
        XCTAssertEqual(lines.count, 2 + count)
        XCTAssertTrue(lines[1].hasPrefix("ids: "), t.stdout)
    }

    /// A JSON value as text, members in order.
    static func json(_ v: JinjaValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return "\(i)"
        case .double(let d): return "\(d)"
        case .string(let s):
            return String(decoding: try! JSONSerialization.data(withJSONObject: s, options: .fragmentsAllowed), as: UTF8.self)
        case .array(let a): return "[" + a.map(json).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { json(.string($0.0)) + ": " + json($0.1) }.joined(separator: ", ") + "}"
        }
    }
}

extension CLITests {
    /// `ponder grpo --reward-command` trains with an external scorer and logs its reward like a built-in one.
    func testGRPOTakesAnExternalRewardCommand() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-reward-\(UUID().uuidString)")
        let r = try ponder([
            "grpo", "--model", Self.fixtureModel.path, "--task", "arithmetic", "--count", "8", "--run", dir.path, "--steps", "2",
            "--num-generations", "2", "--prompts-per-step", "2", "--max-completion-length", "4", "--reward", "format",
            "--reward-command", #"while read -r l; do echo '{"reward": 0.25}'; done"#, "--reward-weights", "1", "2",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = try String(contentsOf: dir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["rewards/command/mean"] as? Double, 0.25)
        XCTAssertNotNil(first["rewards/format/mean"] as? Double)
        let bad = try ponder([
            "grpo", "--model", Self.fixtureModel.path, "--task", "arithmetic", "--run", dir.path, "--reward", "acuracy",
        ])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown reward \"acuracy\""), bad.stderr)
    }
}

extension CLITests {
    /// Code problems from a data set (`--tests-field`) train with the code pass-rate reward through `ponder grpo`.
    func testGRPOOnCodeProblems() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-code-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let data = dir.appendingPathComponent("code.jsonl")
        try #"{"prompt": "Write f(x) returning 2x.", "tests": ["assert f(2) == 4"]}"#.write(to: data, atomically: true, encoding: .utf8)
        let r = try ponder([
            "grpo", "--model", Self.fixtureModel.path, "--data", data.path, "--tests-field", "tests", "--run",
            dir.appendingPathComponent("run").path,
            "--steps", "1", "--num-generations", "2", "--prompts-per-step", "1", "--max-completion-length", "4", "--reward", "code",
            "format",
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        let line = try String(contentsOf: dir.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")[0]
        let m = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual(m["rewards/code/mean"] as? Double, 0, "a random model writes no program")
    }
}
