import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// Runs untrusted programs in a separate process with limits and Linux isolation.
///
/// The normal mode is *sealed* (``SandboxIsolation/sealed``): the program runs under bubblewrap (`bwrap`, Debian
/// package `bubblewrap`) in new user, IPC, PID, network, UTS and cgroup namespaces, with a new read-only root that
/// holds only the language runtime (`/usr`), a fresh `/proc`, a minimal `/dev`, and size- and inode-limited tmpfs
/// mounts as its run directory, `/tmp` and `/dev/shm`; `no_new_privs`, no capabilities, its own session, and
/// death with the parent. bubblewrap needs no root: it uses an unprivileged user namespace. Started as root, each run
/// also drops to its own random host uid, so runs cannot signal each other and do not share `RLIMIT_NPROC`.
///
/// Every run also gets resource limits (CPU, address space, file size, processes, no core files) and a wall-clock
/// deadline after which its whole process group is killed with `SIGKILL`; standard streams are anonymous files the
/// parent created and reads through its own descriptors, so the program cannot redirect them.
///
/// Where bubblewrap or user namespaces are missing, ``make(limits:allowWeakerIsolation:)`` refuses unless the caller
/// opts into weaker isolation, and then warns on standard error: as root with `unshare`, new network, PID and mount
/// namespaces with private tmpfs over the shared temp directories and a drop to uid 65534; otherwise only resource
/// limits and the process-group kill (``SandboxIsolation/limitsOnly``), which isolate nothing. ``isolation`` says
/// which mode a sandbox uses.
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
    static let bwrapPath = "/usr/bin/bwrap"
    static let sandboxUser: UInt32 = 65534
    /// Where the run directory is inside a sealed sandbox.
    static let sealedDirectory = "/sandbox"

    /// Makes a sandbox with explicit isolation (use ``make(limits:allowWeakerIsolation:)`` to detect it).
    public init(
        limits: SandboxLimits = SandboxLimits(), isolation: SandboxIsolation,
        runners: [LanguageRunner] = [.python, .shell]
    ) {
        self.limits = limits
        self.isolation = isolation
        self.runners = Dictionary(runners.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Makes a sealed sandbox, or throws ``VerifierError/sandboxFailure(_:)`` saying why this machine cannot seal one.
    ///
    /// With `allowWeakerIsolation` it falls back to the strongest weaker mode (see ``detectIsolation()``) and prints a
    /// warning on standard error: those modes do not hide the host's files and, without root, isolate nothing.
    public static func make(limits: SandboxLimits = SandboxLimits(), allowWeakerIsolation: Bool = false) async throws
        -> CodeSandbox
    {
        if let why = await sealedUnavailableReason.value {
            guard allowWeakerIsolation else {
                throw VerifierError.sandboxFailure(
                    "cannot seal the code sandbox: \(why). Install bubblewrap (Debian: apt-get install bubblewrap) and "
                        + "allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                        + "user.max_user_namespaces > 0), or opt into weaker isolation explicitly "
                        + "(allowWeakerIsolation: true; `ponder` --allow-weak-sandbox)")
            }
            let weaker = await detectWeakerIsolation()
            FileHandle.standardError.write(
                Data(
                    ("WARNING: the code sandbox is NOT sealed (\(why)); running untrusted programs with weaker "
                        + "isolation (\(weaker)). They can read this machine's files"
                        + (weaker.network ? "" : ", reach the network, signal your processes") + ".\n").utf8))
            return CodeSandbox(limits: limits, isolation: weaker)
        }
        return CodeSandbox(limits: limits, isolation: .sealed(cgroup: CgroupLimits.available))
    }

    /// The strongest isolation this machine supports: sealed when bubblewrap works, else the weaker modes.
    public static func detectIsolation() async -> SandboxIsolation {
        if await sealedUnavailableReason.value == nil { return .sealed(cgroup: CgroupLimits.available) }
        return await detectWeakerIsolation()
    }

    /// Why a sealed run fails on this machine (`nil` when it works), probed once per process by running `true` sealed.
    static let sealedUnavailableReason = Task<String?, Never> {
        guard access(bwrapPath, X_OK) == 0 else { return "\(bwrapPath) not found" }
        let probe = CodeSandbox(
            limits: SandboxLimits(wallSeconds: 20, cpuSeconds: 5), isolation: .sealed(cgroup: CgroupLimits.available))
        do {
            let r = try await probe.run("exit 0", language: "sh")
            return r.termination == .exited(0) ? nil : "a sealed test run ended with \(r.termination): \(r.standardError)"
        } catch {
            return "\(error.localizedDescription)"
        }
    }

    /// The weaker modes: namespaces need root (or CAP_SYS_ADMIN) and `unshare`; dropping privileges needs root and
    /// `setpriv`.
    public static func detectWeakerIsolation() async -> SandboxIsolation {
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
        // holds) and the wrapper's `setup` file, where it writes "ok" once its own setup has succeeded.
        let control = fm.temporaryDirectory.appendingPathComponent("ponder-control-\(id)")
        let ready = control.appendingPathComponent("setup").path
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
        // Started as root, a sealed run drops to a host uid of its own (not in the password database: nothing else
        // runs as it), so runs neither share `RLIMIT_NPROC` nor may signal each other.
        let runUser: UInt32? = isolation.sealed && getuid() == 0 ? UInt32.random(in: 0x4000_0000...0x7FFF_0000) : nil
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(program.utf8).write(to: dir.appendingPathComponent(runner.fileName))
            if let owner = runUser ?? (isolation.unprivilegedUser && !isolation.sealed ? Self.sandboxUser : nil) {
                for path in [dir.path, dir.appendingPathComponent(runner.fileName).path] {
                    try fm.setAttributes([.ownerAccountID: owner, .groupOwnerAccountID: owner], ofItemAtPath: path)
                }
            }
        } catch {
            throw VerifierError.sandboxFailure("cannot prepare directory \(dir.path): \(error.localizedDescription)")
        }
        defer { try? fm.removeItem(at: dir) }
        let cgroup = isolation.cgroup ? try CgroupLimits(id: id, limits: limits) : nil
        defer { cgroup?.remove() }

        let (executable, arguments) =
            isolation.sealed
            ? sealedCommand(
                staging: dir.path, control: control.path, runner: runner, runUser: runUser, cgroups: cgroup?.paths ?? [])
            : command(directory: dir.path, control: control.path, runner: runner)
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
        if status != nil, !(fm.contents(atPath: ready).map { $0.starts(with: Data("ok".utf8)) } ?? false) {
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

    /// The sealed command: a shell that opens the parent's `setup` file as descriptor 4 (and joins the run's cgroup),
    /// then, as the run's own uid when started as root, bubblewrap, then inside it a setup shell that is root of the
    /// new user namespace with only `CAP_SYS_ADMIN` and `CAP_SETPCAP`: it mounts the limited tmpfs mounts (bubblewrap
    /// cannot limit inodes), copies the program in, sets the resource limits on itself, writes `ok` to descriptor 4,
    /// and runs the program through `setpriv` with no capabilities left (empty bounding, inheritable and ambient
    /// sets, and the "no root" securebits, so exec grants none back).
    func sealedCommand(staging: String, control: String, runner: LanguageRunner, runUser: UInt32?, cgroups: [String])
        -> (String, [String])
    {
        var outer = "exec 4>\"$1/setup\" || exit 120\nshift\n"
        for cgroup in cgroups { outer += "echo $$ >\"\(cgroup)/cgroup.procs\" || exit 120\n" }
        outer += "exec \"$@\"\n"
        var command = ["/bin/sh", "-c", outer, "ponder-sandbox", control]
        if let runUser {
            command += [Self.setprivPath, "--reuid=\(runUser)", "--regid=\(runUser)", "--clear-groups", "--"]
        }
        command += [
            Self.bwrapPath, "--unshare-all", "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP", "--uid", "0", "--gid", "0",
            "--ro-bind", "/usr", "/usr",
        ]
        // The merged-/usr links (or, on older systems, the real directories) the runtime's loader needs.
        for top in ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"] {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: top) {
                command += ["--symlink", target, top]
            } else if access(top, F_OK) == 0 {
                command += ["--ro-bind", top, top]
            }
        }
        for path in runner.runtimePaths where access(path, F_OK) == 0 { command += ["--ro-bind", path, path] }
        let input = "/.ponder-input/\(runner.fileName)"
        let dir = Self.sealedDirectory
        command += [
            "--proc", "/proc", "--dev", "/dev", "--dir", "/dev/shm", "--remount-ro", "/dev", "--dir", "/tmp",
            "--dir", dir, "--ro-bind", "\(staging)/\(runner.fileName)", input, "--remount-ro", "/", "--chdir", "/",
            "--",
        ]
        let tmpfs = "nosuid,nodev,size=\(max(4096, limits.diskBytes)),nr_inodes=\(max(16, limits.diskFiles))"
        var inner = """
            mount -t tmpfs -o \(tmpfs),mode=0755 run \(dir) || exit 121
            mount -t tmpfs -o \(tmpfs),mode=1777 tmp /tmp || exit 121
            mount -t tmpfs -o \(tmpfs),mode=1777 shm /dev/shm || exit 121
            cp \(input) \(dir)/ && umount \(input) && cd \(dir) || exit 121
            \(Self.prlimitPath) --pid $$ --cpu=\(limits.cpuSeconds) --as=\(limits.memoryBytes) --fsize=\(limits.outputBytes) \
              --nproc=\(limits.maxProcesses) --core=0 || exit 121

            """
        if !setupCommands.isEmpty { inner += setupCommands + "\n" }
        inner += "printf ok >&4 || exit 121\nexec 4>&-\n"
        inner += """
            exec \(Self.setprivPath) --securebits=+noroot,+noroot_locked,+no_setuid_fixup,+no_setuid_fixup_locked,+keep_caps_locked \
              --bounding-set=-all --inh-caps=-all --ambient-caps=-all -- "$@"

            """
        command += ["/bin/sh", "-c", inner, "ponder-sandbox"] + runner.command
        return (command[0], Array(command.dropFirst()))
    }

    /// The wrapper command of the weaker modes: namespaces (if any), then a shell that sets up `/tmp`, applies limits
    /// and drops privileges before running the program. Standard streams are the parent's descriptors, inherited as
    /// they are. The shell opens the `setup` file in the parent's private `control` directory before anything else and
    /// writes `ok` to it once its own setup has succeeded (then closes it), so a failure before that is told apart
    /// from the program's exit status.
    func command(directory: String, control: String, runner: LanguageRunner) -> (String, [String]) {
        var script = "W=\"$1\"\nexec 4>\"$2/setup\" || exit 120\nshift 2\n"
        if isolation.privateTmp {
            // Keep a handle on the directory, hide the shared temp dirs behind private tmpfs mounts,
            // then bind the directory back at its own path (inside the new /tmp when it lives there).
            script += """
                exec 3<"$W" || exit 120
                for d in /tmp /var/tmp /dev/shm; do [ -d $d ] && mount -t tmpfs -o size=\(limits.diskBytes),nr_inodes=\(limits.diskFiles),mode=1777 ponder-tmp $d; done
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
                "ulimit -t \(limits.cpuSeconds); ulimit -v \(limits.memoryBytes / 1024); ulimit -f \(limits.outputBytes / 512); "
                + "ulimit -p \(limits.maxProcesses) 2>/dev/null || ulimit -u \(limits.maxProcesses); ulimit -c 0\n"
        }
        if isolation.unprivilegedUser {
            limited += [
                Self.setprivPath, "--reuid=\(Self.sandboxUser)", "--regid=\(Self.sandboxUser)", "--clear-groups", "--",
            ]
        }
        // Not `exec`: with a PID namespace the shell stays PID 1, so the program is an ordinary
        // process (signals and limits behave normally) and everything dies when the shell exits.
        if !setupCommands.isEmpty { script += setupCommands + "\n" }
        script += "printf ok >&4 || exit 120\nexec 4>&-\n"
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
