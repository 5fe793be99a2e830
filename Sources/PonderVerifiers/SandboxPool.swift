/// Runs sandboxed programs concurrently, at most ``maxConcurrent`` at a time; callers beyond that
/// wait in arrival order.
public actor SandboxPool {
    /// The sandbox every run uses.
    public let sandbox: CodeSandbox
    /// The most runs in flight at once.
    public let maxConcurrent: Int
    private var running = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Makes a pool; `maxConcurrent` below 1 is treated as 1.
    public init(sandbox: CodeSandbox, maxConcurrent: Int = 2) {
        self.sandbox = sandbox
        self.maxConcurrent = max(1, maxConcurrent)
    }

    /// Runs one program when a slot is free (see ``CodeSandbox/run(_:language:stdin:)``).
    public func run(_ program: String, language: String = "python", stdin: String = "") async throws -> SandboxResult {
        await acquire()
        defer { release() }
        return try await sandbox.run(program, language: language, stdin: stdin)
    }

    /// Runs every job, each when a slot is free; results are in the order of `jobs`.
    public nonisolated func runAll(_ jobs: [(program: String, language: String, stdin: String)]) async throws
        -> [SandboxResult]
    {
        try await withThrowingTaskGroup(of: (Int, SandboxResult).self) { group in
            for (i, job) in jobs.enumerated() {
                group.addTask { (i, try await self.run(job.program, language: job.language, stdin: job.stdin)) }
            }
            var results = [SandboxResult?](repeating: nil, count: jobs.count)
            for try await (i, r) in group { results[i] = r }
            return results.map { $0! }
        }
    }

    /// Runs currently in flight (for tests and monitoring).
    public var inFlight: Int { running }

    private func acquire() async {
        if running < maxConcurrent {
            running += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            running -= 1
        } else {
            waiters.removeFirst().resume()  // the slot passes directly to the next waiter
        }
    }
}
