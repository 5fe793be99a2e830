import Foundation
import PonderCore
import Testing

@testable import PonderVerifiers

/// Break-out tests: each tries to escape one limit and asserts it held. Serialized so process
/// counts and timings are not disturbed by other sandbox tests.
@Suite(.serialized) struct SandboxTests {
    static let isRoot = getuid() == 0

    /// The sealed sandbox (the tests require bubblewrap: `scripts/test` installs it).
    func sandbox(_ limits: SandboxLimits = SandboxLimits(wallSeconds: 5, cpuSeconds: 5)) async throws -> CodeSandbox {
        try await CodeSandbox.make(limits: limits)
    }

    @Test func runsProgramWithStdinAndExitStatus() async throws {
        let s = try await sandbox()
        let r = try await s.run("import sys\nx = int(sys.stdin.read())\nprint(x * 2)\nsys.exit(3)", stdin: "21\n")
        #expect(r.standardOutput == "42\n")
        #expect(r.termination == .exited(3))
    }

    @Test func sealedIsolationIsDetectedAndWeakerModesNeedAnOptIn() async throws {
        let iso = await CodeSandbox.detectIsolation()
        #expect(iso.sealed && iso.network && iso.pids && iso.privateTmp, "\(iso)")
        let weaker = await CodeSandbox.detectWeakerIsolation()
        #expect(!weaker.sealed)
        if !Self.isRoot { #expect(!weaker.unprivilegedUser && !weaker.network) }
        // Opting in changes nothing where sealing works.
        #expect(try await CodeSandbox.make(allowWeakerIsolation: true).isolation.sealed)
    }

    @Test func cannotOpenNetworkConnections() async throws {
        let s = try await sandbox()
        try #require(s.isolation.network, "network namespace unavailable here: \(s.isolation)")
        let program = """
            import socket
            results = []
            for host, port in [("1.1.1.1", 53), ("8.8.8.8", 443), ("127.0.0.1", 22)]:
                try:
                    socket.create_connection((host, port), timeout=1)
                    results.append("CONNECTED")
                except OSError as e:
                    results.append("BLOCKED")
            print(" ".join(results))
            """
        let r = try await s.run(program)
        #expect(r.standardOutput.trimmedText() == "BLOCKED BLOCKED BLOCKED", "\(r)")
    }

    @Test func forkBombIsContained() async throws {
        let s = try await sandbox(SandboxLimits(wallSeconds: 5, cpuSeconds: 5, maxProcesses: 32))
        let token = "ponder-token-\(UUID().uuidString)"
        // Each child replaces itself with a sleeper whose command line carries the token, so the host can find
        // it by that (PIDs printed inside a PID namespace mean nothing outside it).
        let program = """
            import os, sys
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "\(token)"])
                    n += 1
            except OSError:
                print("LIMIT", n, flush=True)
                import time
                time.sleep(1)  # the children outlive the loop for a moment, so the host can see them
            """
        let run = Task { try await s.run(program) }
        let seen = await Self.waitForProcess(withArgument: token, seconds: 4)
        let r = try await run.value
        #expect(seen, "no child with the token was ever seen, so the check below would prove nothing")
        #expect(r.standardOutput.hasPrefix("LIMIT"), "\(r)")
        if s.isolation.unprivilegedUser {
            let n =
                Int(r.standardOutput.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "")
                ?? 999
            #expect(n < 32)
        }
        #expect(r.wallSeconds < 5)
        // The sleeping children died with the sandbox.
        #expect(await Self.remaining(withArgument: token, within: 3).isEmpty, "children outlived the run: \(s.isolation)")
        Self.killProcesses(withArgument: token)
    }

    @Test func cannotAllocateTenGigabytes() async throws {
        let s = try await sandbox()
        let r = try await s.run(
            "try:\n    b = bytearray(10 * 1024**3)\n    print('ALLOCATED')\nexcept MemoryError:\n    print('MEMORY LIMIT')"
        )
        #expect(r.standardOutput.trimmedText() == "MEMORY LIMIT", "\(r)")
    }

    @Test func cannotWriteOutsideItsDirectory() async throws {
        let s = try await sandbox()
        try #require(s.isolation.unprivilegedUser, "privilege drop unavailable here: \(s.isolation)")
        let fm = FileManager.default
        let outside = fm.temporaryDirectory.appendingPathComponent("ponder-outside-\(UUID().uuidString)")
        try fm.createDirectory(at: outside, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        defer { try? fm.removeItem(at: outside) }
        let escape = "/tmp/ponder-escape-\(UUID().uuidString)"
        let hostParentFile = fm.temporaryDirectory.appendingPathComponent("pwned").path
        let existedBefore = fm.fileExists(atPath: hostParentFile)
        let program = """
            import os
            out = []
            for path in ["\(outside.path)/pwned", "/work/pwned", "/etc/pwned", "../pwned", "\(escape)", "own.txt"]:
                try:
                    with open(path, "w") as f:
                        f.write("x")
                    out.append("WROTE")
                except OSError:
                    out.append("DENIED")
            print(" ".join(out))
            """
        let r = try await s.run(program)
        // Root-owned directories refuse the write. `..` and /tmp are world-writable, but with a private
        // tmpfs the writes land in the sandbox's throwaway /tmp and leave nothing outside.
        let words = r.standardOutput.trimmedText().split(separator: " ")
        #expect(words.count == 6 && words.prefix(3).allSatisfy { $0 == "DENIED" } && words.last == "WROTE", "\(r)")
        #expect(!fm.fileExists(atPath: outside.appendingPathComponent("pwned").path))
        #expect(!fm.fileExists(atPath: "/work/pwned") && !fm.fileExists(atPath: "/etc/pwned"))
        // Checked on the host whatever the isolation: a mode without a private /tmp fails here, as it should.
        #expect(!fm.fileExists(atPath: escape), "a write to /tmp reached the host: \(s.isolation)")
        #expect(fm.fileExists(atPath: hostParentFile) == existedBefore, "a write to .. reached the host: \(s.isolation)")
        try? fm.removeItem(atPath: escape)
    }

    /// A detached (`setsid`) child that sleeps forever, and the program itself sleeping forever: both must be gone
    /// after the wall-clock limit.
    func sleepForever(_ s: CodeSandbox) async throws {
        let token = "ponder-token-\(UUID().uuidString)"
        let program = """
            import os, sys, time
            if os.fork() == 0:
                os.setsid()
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(1000)", "\(token)"])
            time.sleep(1000)
            """
        let run = Task { try await s.run(program) }
        let seen = await Self.waitForProcess(withArgument: token, seconds: 2)
        let r = try await run.value
        defer { Self.killProcesses(withArgument: token) }
        #expect(seen, "the detached child was never seen, so the check below would prove nothing")
        #expect(r.termination == .timedOut)
        #expect(r.wallSeconds < 3)
        #expect(await Self.remaining(withArgument: token, within: 3).isEmpty, "a detached child outlived the run: \(s.isolation)")
    }

    @Test func sleepForeverIsKilledAtTheWallClockLimit() async throws {
        let limits = SandboxLimits(wallSeconds: 1, cpuSeconds: 5)
        let s = try await sandbox(limits)
        try await sleepForever(s)
        // Without a PID namespace nothing kills a child that left the process group: a known gap of the weaker modes
        // (only the process-group kill applies), asserted here so it shows.
        for isolation in [SandboxIsolation.limitsOnly] where isolation != s.isolation {
            await withKnownIssue("without a PID namespace a setsid() child outlives the run") {
                try await sleepForever(CodeSandbox(limits: limits, isolation: isolation))
            }
        }
    }

    @Test func busyLoopHitsTheCPULimit() async throws {
        let s = try await sandbox(SandboxLimits(wallSeconds: 6, cpuSeconds: 1))
        let r = try await s.run("while True:\n    pass")
        #expect(r.termination == .signaled(SIGXCPU) || r.termination == .signaled(SIGKILL), "\(r)")
        #expect(r.wallSeconds < 4)
    }

    @Test func outputIsCapped() async throws {
        let s = try await sandbox(SandboxLimits(wallSeconds: 5, cpuSeconds: 5, outputBytes: 100_000))
        let r = try await s.run("import sys\nfor _ in range(1000):\n    sys.stdout.write('x' * 10000)")
        #expect(r.outputTruncated)
        #expect(r.standardOutput.utf8.count <= 100_000)
        #expect(!r.succeeded)
    }

    @Test func limitsOnlyFallbackStillKillsOnTimeout() async throws {
        let s = CodeSandbox(limits: SandboxLimits(wallSeconds: 1, cpuSeconds: 5), isolation: .limitsOnly)
        let ok = try await s.run("print('hi')")
        #expect(ok.standardOutput == "hi\n")
        let r = try await s.run("import time\ntime.sleep(100)")
        #expect(r.termination == .timedOut && r.wallSeconds < 3)
    }

    @Test func poolBoundsConcurrency() async throws {
        let pool = SandboxPool(sandbox: try await sandbox(), maxConcurrent: 2)
        // Each job reports when it started and ended (the sandbox shares the host's clock).
        let jobs = (0..<6).map { i in
            (
                program: "import time\nt = time.time()\ntime.sleep(0.4)\nprint(\(i), repr(t), repr(time.time()))",
                language: "python", stdin: ""
            )
        }
        let results = try await pool.runAll(jobs)
        let rows = results.map { $0.standardOutput.split(separator: " ").map(String.init) }
        #expect(rows.map { $0.first ?? "" } == (0..<6).map { "\($0)" }, "results in the order of the jobs")
        let spans = rows.compactMap { row -> (Double, Double)? in
            guard row.count == 3, let a = Double(row[1]), let b = Double(row[2].trimmedText()) else { return nil }
            return (a, b)
        }
        try #require(spans.count == 6, "\(results)")
        // The most jobs running at any instant: exactly the bound, not fewer (a serial pool) nor more.
        var events: [(time: Double, step: Int)] = []
        for (a, b) in spans { events += [(a, 1), (b, -1)] }
        events.sort { x, y in x.time < y.time || (x.time == y.time && x.step < y.step) }
        var running = 0
        var most = 0
        for (_, step) in events {
            running += step
            most = max(most, running)
        }
        #expect(most == 2, "\(spans)")
        #expect(await pool.inFlight == 0)
    }

    @Test func largeUnreadStandardInputDoesNotBlock() async throws {
        let s = try await sandbox()
        let input = String(repeating: "0123456789abcdef\n", count: 1 << 19)  // 8 MiB the program never reads
        let r = try await Self.within(30) { try await s.run("print('ok')", stdin: input) }
        let result = try #require(r, "the run blocked on its unread standard input")
        #expect(result.standardOutput == "ok\n" && result.termination == .exited(0), "\(result)")
        // And a program that reads it all sees every byte.
        let all = try await s.run("import sys\nprint(len(sys.stdin.buffer.read()))", stdin: input)
        #expect(all.standardOutput == "\(input.utf8.count)\n", "\(all)")
    }

    @Test func poolCancellationFreesTheSlotAndIsNotATimeout() async throws {
        let pool = SandboxPool(sandbox: try await sandbox(SandboxLimits(wallSeconds: 30, cpuSeconds: 30)), maxConcurrent: 1)
        let stuck = Task { try await pool.run("import time\ntime.sleep(100)") }
        // A waiter queued behind it, cancelled before it gets the slot.
        try await Task.sleep(for: .milliseconds(300))
        let waiter = Task { try await pool.run("print('should not matter')") }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await pool.inFlight == 1)
        stuck.cancel()
        waiter.cancel()
        if case .success(let r) = await stuck.result { Issue.record("a cancelled run returned \(r)") }
        _ = await waiter.result
        // The slot is free again: a new run gets it and completes.
        let after = try await Self.within(20) { try await pool.run("print('next')") }
        #expect(after?.standardOutput == "next\n")
        #expect(await pool.inFlight == 0)
    }

    @Test func poolServesWaitersInArrivalOrder() async throws {
        let pool = SandboxPool(sandbox: try await sandbox(), maxConcurrent: 1)
        // One run holds the slot; five more queue up one after another; each prints when it started.
        let first = Task { try await pool.run("import time\nprint(repr(time.time()))\ntime.sleep(0.8)") }
        try await Task.sleep(for: .milliseconds(200))
        var queued: [Task<SandboxResult, any Error>] = []
        for _ in 0..<5 {
            queued.append(Task { try await pool.run("import time\nprint(repr(time.time()))") })
            try await Task.sleep(for: .milliseconds(60))  // the next arrives after this one is waiting
        }
        var starts = [Double(try await first.value.standardOutput.trimmedText()) ?? .nan]
        for t in queued { starts.append(Double(try await t.value.standardOutput.trimmedText()) ?? .nan) }
        #expect(starts.allSatisfy { !$0.isNaN }, "\(starts)")
        #expect(starts == starts.sorted(), "runs started out of arrival order: \(starts)")
    }

    @Test func cancellationIsNotATimeout() async throws {
        let s = try await sandbox(SandboxLimits(wallSeconds: 20, cpuSeconds: 20))
        let start = ContinuousClock.now
        let run = Task { try await s.run("import time\ntime.sleep(100)") }
        try await Task.sleep(for: .milliseconds(500))
        run.cancel()
        let outcome = await run.result
        #expect(ContinuousClock.now - start < .seconds(5))
        switch outcome {
        case .success(let r): Issue.record("a cancelled run returned a result: \(r)")
        case .failure(let e): #expect(e is CancellationError, "\(e)")
        }
    }

    @Test func wrapperFailuresAreNotTheProgramsExitStatus() async throws {
        var s = try await sandbox()
        s.setupCommands = "exit 7"  // the wrapper fails before the program starts
        await #expect(throws: VerifierError.self) { try await s.run("print('never runs')") }
        // A program exiting with the same status is an ordinary result.
        s.setupCommands = ""
        let r = try await s.run("import sys\nsys.exit(7)")
        #expect(r.termination == .exited(7))
        #expect(try await s.run("import sys\nsys.exit(120)").termination == .exited(120))
    }

    @Test func codeVerifierRunsIOAndAssertionTests() async throws {
        let pool = SandboxPool(sandbox: try await sandbox(), maxConcurrent: 2)
        let verifier = CodeVerifier(pool: pool)
        let tests = CodeTests(cases: [
            .io(input: "2 3\n", expectedOutput: "5\n"), .io(input: "10 -4", expectedOutput: "6"),
            .assertion("assert add(2, 2) == 4"),
        ])
        let problem = Problem.code(id: "add", prompt: "Add two numbers.", tests: tests)
        let good =
            "<think>easy</think>\n```python\ndef add(a, b):\n    return a + b\nif __name__ == '__main__':\n    import sys\n    d = sys.stdin.read().split()\n    if d: print(add(int(d[0]), int(d[1])))\n```"
        let v = try await verifier.verify(good, against: problem)
        #expect(v.isEquivalent, "\(v)")
        let bad = good.replacingOccurrences(of: "a + b", with: "a - b")
        let w = try await verifier.verify(bad, against: problem)
        #expect(w.outcome == .notEquivalent)
        #expect(w.explanation.contains("passed 0 of 3"), "\(w)")
        let none = try await verifier.verify("<think>```python\nprint(5)\n```</think> no code", against: problem)
        #expect(none.outcome == .notEquivalent)
    }

    @Test func codeRewardsScorePassRateAndAccuracy() async throws {
        let pool = SandboxPool(sandbox: try await sandbox(), maxConcurrent: 2)
        let verifier = CodeVerifier(pool: pool)
        let tests = CodeTests(cases: [
            .io(input: "3\n", expectedOutput: "9\n"), .io(input: "-2\n", expectedOutput: "4\n"),
            .io(input: "0\n", expectedOutput: "0\n"), .assertion("assert sq(5) == 25"),
        ])
        let problem = Problem.code(id: "sq", prompt: "Square a number.", tests: tests)
        let main = "\nif __name__ == '__main__':\n    import sys\n    d = sys.stdin.read().split()\n    if d: print(sq(int(d[0])))\n```"
        let right = "```python\ndef sq(x):\n    return x * x" + main
        let partly = "```python\ndef sq(x):\n    return abs(x) * x" + main  // wrong for negatives only
        let rates = try await CodePassRateReward(verifier: verifier).rewards(for: [right, partly, "no code"], problem: problem)
        #expect(rates == [1, 0.75, 0])
        let accuracy = try await AccuracyReward(code: verifier).rewards(for: [right, partly], problem: problem)
        #expect(accuracy == [1, 0])
        #expect(try await AccuracyReward().rewards(for: [right], problem: problem) == [nil])
    }

    // MARK: Output redirection (the program must not choose what the parent reads)

    /// A root-only (0600) file outside the run directory holding a random secret.
    static func makeSecret() throws -> (path: String, secret: String, cleanup: () -> Void) {
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("ponder-secret-\(UUID().uuidString)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let secret = "SECRET-\(UUID().uuidString)"
        let path = dir.appendingPathComponent("secret.txt").path
        #expect(fm.createFile(atPath: path, contents: Data(secret.utf8), attributes: [.posixPermissions: 0o600]))
        return (path, secret, { try? fm.removeItem(at: dir) })
    }

    /// Runs `body` but gives up after `seconds`, so a hung parent fails the test instead of hanging the suite.
    static func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func outputFilesCannotBeReplacedBySymlinks() async throws {
        let (path, secret, cleanup) = try Self.makeSecret()
        defer { cleanup() }
        let s = try await sandbox()
        // Every name the program could guess for its output, plus the output descriptors themselves.
        let program = """
            import os, sys
            for name in ["stdout.txt", "stderr.txt", "stdout", "stderr", "out.txt", "err.txt"]:
                try:
                    os.unlink(name)
                except OSError:
                    pass
                os.symlink("\(path)", name)
            try:
                os.symlink("/proc/self/environ", "environ.txt")
            except OSError:
                pass
            print("done", flush=True)
            """
        let r = try await s.run(program)
        #expect(!r.standardOutput.contains(secret) && !r.standardError.contains(secret), "\(r)")
        #expect(r.standardOutput == "done\n", "\(r)")
        // The same through the verifier, whose explanation quotes standard error.
        let verifier = CodeVerifier(pool: SandboxPool(sandbox: s, maxConcurrent: 1))
        let problem = Problem.code(
            id: "leak", prompt: "", tests: CodeTests(cases: [.io(input: "", expectedOutput: "x"), .assertion("assert False")]))
        let v = try await verifier.verify("```python\n" + program + "\nimport sys\nsys.exit(1)\n```", against: problem)
        #expect(!v.explanation.contains(secret), "\(v)")
    }

    @Test func outputFilesCannotBeReplacedByFIFOs() async throws {
        let s = try await sandbox(SandboxLimits(wallSeconds: 2, cpuSeconds: 2))
        let program = """
            import os
            for name in ["stdout.txt", "stderr.txt"]:
                try:
                    os.unlink(name)
                except OSError:
                    pass
                os.mkfifo(name)
            print("done", flush=True)
            """
        let r = try await Self.within(8) { try await s.run(program) }
        let result = try #require(r, "the parent blocked on the program's FIFO")
        #expect(result.standardOutput == "done\n", "\(result)")
    }

    // MARK: Assertion tests must prove they ran

    func assertionVerdict(_ code: String, _ asserts: [String] = ["assert add(2, 3) == 5", "assert add(-1, 1) == 0"])
        async throws -> Verdict
    {
        let verifier = CodeVerifier(pool: SandboxPool(sandbox: try await sandbox(), maxConcurrent: 2))
        let problem = Problem.code(id: "add", prompt: "", tests: CodeTests(cases: asserts.map { .assertion($0) }))
        return try await verifier.verify("```python\n" + code + "\n```", against: problem)
    }

    @Test func sysExitBeforeTheAssertsDoesNotPass() async throws {
        let v = try await assertionVerdict("import sys\ndef add(a, b):\n    return 0\nsys.exit(0)")
        #expect(v.outcome == .notEquivalent, "\(v)")
        let raised = try await assertionVerdict("def add(a, b):\n    return 0\nraise SystemExit")
        #expect(raised.outcome == .notEquivalent, "\(raised)")
    }

    @Test func osExitBeforeTheAssertsDoesNotPass() async throws {
        let v = try await assertionVerdict("import os\ndef add(a, b):\n    return 0\nos._exit(0)")
        #expect(v.outcome == .notEquivalent, "\(v)")
        // Exiting from inside the function under test, or from an exit hook, is no better.
        let inside = try await assertionVerdict("import os\ndef add(a, b):\n    os._exit(0)")
        #expect(inside.outcome == .notEquivalent, "\(inside)")
    }

    @Test func alwaysEqualObjectsDoNotPass() async throws {
        let cheat = """
            class Anything:
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                def __lt__(self, other): return True
                def __gt__(self, other): return True
                def __bool__(self): return True
                def __hash__(self): return 0
                def __sub__(self, other): return self
                def __abs__(self): return self
            def add(a, b):
                return Anything()
            """
        #expect(try await assertionVerdict(cheat).outcome == .notEquivalent)
        #expect(try await assertionVerdict(cheat, ["assert abs(add(1, 2) - 3) < 1e-9"]).outcome == .notEquivalent)
        #expect(try await assertionVerdict(cheat, ["assert add(1, 2)"]).outcome == .notEquivalent)
        #expect(try await assertionVerdict(cheat, ["assert [add(1, 2)] == [3]"]).outcome == .notEquivalent)
        // A subclass of a plain type is not plain data either.
        let sub = "class I(int):\n    def __eq__(self, o): return True\ndef add(a, b):\n    return I(7)"
        #expect(try await assertionVerdict(sub).outcome == .notEquivalent)
        // Patching built-ins or the test's globals from inside the function under test does not help either.
        let patch = """
            def add(a, b):
                import builtins
                builtins.abs = lambda x: 0
                globals()["__ponder_compare"] = lambda *args: True
                return a + b + 1
            """
        #expect(try await assertionVerdict(patch, ["x = add(1, 2)\nassert abs(x - 3) < 1e-9"]).outcome == .notEquivalent)
    }

    @Test func printingAMarkerCannotForgeSuccess() async throws {
        // The program cannot know the per-run marker; printing likely-looking ones and exiting does not pass.
        let program = """
            import os, sys
            def add(a, b):
                return 0
            for line in ["PONDER-OK", "ok", "passed", "PONDER-ASSERTIONS-PASSED"]:
                print(line)
            sys.stdout.flush()
            os._exit(0)
            """
        #expect(try await assertionVerdict(program).outcome == .notEquivalent)
    }

    @Test func correctProgramsStillPassAssertionTests() async throws {
        let good = """
            import sys
            def add(a, b):
                return a + b
            if __name__ == '__main__':
                print("hello")
                sys.exit(0)
            """
        let v = try await assertionVerdict(
            good,
            [
                "assert add(2, 3) == 5", "assert add(-1, 1) == 0\nassert add(0, 0) != 1",
                "assert abs(add(0.1, 0.2) - 0.3) < 1e-9", "assert add([1], [2]) == [1, 2]", "assert add(1, 1)",
                "assert add('a', 'b') in ['ab']", "x = add(1, 2)\nassert x == 3, 'three'",
            ])
        #expect(v.isEquivalent, "\(v)")
        let verifier = CodeVerifier(pool: SandboxPool(sandbox: try await sandbox(), maxConcurrent: 2))
        let report = try await verifier.run(
            "def add(a, b):\n    return a + b", tests: CodeTests(cases: [.assertion("assert add(1, 2) == 4")]))
        #expect(report.passed == 0 && report.failures.count == 1, "\(report)")
    }

    /// PIDs of host processes with `argument` among their command-line arguments.
    static func processes(withArgument argument: String) -> [Int32] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let data = FileManager.default.contents(atPath: "/proc/\(e)/cmdline") else { return nil }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == argument } ? pid : nil
        }
    }

    /// Polls until a process with `argument` appears; `false` after `seconds`.
    static func waitForProcess(withArgument argument: String, seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if !processes(withArgument: argument).isEmpty { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// The processes with `argument` still there after waiting up to `seconds` for them to go (the kernel kills a
    /// PID namespace's processes at once, but on a loaded machine they may take a moment to exit).
    static func remaining(withArgument argument: String, within seconds: Double) async -> [Int32] {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var left = processes(withArgument: argument)
        while !left.isEmpty, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
            left = processes(withArgument: argument)
        }
        return left
    }

    /// Cleans up after a failed containment check (only processes carrying this test's own token).
    static func killProcesses(withArgument argument: String) {
        for pid in processes(withArgument: argument) { kill(pid, SIGKILL) }
    }
}
