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
    /// Most processes one run may have at once (`RLIMIT_NPROC`). Sealed runs each have their own user namespace (and,
    /// started as root, their own host uid), so one run's fork bomb does not use up another's allowance; the weaker
    /// modes share the count between all runs of the same user.
    public var maxProcesses: Int
    /// Size in bytes of each writable tmpfs of a sealed run (the run directory, `/tmp`, `/dev/shm`); the weaker
    /// modes with a mount namespace use it for their private `/tmp`, `/var/tmp` and `/dev/shm`.
    public var diskBytes: Int
    /// Most files and directories in each writable tmpfs of a sealed run (`nr_inodes`).
    public var diskFiles: Int

    /// Makes limits; the defaults suit small competitive-programming tests.
    public init(
        wallSeconds: Double = 10, cpuSeconds: Int = 10, memoryBytes: Int = 1 << 30, outputBytes: Int = 1 << 20,
        maxProcesses: Int = 64, diskBytes: Int = 16 << 20, diskFiles: Int = 1024
    ) {
        self.wallSeconds = wallSeconds
        self.cpuSeconds = cpuSeconds
        self.memoryBytes = memoryBytes
        self.outputBytes = outputBytes
        self.maxProcesses = maxProcesses
        self.diskBytes = diskBytes
        self.diskFiles = diskFiles
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
    /// Sealed with bubblewrap (`bwrap`): a new read-only root holding only the language runtime (`/usr`), a fresh
    /// `/proc`, a minimal `/dev` and a size- and inode-limited tmpfs as the run directory; new user, IPC, PID,
    /// network, UTS and cgroup namespaces; `no_new_privs`, no capabilities (empty bounding set), a new session, and
    /// death with the parent. Started as root, each run also gets its own random host uid. This is the only mode
    /// ``CodeSandbox/make(limits:allowWeakerIsolation:)`` accepts without an explicit opt-in.
    public var sealed: Bool
    /// Memory and process limits from control groups of the run's own, which bound the run as a whole rather than
    /// each process: cgroup v2 `memory.max`, `memory.swap.max`, `pids.max`, or on a cgroup v1 (or hybrid) machine
    /// `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes`, `pids.max`. Only when started as root.
    public var cgroup: Bool

    /// Makes an isolation report.
    public init(
        network: Bool, pids: Bool, privateTmp: Bool, unprivilegedUser: Bool, sealed: Bool = false, cgroup: Bool = false
    ) {
        self.network = network
        self.pids = pids
        self.privateTmp = privateTmp
        self.unprivilegedUser = unprivilegedUser
        self.sealed = sealed
        self.cgroup = cgroup
    }

    /// The sealed mode (see ``sealed``), with or without cgroup limits.
    public static func sealed(cgroup: Bool = false) -> SandboxIsolation {
        SandboxIsolation(network: true, pids: true, privateTmp: true, unprivilegedUser: true, sealed: true, cgroup: cgroup)
    }

    /// No namespaces and no privilege drop: only resource limits and the process-group kill.
    public static let limitsOnly = SandboxIsolation(
        network: false, pids: false, privateTmp: false, unprivilegedUser: false)

    /// A one-line summary.
    public var description: String {
        if sealed { return "sealed (bubblewrap), cgroup limits: \(cgroup)" }
        return "weaker isolation: network namespace: \(network), PID namespace: \(pids), private /tmp: \(privateTmp), unprivileged user: \(unprivilegedUser)"
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
