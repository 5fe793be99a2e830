import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs untrusted programs in a separate process with limits and, where the machine allows it,
/// Linux namespaces.
///
/// Every run gets its own directory (owned by the sandbox user, deleted afterwards), a minimal
/// environment, resource limits set with `prlimit` (CPU, address space, file size, processes, no
/// core files), and a wall-clock deadline after which its whole process group is killed with
/// `SIGKILL` (through swift-subprocess's teardown). When running as root with `unshare`
/// available it also gets new network, PID and mount namespaces (private tmpfs over `/tmp`,
/// `/var/tmp`, `/dev/shm`, fresh `/proc`) and drops to uid/gid 65534 with `setpriv`.
/// ``isolation`` says which of these were applied.
public struct CodeSandbox: Sendable {
    /// Limits applied to each run.
    public var limits: SandboxLimits
    /// The isolation mechanisms applied (see ``detectIsolation()``).
    public var isolation: SandboxIsolation
    /// Runners by language name.
    public var runners: [String: LanguageRunner]
    /// Shell commands the wrapper runs at the end of its setup (for tests of setup failures).
    var setupCommands = ""

    static let unsharePath = "/usr/bin/unshare"
    static let prlimitPath = "/usr/bin/prlimit"
    static let setprivPath = "/usr/bin/setpriv"
    static let sandboxUser: UInt32 = 65534

