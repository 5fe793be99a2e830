import Foundation
import PonderServer
import Testing

/// Runs the built `ponder` executable (beside the test bundle) to its end, its output going to files so no pipe
/// fills; the wait is a termination handler, so no thread of the cooperative pool (which the in-process server
/// needs) is blocked.
func runPonder(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stdout: String, stderr: String) {
    var dir = Bundle.main.bundleURL
    if dir.pathExtension == "xctest" { dir.deleteLastPathComponent() }
    let binary = dir.appendingPathComponent("ponder")
    try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the ponder executable first")
    let logs = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: logs) }
    let outURL = logs.appendingPathComponent("stdout")
    let errURL = logs.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let out = try FileHandle(forWritingTo: outURL)
    let err = try FileHandle(forWritingTo: errURL)
    let p = Process()
    p.executableURL = binary
    p.arguments = arguments
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    p.standardOutput = out
    p.standardError = err
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        p.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try p.run() } catch { continuation.resume(throwing: error) }
    }
    try out.close()
    try err.close()
    return (
        status, try String(contentsOf: outURL, encoding: .utf8), try String(contentsOf: errURL, encoding: .utf8)
    )
}

/// `ponder sample --endpoint` and `ponder distill --endpoint` (a sequence-level teacher behind a server), run as the
/// real binary against `ponder serve` on the bundled model, compared with the same seeded run on the local model.
@Suite("ponder sample and distill --endpoint")
struct SampleEndpointTests {
    static let modelDirectory = repository.appendingPathComponent("Models/ponder-tiny-base").path
    /// Problems, samples and seed shared by the local and the remote runs.
    static let sampling = ["--task", "arithmetic", "--count", "4", "--k", "4", "--max-tokens", "48", "--temperature", "1"]

