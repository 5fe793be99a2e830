/// Resource limits for one sandboxed run.
public struct SandboxLimits: Sendable, Hashable, Codable {
    /// Wall-clock limit in seconds; the whole process group (and PID namespace) is killed after it.
    public var wallSeconds: Double
    /// CPU-time limit in seconds (`RLIMIT_CPU`).
    public var cpuSeconds: Int
    /// Address-space limit in bytes (`RLIMIT_AS`); allocations beyond it fail.
    public var memoryBytes: Int
    /// Largest file the program may write, standard output and error included (`RLIMIT_FSIZE`);
    /// output past it is cut and the program gets `SIGXFSZ`.
    public var outputBytes: Int
    /// Most processes the sandbox user may run at once (`RLIMIT_NPROC`, effective when privileges are dropped).
    public var maxProcesses: Int

    /// Makes limits; the defaults suit small competitive-programming tests.
    public init(
        wallSeconds: Double = 10, cpuSeconds: Int = 10, memoryBytes: Int = 1 << 30, outputBytes: Int = 1 << 20,
        maxProcesses: Int = 64
    ) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.outputBytes = outputBytes
        self.maxProcesses = maxProcesses
    }
}

/// Which isolation mechanisms a sandbox actually applies on this machine.
public struct SandboxIsolation: Sendable, Hashable, Codable, CustomStringConvertible {
    /// New network namespace (`unshare -n`): no interfaces but a down loopback, so no network.
    public var network: Bool
    /// New PID namespace: the program cannot see or signal outside processes, and when the
    /// sandbox's init exits every process in it is killed, including daemonised ones.
    public var pids: Bool
    /// New mount namespace with private, size-limited tmpfs over `/tmp`, `/var/tmp` and `/dev/shm`.
    public var privateTmp: Bool
    /// The program runs as an unprivileged user (uid/gid 65534), so it cannot write outside its
    /// directory (other than the private tmpfs) and `RLIMIT_NPROC` applies.
    public var unprivilegedUser: Bool

    /// Makes an isolation report.
    public init(network: Bool, pids: Bool, privateTmp: Bool, unprivilegedUser: Bool) {
        self.network = network
        self.pids = pids
        self.privateTmp = privateTmp
        self.unprivilegedUser = unprivilegedUser
    }

    /// No namespaces and no privilege drop: only resource limits and the process-group kill.
    public static let limitsOnly = SandboxIsolation(
        network: false, pids: false, privateTmp: false, unprivilegedUser: false)

    /// A one-line summary.
    public var description: String {
        "network namespace: \(network), PID namespace: \(pids), private /tmp: \(privateTmp), unprivileged user: \(unprivilegedUser)"
    }
}

/// What happened when a program ran.
public struct SandboxResult: Sendable, Hashable {
    /// Why the run ended.
    public enum Termination: Sendable, Hashable {
        /// The program exited with this status.
        case exited(Int32)
        /// The program was killed by this signal (e.g. 9 after a limit, 24 CPU, 25 output).
        case signaled(Int32)
        /// The wall-clock limit ran out and the sandbox was killed.
        case timedOut
    }

    /// How the run ended.
    public var termination: Termination
    /// Standard output (at most ``SandboxLimits/outputBytes`` bytes, invalid UTF-8 replaced).
    public var standardOutput: String
    /// Standard error (at most ``SandboxLimits/outputBytes`` bytes).
    public var standardError: String
    /// `true` when output reached the cap and was cut.
    public var outputTruncated: Bool
    /// Wall-clock seconds the run took.
    public var wallSeconds: Double

    /// `true` for a normal exit with status 0.
    public var succeeded: Bool { termination == .exited(0) && !outputTruncated }
}
