import Dispatch
import Foundation
import PonderCore

/// A reward computed by an external program: a long-lived process speaking JSON Lines on standard input and output.
///
/// For each completion the reward writes one line, `{"answer", "completion", "id", "metadata", "prompt"}` (the
/// problem's fields and the completion's text), and reads one line back: `{"reward": x}`, `{"reward": null}` or
/// `null` (`nil`: cannot score). `concurrency` processes run side by side, each answering its requests in order.
///
/// Failure policy: a request that times out, a process that exits or a reply that is not one of the forms above
/// restarts that process and retries the request once; if it fails again the completion scores `nil` and the reason
/// goes to `onFailure` (standard error by default). Training goes on: an unscored completion gets advantage 0.
public final class CommandReward: RewardFunction, @unchecked Sendable {
    public let name: String
    /// The command, run by `/bin/sh -c`.
    public let command: String
    /// Most seconds one reply may take.
    public let timeout: Double
    private let workers: [Worker]
    private let onFailure: @Sendable (String) -> Void
    /// Where failures are reported by default.
    public static let standardErrorReport: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("reward: " + $0 + "\n").utf8)) }

    /// A reward running `command` in `concurrency` processes (started on first use).
    public init(
        name: String = "command", command: String, timeout: Double = 30, concurrency: Int = 1,
        onFailure: @escaping @Sendable (String) -> Void = CommandReward.standardErrorReport
    ) throws {
        guard !command.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw VerifierError.invalidParameter(name: "command", value: "\"\"", reason: "must not be empty")
        }
        try CommandReward.validate(timeout: timeout, concurrency: concurrency)
        self.name = name
        self.command = command
        self.timeout = timeout
        self.onFailure = onFailure
        workers = (0..<concurrency).map { Worker(command: command, index: $0) }
    }

    deinit { for w in workers { w.stop() } }

    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        let lines = try completions.map { try Self.request(completion: $0, problem: problem) }
        return await withTaskGroup(of: (Int, Double?).self) { group in
            for (i, line) in lines.enumerated() {
                let worker = workers[i % workers.count]
                group.addTask { [timeout, onFailure, name] in
                    let result = await worker.ask(line, timeout: timeout)
                    switch result {
                    case .success(let value): return (i, value)
                    case .failure(let reason):
                        onFailure("\(name): completion \(i) of problem \(problem.id) unscored: \(reason)")
                        return (i, nil)
                    }
                }
            }
            var out = [Double?](repeating: nil, count: completions.count)
            for await (i, v) in group { out[i] = v }
            return out
        }
    }

    /// Checks the settings external rewards share.
    static func validate(timeout: Double, concurrency: Int) throws {
        guard timeout > 0 else { throw VerifierError.invalidParameter(name: "timeout", value: "\(timeout)", reason: "must be positive") }
        guard concurrency >= 1 else {
            throw VerifierError.invalidParameter(name: "concurrency", value: "\(concurrency)", reason: "must be at least 1")
        }
    }

    /// The request line for one completion.
    static func request(completion: String, problem: Problem) throws -> String {
        let object: [String: Any] = [
            "prompt": problem.prompt, "completion": completion, "answer": problem.answer ?? NSNull(), "id": problem.id,
            "metadata": problem.metadata,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The reward in a reply line, or why it is not one.
    static func parse(_ line: String) -> Result<Double?, ReplyError> {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if trimmed == "null" { return .success(nil) }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any],
            let value = object["reward"]
        else { return .failure(ReplyError("reply \(trimmed.prefix(80).debugDescription) is not {\"reward\": number or null}")) }
        if value is NSNull { return .success(nil) }
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c", n.doubleValue.isFinite else {
            return .failure(ReplyError("reward \(value) is not a finite number"))
        }
        return .success(n.doubleValue)
    }

    struct ReplyError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// One scorer process and the requests it answers, in order, on its own queue.
    final class Worker: @unchecked Sendable {
        let command: String
        let queue: DispatchQueue
        private var process: Process?
        private var input: FileHandle?
        private var output: FileHandle?
        private let lines = LineBuffer()

        init(command: String, index: Int) {
            self.command = command
            queue = DispatchQueue(label: "ponder.reward-command.\(index)")
        }

        /// Sends `line`, waits for the reply; on failure restarts the process and tries once more.
        func ask(_ line: String, timeout: Double) async -> Result<Double?, ReplyError> {
            await withCheckedContinuation { continuation in
                queue.async {
                    var result = self.exchange(line, timeout: timeout)
                    if case .failure = result {
                        self.stop()
                        result = self.exchange(line, timeout: timeout)
                        if case .failure = result { self.stop() }
                    }
                    continuation.resume(returning: result)
                }
            }
        }

        private func exchange(_ line: String, timeout: Double) -> Result<Double?, ReplyError> {
            do { try startIfNeeded() } catch { return .failure(ReplyError("cannot start \(command.debugDescription): \(error)")) }
            guard let input, let process, process.isRunning else { return .failure(ReplyError("the scorer exited")) }
            do { try input.write(contentsOf: Data((line + "\n").utf8)) } catch {
                return .failure(ReplyError("the scorer closed its input (exit status \(process.isRunning ? "running" : "\(process.terminationStatus)"))"))
            }
            switch lines.next(timeout: timeout) {
            case .line(let reply): return CommandReward.parse(reply)
            case .timeout: return .failure(ReplyError("no reply within \(timeout) s"))
            case .closed:
                process.waitUntilExit()
                return .failure(ReplyError("the scorer exited with status \(process.terminationStatus) before replying"))
            }
        }

        private func startIfNeeded() throws {
            if let process, process.isRunning { return }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", command]
            let stdin = Pipe()
            let stdout = Pipe()
            p.standardInput = stdin
            p.standardOutput = stdout
            p.standardError = FileHandle.standardError
            lines.reset()
            let buffer = lines
            stdout.fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty {
                    handle.readabilityHandler = nil
                    buffer.close()
                } else {
                    buffer.append(data)
                }
            }
            // A scorer that exits while a request is being written must not end this process with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            try p.run()
            process = p
            input = stdin.fileHandleForWriting
            output = stdout.fileHandleForReading
        }

        /// Ends the process (a stuck or broken scorer is replaced on the next request).
        func stop() {
            guard let process else { return }
            output?.readabilityHandler = nil  // late output of this process must not reach its successor
            try? input?.close()
            if process.isRunning {
                process.terminate()
                let deadline = Date().addingTimeInterval(0.5)
                while process.isRunning && Date() < deadline { usleep(10_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            }
            self.process = nil
            input = nil
            output = nil
        }
    }

    /// Bytes from a process's standard output, handed out a line at a time.
    final class LineBuffer: @unchecked Sendable {
        enum Next { case line(String), timeout, closed }
        private let condition = NSCondition()
        private var pending = Data()
        private var isClosed = false

        func reset() {
            condition.lock()
            pending = Data()
            isClosed = false
            condition.unlock()
        }

        func append(_ data: Data) {
            condition.lock()
            pending.append(data)
            condition.broadcast()
            condition.unlock()
        }

        func close() {
            condition.lock()
            isClosed = true
            condition.broadcast()
            condition.unlock()
        }

        func next(timeout: Double) -> Next {
            let deadline = Date().addingTimeInterval(timeout)
            condition.lock()
            defer { condition.unlock() }
            while true {
                if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending = Data(pending[(newline + 1)...])
                    return .line(line)
                }
                if isClosed { return .closed }
                if !condition.wait(until: deadline) { return .timeout }
            }
        }
    }
}

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A reward computed by an HTTP endpoint: one `POST` per completion with the JSON of ``CommandReward`` as the body,
/// answered with `{"reward": x}`, `{"reward": null}` or `null`. At most `concurrency` requests are in flight; a
/// request that fails (transport error, timeout, a status other than 200, a malformed body) is retried once, then
/// scores `nil` with the reason sent to `onFailure`.
public struct HTTPReward: RewardFunction {
    public let name: String
    public let url: URL
    public let timeout: Double
    public let concurrency: Int
    private let onFailure: @Sendable (String) -> Void

