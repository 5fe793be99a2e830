import PonderCore

/// Verifies code completions: takes the last fenced code block after the reasoning and runs it
/// against the problem's tests in a ``SandboxPool``.
///
/// Input/output tests compare standard output line by line. Assertion tests in Python run under a harness
/// (``LanguageRunner/AssertionStyle/pythonHarness``): the program cannot skip them by exiting early, and
/// comparisons and truth tests accept only plain built-in data, so the program's own objects cannot answer
/// "equal" for it. A test passes only when the harness prints a random per-run marker after the test's
/// last statement.
public struct CodeVerifier: Verifier {
    /// Where programs run.
    public var pool: SandboxPool
    /// How reasoning is split from the answer; code inside reasoning is ignored.
    public var thinkParser: ThinkParser

    /// Makes a verifier over a pool.
    public init(pool: SandboxPool, thinkParser: ThinkParser = ThinkParser()) {
        self.pool = pool
        self.thinkParser = thinkParser
    }

    /// The outcome of running a program against a test suite.
    public struct Report: Sendable, Hashable {
        /// Tests passed.
        public var passed: Int
        /// Tests run.
        public var total: Int
        /// One line per failed test saying why it failed.
        public var failures: [String]
        /// `passed / total`, 0 for an empty suite.
        public var passRate: Double { total == 0 ? 0 : Double(passed) / Double(total) }
    }

    /// `equivalent` when every test passes; `notEquivalent` otherwise (or when there is no code).
    public func verify(_ completion: String, against problem: Problem) async throws -> Verdict {
        guard case .code(let tests) = problem.kind else {
            throw VerifierError.wrongProblemKind(problemID: problem.id, expected: "code")
        }
        guard let code = Self.extractCode(thinkParser.split(completion), language: tests.language) else {
            return .notEquivalent("no fenced code block after the reasoning")
        }
        let report = try await run(code, tests: tests)
        if report.passed == report.total {
            return .equivalent("passed all \(report.total) tests")
        }
        return .notEquivalent(
            "passed \(report.passed) of \(report.total) tests; " + report.failures.prefix(3).joined(separator: "; "))
    }

    /// Runs `code` against `tests`, every test in its own sandboxed process, concurrently up to the pool's limit.
    public func run(_ code: String, tests: CodeTests) async throws -> Report {
        let runner = pool.sandbox.runners[tests.language]
        guard let runner else { throw VerifierError.unsupportedLanguage(tests.language) }
        var markers: [String?] = []
        let jobs = tests.cases.map { test -> (program: String, language: String, stdin: String) in
            switch test {
            case .io(let input, _):
                markers.append(nil)
                return (code, tests.language, input)
            case .assertion(let a):
                switch runner.assertionStyle {
                case .appended:
                    markers.append(nil)
                    return (code + runner.assertionSeparator + a + "\n", tests.language, "")
                case .pythonHarness:
                    // The marker reaches only the harness (on standard input, which it then closes); the
                    // harness prints it after the test's last statement.
                    let marker = PythonHarness.marker()
                    markers.append(marker)
                    return (PythonHarness.script(program: code, tests: a), tests.language, marker + "\n")
                }
            }
        }
        let results = try await pool.runAll(jobs)
        var passed = 0
        var failures: [String] = []
        for (i, (test, result)) in zip(tests.cases, results).enumerated() {
            if let why = Self.failure(of: test, result, marker: markers[i]) {
                failures.append("test \(i + 1): \(why)")
            } else {
                passed += 1
            }
        }
        return Report(passed: passed, total: tests.cases.count, failures: failures)
    }

    /// Why a test failed, or `nil` when it passed. With a `marker`, a clean exit passes only when standard
    /// output ends with the marker's line (the harness got past the test's last statement).
    static func failure(of test: CodeTestCase, _ r: SandboxResult, marker: String? = nil) -> String? {
        switch r.termination {
        case .timedOut: return "timed out"
        case .signaled(let s): return "killed by signal \(s)"
        case .exited(let code) where code != 0:
            let last = r.standardError.split(separator: "\n").last.map(String.init) ?? ""
            return "exit status \(code)\(last.isEmpty ? "" : ": " + last)"
        case .exited: break
        }
        if r.outputTruncated { return "output exceeded the limit" }
        if let marker, !r.standardOutput.hasSuffix("\n" + marker + "\n") {
            return "the tests did not run to their end (the program ended the process early)"
        }
        if case .io(_, let expected) = test, normalise(r.standardOutput) != normalise(expected) {
            return
                "wrong output (expected \(expected.prefix(60).debugDescription), got \(r.standardOutput.prefix(60).debugDescription))"
        }
        return nil
    }

    /// Lines with trailing whitespace removed and trailing empty lines dropped.
    static func normalise(_ s: String) -> [String] {
        var lines = s.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            var l = Substring(line)
            while let c = l.last, c.isWhitespace { l.removeLast() }
            return String(l)
        }
        while lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The last fenced block (```lang … ```) in the answer part; a block tagged with another
    /// language is skipped. `nil` when the reasoning is truncated or there is no block.
    public static func extractCode(_ parsed: ThinkParser.Parsed, language: String) -> String? {
        if parsed.state == .truncated { return nil }
        let text = parsed.answer
        var blocks: [(tag: String, body: String)] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "```") {
            let afterOpen = rest[open.upperBound...]
            let tagEnd = afterOpen.firstIndex(of: "\n") ?? afterOpen.endIndex
            let tag = afterOpen[..<tagEnd].trimmingCharacters()
            let bodyStart = tagEnd < afterOpen.endIndex ? afterOpen.index(after: tagEnd) : tagEnd
            guard let close = afterOpen[bodyStart...].firstRange(of: "```") else { break }
            blocks.append((tag.lowercased(), String(afterOpen[bodyStart..<close.lowerBound])))
            rest = afterOpen[close.upperBound...]
        }
        let aliases: Set<String> = language == "python" ? ["python", "py", "python3", ""] : [language, ""]
        return blocks.last(where: { aliases.contains($0.tag) })?.body
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String { String(self).trimmedText() }
}