    /// Successful requests of a route, read from the server's metrics.
    func answered(_ s: RunningServer, _ route: String = "/v1/completions") -> Int {
        let prefix = "ponder_requests_total{route=\"\(route)\",status=\"200\"} "
        return s.server.metrics.text().split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) }
            ?? 0
    }

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-endpoint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func text(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

    /// The seeded local run whose kept samples the remote runs must reproduce.
    func localSample(seed: Int, out: URL) async throws -> String {
        let r = try await runPonder(["sample", "--model", Self.modelDirectory] + Self.sampling + ["--seed", "\(seed)", "--out", out.path])
        try #require(r.status == 0, "\(r.stderr)")
        let kept = try text(out)
        // The comparison means something only if the local model keeps some samples and rejects others.
        try #require(!kept.isEmpty, "the local run kept nothing; choose another seed")
        return kept
    }

    /// One seeded local run is the reference for both commands (each run of the binary costs seconds here).
    @Test func sampleAndDistillAgainstServeMatchTheLocalRunAndResume() async throws {
        let s = try await RunningServer.start(ServerConfiguration(port: 0, apiKey: "sample-key"))
        defer { Task { await s.stop() } }
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let localOut = dir.appendingPathComponent("local.jsonl")
        let kept = try await localSample(seed: 3, out: localOut)
        let endpoint = ["--endpoint", s.base + "/v1", "--api-model", "ponder-tiny-base", "--api-key-env", "PONDER_SAMPLE_KEY"]
        let key = ["PONDER_SAMPLE_KEY": "sample-key"]

        // ponder sample --endpoint
        let remoteOut = dir.appendingPathComponent("remote.jsonl")
        let sample = ["sample"] + endpoint + Self.sampling + ["--seed", "3", "--out", remoteOut.path]
        let r = try await runPonder(sample, environment: key)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("using ponder-tiny-base at \(s.base)/v1"))
        #expect(r.stderr.contains("sampled: 4/4 problems"))
        #expect(r.stdout.contains("4 problems × 4 samples"))
        // Seeded sampling on the server draws what the local engine draws: the same kept samples, the same graded
        // records (texts, token counts, verdicts) and the same stats.
        #expect(try text(remoteOut) == kept)
        let remoteProgress = URL(fileURLWithPath: remoteOut.path + ".progress.jsonl")
        #expect(try text(remoteProgress) == text(URL(fileURLWithPath: localOut.path + ".progress.jsonl")))
        #expect(try text(URL(fileURLWithPath: remoteOut.path + ".stats.json")) == text(URL(fileURLWithPath: localOut.path + ".stats.json")))
        // One request per problem: the k samples go as `n`.
        #expect(answered(s) == 4)

        // Interrupted after two problems (the progress file keeps their records, the outputs are not written yet):
        // a rerun asks the server for the other two only and ends with the same files.
        let lines = try text(remoteProgress).split(separator: "\n")
        try (lines.prefix(2).joined(separator: "\n") + "\n").write(to: remoteProgress, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(at: remoteOut)
        let resumed = try await runPonder(sample, environment: key)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("sampled: 2/4 problems"))
        #expect(answered(s) == 6)
        #expect(try text(remoteOut) == kept)

        // A wrong key is the server's 401, reported with the URL.
        let refused = try await runPonder(
            ["sample"] + endpoint + Self.sampling + ["--out", dir.appendingPathComponent("refused.jsonl").path],
            environment: ["PONDER_SAMPLE_KEY": "wrong"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("\(s.base)/v1/completions answered 401"), "\(refused.stderr)")

        // ponder distill --endpoint (sequence-level): the teacher's verified traces are the ones the same seeded local
        // sampling keeps, and the student is trained on them here.
        let run = dir.appendingPathComponent("run")
        let distill =
            ["distill"] + endpoint + [
                "--student", Self.modelDirectory, "--run", run.path, "--steps", "2", "--save-every", "2", "--batch-size", "2", "--seed",
                "3",
            ] + Self.sampling
        let d = try await runPonder(distill, environment: key)
        #expect(d.status == 0, "\(d.stderr)")
        #expect(d.stderr.contains("teacher: 4/4 problems"))
        #expect(try text(run.appendingPathComponent("teacher_traces.jsonl")) == kept)
        #expect(answered(s) == 10)
        let checkpoint = run.appendingPathComponent("student/checkpoints/step-2")
        #expect(FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("model.safetensors").path))
        #expect(try text(run.appendingPathComponent("student/metrics.jsonl")).split(separator: "\n").count == 2)
        // Rerun with --resume: the traces are read back from the progress file (no new request) and the student's
        // finished run is not repeated.
        let again = try await runPonder(distill + ["--resume"], environment: key)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(answered(s) == 10)
        #expect(try text(run.appendingPathComponent("student/metrics.jsonl")).split(separator: "\n").count == 2)
    }

    @Test func deadEndpointNamesTheURL() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.jsonl")
        // Nothing listens on port 1.
        let r = try await runPonder([
            "sample", "--endpoint", "http://127.0.0.1:1/v1", "--api-model", "ponder-tiny-base", "--task", "arithmetic", "--count", "2",
            "--k", "2", "--request-timeout", "1", "--max-retries", "0", "--out", out.path,
        ])
        #expect(r.status != 0)
        #expect(r.stderr.contains("http://127.0.0.1:1/v1/completions"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func onPolicyDistillationRefusesAnEndpointTeacher() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = dir.appendingPathComponent("run")
        let r = try await runPonder([
            "distill", "--endpoint", "http://127.0.0.1:1/v1", "--api-model", "ponder-tiny-base", "--student", Self.modelDirectory,
            "--task", "arithmetic", "--run", run.path, "--on-policy",
        ])
        #expect(r.status != 0)
        #expect(r.stderr.contains("--on-policy (token-level GKD) cannot use a teacher behind --endpoint"), "\(r.stderr)")
        #expect(r.stderr.contains("top 20 log-probabilities"))
        #expect(!FileManager.default.fileExists(atPath: run.path), "refused before anything is written")
        let both = try await runPonder([
            "distill", "--teacher", Self.modelDirectory, "--endpoint", "http://127.0.0.1:1/v1", "--api-model", "m", "--student",
            Self.modelDirectory, "--task", "arithmetic", "--run", run.path,
        ])
        #expect(both.status != 0)
        #expect(both.stderr.contains("give either --teacher DIR or --endpoint URL, not both"), "\(both.stderr)")
    }
}