    public init(
        name: String = "http", url: URL, timeout: Double = 30, concurrency: Int = 8,
        onFailure: @escaping @Sendable (String) -> Void = CommandReward.standardErrorReport
    ) throws {
        guard url.scheme == "http" || url.scheme == "https" else {
            throw VerifierError.invalidParameter(name: "url", value: url.absoluteString, reason: "must be http:// or https://")
        }
        try CommandReward.validate(timeout: timeout, concurrency: concurrency)
        self.name = name
        self.url = url
        self.timeout = timeout
        self.concurrency = concurrency
        self.onFailure = onFailure
    }

    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        let bodies = try completions.map { try CommandReward.request(completion: $0, problem: problem) }
        var out = [Double?](repeating: nil, count: completions.count)
        for start in stride(from: 0, to: bodies.count, by: concurrency) {
            let slice = start..<Swift.min(start + concurrency, bodies.count)
            await withTaskGroup(of: (Int, Double?).self) { group in
                for i in slice {
                    group.addTask {
                        var result = await post(bodies[i])
                        if case .failure = result { result = await post(bodies[i]) }
                        switch result {
                        case .success(let v): return (i, v)
                        case .failure(let reason):
                            onFailure("\(name): completion \(i) of problem \(problem.id) unscored: \(reason)")
                            return (i, nil)
                        }
                    }
                }
                for await (i, v) in group { out[i] = v }
            }
        }
        return out
    }

    private func post(_ body: String) async -> Result<Double?, CommandReward.ReplyError> {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(body.utf8)
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
                return .failure(.init("\(url.absoluteString) answered status \((response as? HTTPURLResponse)?.statusCode ?? -1)"))
            }
            return CommandReward.parse(String(decoding: data, as: UTF8.self))
        } catch {
            return .failure(.init("\(url.absoluteString): \(error.localizedDescription)"))
        }
    }
}