    /// Makes a sandbox with explicit isolation (use ``make(limits:)`` to detect it).
    public init(
        limits: SandboxLimits = SandboxLimits(), isolation: SandboxIsolation,
        runners: [LanguageRunner] = [.python, .shell]
    ) {
        self.limits = limits
        self.isolation = isolation
        self.runners = Dictionary(runners.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Makes a sandbox with the strongest isolation this machine supports.
    public static func make(limits: SandboxLimits = SandboxLimits()) async -> CodeSandbox {
        CodeSandbox(limits: limits, isolation: await detectIsolation())
    }

    /// Probes which isolation works here: namespaces need root (or CAP_SYS_ADMIN) and `unshare`;
    /// dropping privileges needs root and `setpriv`.
    public static func detectIsolation() async -> SandboxIsolation {
        let root = getuid() == 0
        let haveSetpriv = access(setprivPath, X_OK) == 0
        guard access(unsharePath, X_OK) == 0 else {
            return SandboxIsolation(
                network: false, pids: false, privateTmp: false, unprivilegedUser: root && haveSetpriv)
        }
        let probe = "mount -t tmpfs -o size=1m ponder-probe /tmp && exit 0; exit 1"
        let ok =
            (try? await Subprocess.run(
                .path(FilePath(unsharePath)),
                arguments: ["-n", "-m", "-p", "-f", "--kill-child", "--mount-proc", "--", "/bin/sh", "-c", probe],
                output: .discarded, error: .discarded))?.terminationStatus.isSuccess ?? false
        return SandboxIsolation(network: ok, pids: ok, privateTmp: ok, unprivilegedUser: root && haveSetpriv)
    }

    /// Runs `program` in `language` with `stdin` as standard input.
    ///
    /// Throws ``VerifierError/unsupportedLanguage(_:)`` for an unknown language and
    /// ``VerifierError/sandboxFailure(_:)`` when the directory or process cannot be set up. A
    /// program that crashes, times out or exceeds a limit is a normal result, not an error.
    public func run(_ program: String, language: String = "python", stdin: String = "") async throws -> SandboxResult {
        guard let runner = runners[language] else { throw VerifierError.unsupportedLanguage(language) }
        let fm = FileManager.default
        let id = UUID().uuidString
        let dir = fm.temporaryDirectory.appendingPathComponent("ponder-sandbox-\(id)")
        // The parent's own files live apart from the run directory, in a directory only the parent's user can
        // enter: the program's standard streams (unlinked at once, reached only through descriptors the parent
        // holds) and the wrapper's "ready" marker.
        let control = fm.temporaryDirectory.appendingPathComponent("ponder-control-\(id)")
        let ready = control.appendingPathComponent("ready").path
        let streams: (input: FileDescriptor, output: FileDescriptor, error: FileDescriptor)
        do {
            try fm.createDirectory(at: control, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let input = try Self.anonymousFile(in: control.path, contents: Data(stdin.utf8))
            let output = try Self.anonymousFile(in: control.path)
            let error = try Self.anonymousFile(in: control.path)
            streams = (input, output, error)
        } catch {
            try? fm.removeItem(at: control)
            throw VerifierError.sandboxFailure("cannot prepare \(control.path): \(error)")
        }
        defer {
            for fd in [streams.input, streams.output, streams.error] { try? fd.close() }
            try? fm.removeItem(at: control)
        }
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(program.utf8).write(to: dir.appendingPathComponent(runner.fileName))
            if isolation.unprivilegedUser {
                for path in [dir.path, dir.appendingPathComponent(runner.fileName).path] {
                    try fm.setAttributes(
                        [.ownerAccountID: Self.sandboxUser, .groupOwnerAccountID: Self.sandboxUser], ofItemAtPath: path)
                }
            }
        } catch {
            throw VerifierError.sandboxFailure("cannot prepare directory \(dir.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: dir) }

        let (executable, arguments) = command(directory: dir.path, control: control.path, runner: runner)
        let start = ContinuousClock.now
        let wall = min(max(limits.wallSeconds, 0.001), 86_400.0)
        let status: TerminationStatus?
        do {
            status = try await withThrowingTaskGroup(of: TerminationStatus?.self) { group in
                let directory = dir.path
                group.addTask {
                    var options = PlatformOptions()
                    options.createSession = true
                    options.teardownSequence = [
                        .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .milliseconds(100))
                    ]
                    let environment: Environment = .custom([
                        "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8",
                        "PYTHONHASHSEED": "0", "PYTHONIOENCODING": "utf-8",
                    ])
                    return try await Subprocess.run(
                        .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                        workingDirectory: FilePath(directory), platformOptions: options,
                        input: .fileDescriptor(streams.input, closeAfterSpawningProcess: false),
                        output: .fileDescriptor(streams.output, closeAfterSpawningProcess: false),
                        error: .fileDescriptor(streams.error, closeAfterSpawningProcess: false)
                    ).terminationStatus
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int(wall * 1000)))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } catch is CancellationError {
            status = nil
        } catch {
            throw VerifierError.sandboxFailure("cannot launch \(executable): \(error)")
        }
        // A cancelled run is neither a timeout nor a result: the caller gave up on it.
        try Task.checkCancellation()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let out = readCapped(streams.output)
        let err = readCapped(streams.error)
        // The wrapper marks the point where its own setup is done; before it, a non-zero status is the
        // sandbox's failure, not the program's.
        if status != nil, !fm.fileExists(atPath: ready) {
            let why = err.text.split(separator: "\n").suffix(3).joined(separator: "; ")
            throw VerifierError.sandboxFailure("sandbox setup failed (\(String(describing: status!))): \(why)")
        }
        let termination: SandboxResult.Termination
        switch status {
        case nil: termination = .timedOut
        case .exited(let code)?:
            // The wrapper shell reports a program killed by signal n as exit status 128 + n.
            termination = code > 128 && code <= 128 + 64 ? .signaled(code - 128) : .exited(code)
        case .signaled(let sig)?: termination = .signaled(sig)
        }
        let truncated = out.truncated || err.truncated || termination == .signaled(SIGXFSZ)
        return SandboxResult(
            termination: termination, standardOutput: out.text, standardError: err.text, outputTruncated: truncated,
            wallSeconds: seconds)
    }

    /// A new file in `directory`, unlinked at once, open for reading and writing, holding `contents` and positioned
    /// at its start. Only the returned descriptor reaches it, so nothing the program does to paths can change it.
    static func anonymousFile(in directory: String, contents: Data = Data()) throws -> FileDescriptor {
        var template = Array("\(directory)/stream-XXXXXX".utf8CString)
        let raw = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard raw >= 0 else { throw Errno(rawValue: errno) }
        let fd = FileDescriptor(rawValue: raw)
        do {
            // Not inherited by other runs' children; each run's child gets its copies as fds 0, 1 and 2.
            guard fcntl(raw, F_SETFD, FD_CLOEXEC) == 0 else { throw Errno(rawValue: errno) }
            let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard unlink(path) == 0 else { throw Errno(rawValue: errno) }
            _ = try fd.writeAll(contents)
            _ = try fd.seek(offset: 0, from: FileDescriptor.SeekOrigin.start)
        } catch {
            try? fd.close()
            throw error
        }
        return fd
    }

    /// The first ``SandboxLimits/outputBytes`` bytes of a stream file, read through the parent's descriptor from
    /// offset 0 (the program may have moved the shared offset) and never more than the cap plus one byte.
    func readCapped(_ fd: FileDescriptor) -> (text: String, truncated: Bool) {
        let cap = max(0, limits.outputBytes)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while data.count <= cap {
            let want = min(buffer.count, cap + 1 - data.count)
            let n = buffer.withUnsafeMutableBytes { raw in
                try? fd.read(fromAbsoluteOffset: Int64(data.count), into: UnsafeMutableRawBufferPointer(rebasing: raw[..<want]))
            }
            guard let n, n > 0 else { break }
            data.append(contentsOf: buffer[..<n])
        }
        let truncated = data.count >= cap
        return (String(decoding: data.prefix(cap), as: UTF8.self), truncated)
    }

    /// The wrapper command: namespaces (if any), then a shell that sets up `/tmp`, applies limits and drops
    /// privileges before running the program. Standard streams are the parent's descriptors, inherited as they
    /// are. The shell opens the parent's private `control` directory before anything else and creates `ready`
    /// in it once its own setup has succeeded (then closes it), so a failure before that is told apart from the
    /// program's exit status.
    func command(directory: String, control: String, runner: LanguageRunner) -> (String, [String]) {
        var script = "W=\"$1\"\nexec 4<\"$2\" || exit 120\nshift 2\n"
        if isolation.privateTmp {
            // Keep a handle on the directory, hide the shared temp dirs behind private tmpfs mounts,
            // then bind the directory back at its own path (inside the new /tmp when it lives there).
            script += """
                exec 3<"$W" || exit 120
                for d in /tmp /var/tmp /dev/shm; do [ -d $d ] && mount -t tmpfs -o size=16m,mode=1777 ponder-tmp $d; done
                mkdir -p "$W" && mount --no-canonicalize --bind /proc/self/fd/3 "$W" || exit 121
                exec 3<&-

                """
        }
        script += "cd \"$W\" || exit 120\n"
        var limited: [String] = []
        if access(Self.prlimitPath, X_OK) == 0 {
            limited = [
                Self.prlimitPath, "--cpu=\(limits.cpuSeconds)", "--as=\(limits.memoryBytes)",
                "--fsize=\(limits.outputBytes)", "--nproc=\(limits.maxProcesses)", "--core=0", "--",
            ]
        } else {
            script +=
                "ulimit -t \(limits.cpuSeconds); ulimit -v \(limits.memoryBytes / 1024); ulimit -f \(limits.outputBytes / 512)\n"
        }
        if isolation.unprivilegedUser {
            limited += [
                Self.setprivPath, "--reuid=\(Self.sandboxUser)", "--regid=\(Self.sandboxUser)", "--clear-groups", "--",
            ]
        }
        // Not `exec`: with a PID namespace the shell stays PID 1, so the program is an ordinary
        // process (signals and limits behave normally) and everything dies when the shell exits.
        if !setupCommands.isEmpty { script += setupCommands + "\n" }
        script += ": >/proc/self/fd/4/ready || exit 120\nexec 4<&-\n"
        script += "\"$@\"\nexit $?\n"
        let shell = ["/bin/sh", "-c", script, "ponder-sandbox", directory, control] + limited + runner.command
        if isolation.network || isolation.pids || isolation.privateTmp {
            var flags: [String] = []
            if isolation.network { flags.append("-n") }
            if isolation.privateTmp || isolation.pids { flags.append("-m") }
            if isolation.pids { flags += ["-p", "-f", "--kill-child", "--mount-proc"] }
            return (Self.unsharePath, flags + ["--"] + shell)
        }
        return ("/bin/sh", Array(shell.dropFirst()))
    }
}
