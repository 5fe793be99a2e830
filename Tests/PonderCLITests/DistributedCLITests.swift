import Foundation
import Synchronization
import Torch
import XCTest

/// Data-parallel training through the real `ponder` binary: 2 ranks on loopback (one libtorch thread each) against
/// one process with the same global batch, a rank killed mid-run, and SIGKILL then resume under 2 ranks.
final class DistributedCLITests: XCTestCase {
    let cli = PonderBinary()
    var dir: URL!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: cli.binary.path), "ponder is not built at \(cli.binary.path)")
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-ddp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    var model: String { CLITests.fixtureModel.path }

    func corpus() throws -> String {
        let url = dir.appendingPathComponent("corpus.txt")
        try (0..<120).map { "Question \($0): what is \($0) + 4? The answer is \($0 + 4)." }.joined(separator: "\n\n").write(
            to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func sftData() throws -> String {
        let url = dir.appendingPathComponent("sft.jsonl")
        // Completions of different lengths: the loss is normalised by the step's tokens across ranks.
        let lines = (0..<16).map { i -> String in
            let completion = String(repeating: "\(i) plus \(i) ", count: 1 + i % 4) + "is \(2 * i)."
            return "{\"prompt\": \"Add \(i) and \(i).\", \"completion\": \"\(completion)\"}"
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Runs `arguments` with `--run dir/name`, once alone and once as 2 ranks, and checks both end with the same
    /// weights (every tensor within 1e-5) after 3 steps, and that the weights moved.
    func assertTwoRanksMatchOne(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let one = try cli.ponder(
            arguments + [
                "--run", dir.appendingPathComponent("one").path, "--threads-per-rank", "1", "--save-every", "1", "--keep-checkpoints", "3",
            ])
        XCTAssertEqual(one.status, 0, one.stderr, file: file, line: line)
        let two = try cli.ponder(
            arguments + ["--run", dir.appendingPathComponent("two").path, "--nproc-per-node", "2", "--threads-per-rank", "1"])
        XCTAssertEqual(two.status, 0, two.stderr, file: file, line: line)
        XCTAssertTrue(two.stderr.contains("[rank 1] rank 1 of 2 joined the Gloo group"), two.stderr, file: file, line: line)
        let a = try SafetensorsFloats(dir.appendingPathComponent("one/checkpoints/step-3/model.safetensors"))
        let b = try SafetensorsFloats(dir.appendingPathComponent("two/checkpoints/step-3/model.safetensors"))
        XCTAssertEqual(a.tensors.keys.sorted(), b.tensors.keys.sorted(), file: file, line: line)
        var largest = 0.0
        for (name, x) in a.tensors {
            let y = b.tensors[name]!
            XCTAssertEqual(x.count, y.count, name, file: file, line: line)
            for (u, v) in zip(x, y) { largest = max(largest, Double(abs(u - v))) }
        }
        XCTAssertLessThanOrEqual(largest, 1e-5, "largest weight difference after 3 steps", file: file, line: line)
        // Only rank 0 logs: one line per step, with the reduced metrics and the communication measured.
        let lines = try String(contentsOf: dir.appendingPathComponent("two/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, file: file, line: line)
        XCTAssertTrue(lines[0].contains("communication_bytes"), String(lines[0]), file: file, line: line)
        // The run really trained: steps 2 and 3 moved the weights well beyond the tolerance.
        let c = try SafetensorsFloats(dir.appendingPathComponent("one/checkpoints/step-1/model.safetensors"))
        let moved = a.tensors.contains { name, x in zip(x, c.tensors[name]!).contains { abs($0 - $1) > 1e-4 } }
        XCTAssertTrue(moved, "3 steps change the weights beyond the tolerance", file: file, line: line)
    }

    func testPretrainTwoRanksMatchOneProcess() throws {
        try assertTwoRanksMatchOne([
            "pretrain", "--model", model, "--from-scratch", "--data", try corpus(), "--steps", "3", "--batch-size", "4",
            "--context-length", "24", "--seed", "5", "--learning-rate", "0.002",
        ])
    }

    func testSFTTwoRanksMatchOneProcess() throws {
        // 5 examples per step split 3 + 2 across the ranks: uneven shares still give the whole step's gradient.
        try assertTwoRanksMatchOne([
            "sft", "--model", model, "--data", try sftData(), "--steps", "3", "--batch-size", "5", "--seed", "2", "--learning-rate",
            "0.002",
        ])
    }

    /// A reward with spread on a random model's bytes (the length of the JSON line, mod 7), from plain sh.
    static let lengthReward = #"while read -r line; do echo "{\"reward\": $(( ${#line} % 7 ))}"; done"#

    func grpoArguments(_ extra: [String], reward: String = lengthReward) -> [String] {
        [
            "grpo", "--model", model, "--task", "arithmetic", "--count", "32", "--steps", "3", "--num-generations", "4",
            "--prompts-per-step", "4", "--max-completion-length", "12", "--seed", "3", "--learning-rate", "0.001",
            "--reward", "repetition_penalty", "--reward-command", reward, "--loss-type", "dapo", "--chunk-rows", "3",
        ] + extra
    }

    func testGRPODAPOTwoRanksMatchOneProcess() throws {
        try assertTwoRanksMatchOne(grpoArguments(["--beta", "0"]))
    }

    func testGRPODAPOWithBetaTwoRanksMatchOneProcess() throws {
        // With the KL term, batch-scaled advantages and two optimizer steps per generation batch.
        try assertTwoRanksMatchOne(grpoArguments(["--beta", "0.04", "--scale-rewards", "batch", "--steps-per-generation", "2"]))
    }

    func testGRPODynamicSamplingTwoRanksMatchOneProcess() throws {
        // Problems whose prompt starts "Compute 1" score 0 on every completion: their groups have no spread, dynamic
        // sampling drops them and refills, deciding across ranks which groups make the batch.
        let reward =
            #"while read -r line; do case "$line" in *'"prompt":"Compute 1'*) echo '{"reward": 0}';; "#
            + #"*) echo "{\"reward\": $(( ${#line} % 7 ))}";; esac; done"#
        try assertTwoRanksMatchOne(grpoArguments(["--beta", "0", "--dynamic-sampling", "--max-refills", "2"], reward: reward))
        let lines = try String(contentsOf: dir.appendingPathComponent("one/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let dropped = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            .compactMap { $0["frac_reward_zero_std"] as? Double }
        XCTAssertTrue(dropped.contains { $0 > 0 }, "some groups were dropped and refilled: \(dropped)")
    }

    /// Killing rank 1 of a launched run stops rank 0 too, and the launcher names rank 1.
    func testKillingARankStopsTheOthers() throws {
        let (p, _, err) = try cli.launch([
            "sft", "--model", model, "--data", try sftData(), "--steps", "100000", "--batch-size", "4", "--run",
            dir.appendingPathComponent("run").path, "--nproc-per-node", "2", "--threads-per-rank", "1", "--save-every", "100000",
        ])
        try waitForSteps(2, in: dir.appendingPathComponent("run"))
        let rank1 = try XCTUnwrap(children(of: p.processIdentifier).first { environment(of: $0)["RANK"] == "1" }, "rank 1 is running")
        kill(rank1, SIGKILL)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertNotEqual(p.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("error: rank 1 failed: it was killed by signal 9"), stderr)
        XCTAssertTrue(stderr.contains("failed on rank 0: rank 1 stopped responding"), stderr)
    }

    /// Two ranks started by hand with torchrun's environment (as torchrun or Slurm would): killing rank 1 makes rank 0
    /// fail with an error naming rank 1, well within the timeout.
    func testTorchrunEnvironmentAndADeadPeer() throws {
        let port = try TCPStore.freeLoopbackPort()
        func start(_ rank: Int) throws -> (Process, Pipe, Pipe) {
            try cli.launch(
                [
                    "sft", "--model", model, "--data", try sftData(), "--steps", "100000", "--batch-size", "4", "--run",
                    dir.appendingPathComponent("run").path, "--threads-per-rank", "1", "--save-every", "100000", "--distributed-timeout",
                    "60",
                ],
                environment: [
                    "RANK": "\(rank)", "WORLD_SIZE": "2", "LOCAL_RANK": "\(rank)", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)",
                ])
        }
        let (p0, _, err0) = try start(0)
        let (p1, _, _) = try start(1)
        try waitForSteps(2, in: dir.appendingPathComponent("run"))
        let began = Date()
        kill(p1.processIdentifier, SIGKILL)
        p1.waitUntilExit()
        let stderr = String(decoding: err0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p0.waitUntilExit()
        // Exited with an error of its own, not killed by a signal (a write to the dead peer's socket once raised
        // SIGPIPE and ended rank 0 without a word).
        XCTAssertEqual(p0.terminationReason, .exit, "rank 0 ended by signal \(p0.terminationStatus): \(stderr)")
        XCTAssertNotEqual(p0.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("rank 1 stopped responding"), stderr)
        XCTAssertLessThan(Date().timeIntervalSince(began), 60, "rank 0 stopped before the collective timeout")
    }

    /// A hung rank (SIGSTOP) makes the other fail when the collective times out, naming it.
    func testHungPeerTimesOut() throws {
        let port = try TCPStore.freeLoopbackPort()
        let data = try sftData()
        func start(_ rank: Int) throws -> (Process, Pipe, Pipe) {
            try cli.launch(
                [
                    "sft", "--model", model, "--data", data, "--steps", "100000", "--batch-size", "4", "--run",
                    dir.appendingPathComponent("run").path, "--threads-per-rank", "1", "--save-every", "100000", "--distributed-timeout",
                    "5",
                ],
                environment: ["RANK": "\(rank)", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)"])
        }
        let (p0, _, err0) = try start(0)
        let (p1, _, _) = try start(1)
        defer {
            kill(p1.processIdentifier, SIGKILL)
            p1.waitUntilExit()
        }
        try waitForSteps(2, in: dir.appendingPathComponent("run"))
        kill(p1.processIdentifier, SIGSTOP)
        let stderr = String(decoding: err0.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p0.waitUntilExit()
        XCTAssertNotEqual(p0.terminationStatus, 0, stderr)
        XCTAssertTrue(stderr.contains("failed on rank 0: rank 1 stopped responding (dead or hung)"), stderr)
        XCTAssertTrue(stderr.contains("timed out"), stderr)
    }

    /// SIGKILL a 2-rank pretraining run mid-way, resume it under 2 ranks, and get exactly the weights of an
    /// uninterrupted 2-rank run.
    func testTwoRankRunSurvivesSIGKILL() throws {
        let data = try corpus()
        func args(_ run: String) -> [String] {
            [
                "pretrain", "--model", model, "--from-scratch", "--data", data, "--run", dir.appendingPathComponent(run).path, "--steps",
                "12", "--save-every", "2", "--batch-size", "4", "--context-length", "24", "--seed", "5", "--learning-rate", "0.002",
                "--nproc-per-node", "2", "--threads-per-rank", "1",
            ]
        }
        let straight = try cli.ponder(args("straight"))
        XCTAssertEqual(straight.status, 0, straight.stderr)
        let (p, _, _) = try cli.launch(args("killed"))
        try waitForSteps(5, in: dir.appendingPathComponent("killed"))
        let ranks = children(of: p.processIdentifier)
        XCTAssertEqual(ranks.count, 2, "the launcher runs two ranks")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        // The ranks notice their launcher is gone and stop.
        let deadline = Date().addingTimeInterval(20)
        while ranks.contains(where: { kill($0, 0) == 0 && !isZombie($0) }) && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(ranks.contains { kill($0, 0) == 0 && !isZombie($0) }, "the ranks stop when their launcher dies")
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("killed/checkpoints").path)
            .compactMap { $0.hasPrefix("step-") ? Int($0.dropFirst(5)) : nil }
        XCTAssertFalse(saved.isEmpty, "a checkpoint existed when the run was killed")
        XCTAssertLessThan(saved.max() ?? 12, 12, "the run was killed before its end")
        let resumed = try cli.ponder(args("killed") + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let a = try Data(contentsOf: dir.appendingPathComponent("straight/checkpoints/step-12/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("killed/checkpoints/step-12/model.safetensors"))
        XCTAssertEqual(a, b, "the resumed 2-rank run ends with exactly the uninterrupted 2-rank weights")
    }

    /// A 2-rank GRPO run stopped inside a generation batch (two optimizer steps per batch) saves each rank's share of
    /// the batch in the checkpoint; resumed under 2 ranks it ends bit-identical to an uninterrupted 2-rank run.
    func testTwoRankGRPOResumesInsideAGenerationBatch() throws {
        func args(_ run: String, steps: Int) -> [String] {
            grpoArguments(["--beta", "0.04", "--steps-per-generation", "2", "--decay", "constant", "--save-every", "1"])
                .replacingSteps(with: steps) + [
                    "--run", dir.appendingPathComponent(run).path, "--nproc-per-node", "2", "--threads-per-rank", "1",
                ]
        }
        let straight = try cli.ponder(args("straight", steps: 4))
        XCTAssertEqual(straight.status, 0, straight.stderr)
        let first = try cli.ponder(args("resumed", steps: 1))
        XCTAssertEqual(first.status, 0, first.stderr)
        let saved = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("resumed/checkpoints/step-1").path)
        XCTAssertTrue(saved.contains("grpo_batch.safetensors") && saved.contains("grpo_batch.rank-1.safetensors"), "\(saved)")
        let second = try cli.ponder(args("resumed", steps: 4) + ["--resume"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let a = try Data(contentsOf: dir.appendingPathComponent("straight/checkpoints/step-4/model.safetensors"))
        let b = try Data(contentsOf: dir.appendingPathComponent("resumed/checkpoints/step-4/model.safetensors"))
        XCTAssertEqual(a, b, "resumed inside a generation batch, the 2-rank run ends with the uninterrupted weights")
    }

    // MARK: - helpers

    func waitForSteps(_ n: Int, in run: URL, timeout: TimeInterval = 120) throws {
        let metrics = run.appendingPathComponent("metrics.jsonl")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ((try? String(contentsOf: metrics, encoding: .utf8))?.split(separator: "\n").count ?? 0) >= n { return }
            usleep(20_000)
        }
        XCTFail("\(run.path) logged fewer than \(n) steps in \(timeout) s")
    }

    /// The child processes of `pid`, whichever of its threads started them.
    func children(of pid: Int32) -> [Int32] {
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return threads.flatMap { thread in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(thread)/children", encoding: .utf8)) ?? "").split(separator: " ")
                .compactMap { Int32($0) }
        }
    }

    func environment(of pid: Int32) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return [:] }
        var out: [String: String] = [:]
        for entry in data.split(separator: 0) {
            let text = String(decoding: entry, as: UTF8.self)
            if let eq = text.firstIndex(of: "=") { out[String(text[..<eq])] = String(text[text.index(after: eq)...]) }
        }
        return out
    }

    func isZombie(_ pid: Int32) -> Bool {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }

}

/// The float32 tensors of a safetensors file, read by hand (8-byte header length, JSON header, raw data).
struct SafetensorsFloats {
    var tensors: [String: [Float]] = [:]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        let headerLength = Int(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        for (name, value) in header where name != "__metadata__" {
            let entry = value as! [String: Any]
            guard entry["dtype"] as? String == "F32" else { continue }
            let offsets = entry["data_offsets"] as! [Int]
            let bytes = data.subdata(in: (8 + headerLength + offsets[0])..<(8 + headerLength + offsets[1]))
            tensors[name] = bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
    }
}

/// The built `ponder` executable beside the test bundle, run as a child process.
struct PonderBinary {
    var binary: URL {
        var dir = Bundle.main.bundleURL
        if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("ponder")
    }

    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new } }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        return (p, out, err)
    }

    /// Runs to the end; stdout is read on another thread so neither pipe fills up.
    func ponder(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let (p, out, err) = try launch(arguments, environment: environment)
        let stdout = Mutex(Data())
        let reader = Thread { stdout.withLock { $0 = out.fileHandleForReading.readDataToEndOfFile() } }
        reader.start()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while reader.isExecuting || !reader.isFinished { usleep(1_000) }
        return (p.terminationStatus, String(decoding: stdout.withLock { $0 }, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

extension [String] {
    /// These arguments with the value after `--steps` replaced by `steps`.
    func replacingSteps(with steps: Int) -> [String] {
        var out = self
        if let i = out.firstIndex(of: "--steps") { out[i + 1] = "\(steps)" }
        return out
    }
}
