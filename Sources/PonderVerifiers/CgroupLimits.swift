import Foundation

/// A control group for one sealed run, bounding the run's memory (no swap) and process count as a whole, where
/// rlimits bound each process: a run whose processes each stay under `RLIMIT_AS` cannot together exceed
/// ``SandboxLimits/memoryBytes``.
///
/// Available only to root, on either hierarchy (probed once, ``hierarchy``):
/// - cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` lists `memory` and `pids`): one group
///   `/sys/fs/cgroup/ponder-sandbox/run-<id>` with `memory.max`, `memory.swap.max` 0 and `pids.max`, emptied at the
///   end with `cgroup.kill`;
/// - cgroup v1 or a hybrid machine (separate `memory` and `pids` hierarchies under `/sys/fs/cgroup`): a group in each,
///   made a child of the group this process is in (so the limits of whatever contains Ponder still apply), with
///   `memory.limit_in_bytes`, `memory.memsw.limit_in_bytes` (where swap accounting exists) and `pids.max`; v1 has no
///   `cgroup.kill`, so the end of a run kills the processes its groups still list, then removes them.
///
/// Without root, or with neither hierarchy, the sandbox reports `cgroup: false` and keeps only rlimits.
struct CgroupLimits: Sendable {
    /// Where groups are made.
    enum Hierarchy: Sendable, Equatable {
        /// The unified hierarchy: groups are made in this directory.
        case v2(parent: String)
        /// Separate hierarchies: memory groups are made in the first directory, process-count groups in the second.
        case v1(memory: String, pids: String)
    }

    static let top = "/sys/fs/cgroup"

    /// The run's groups (one for v2, the memory and the pids group for v1); the run's first process joins each.
    let paths: [String]
    let hierarchy: Hierarchy

    /// Whether this process can make limited groups.
    static var available: Bool { hierarchy != nil }

    /// The hierarchy this process can make limited groups in (probed once), or nil.
    static let hierarchy: Hierarchy? = {
        guard getuid() == 0 else { return nil }
        if let controllers = read("\(top)/cgroup.controllers") {
            let have = Set(controllers.split(separator: " ").map(String.init))
            guard have.isSuperset(of: ["memory", "pids"]) else { return nil }
            if !(read("\(top)/cgroup.subtree_control") ?? "").contains("memory") {
                _ = write("+memory +pids", to: "\(top)/cgroup.subtree_control")
            }
            let parent = "\(top)/ponder-sandbox"
            try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            guard write("+memory +pids", to: "\(parent)/cgroup.subtree_control") else { return nil }
            let enabled = Set((read("\(parent)/cgroup.subtree_control") ?? "").split(separator: " ").map(String.init))
            return enabled.isSuperset(of: ["memory", "pids"]) ? .v2(parent: parent) : nil
        }
        // cgroup v1: this process's own group in each controller's hierarchy ("4:memory:/a/b" in /proc/self/cgroup).
        let own = Dictionary(
            (read("/proc/self/cgroup") ?? "").split(separator: "\n").compactMap { line -> (String, String)? in
                let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                guard fields.count == 3 else { return nil }
                return (String(fields[1]), String(fields[2]))
            }, uniquingKeysWith: { first, _ in first })
        func group(_ controller: String) -> String? {
            guard let path = own[controller] else { return nil }
            let directory = "\(top)/\(controller)\(path == "/" ? "" : path)"
            return access("\(directory)/cgroup.procs", W_OK) == 0 ? directory : nil
        }
        guard let memory = group("memory"), let pids = group("pids") else { return nil }
        return .v1(memory: memory, pids: pids)
    }()

    /// Makes the run's group(s) for run `id` with the memory and process limits of `limits`.
    init(id: String, limits: SandboxLimits) throws {
        guard let hierarchy = Self.hierarchy else {
            throw VerifierError.sandboxFailure("cgroup limits need root and a cgroup v1 or v2 memory and pids hierarchy")
        }
        self.hierarchy = hierarchy
        let settings: [(directory: String, required: [(String, String)], optional: [(String, String)])]
        switch hierarchy {
        case .v2(let parent):
            settings = [
                ("\(parent)/run-\(id)", [("memory.max", "\(limits.memoryBytes)"), ("pids.max", "\(limits.maxProcesses)")],
                    [("memory.swap.max", "0")])
            ]
        case .v1(let memory, let pids):
            settings = [
                // memsw (memory + swap) must be set after, and not below, the memory limit; absent without swap
                // accounting, where no swap is charged to the group anyway.
                ("\(memory)/ponder-run-\(id)", [("memory.limit_in_bytes", "\(limits.memoryBytes)")],
                    [("memory.memsw.limit_in_bytes", "\(limits.memoryBytes)")]),
                ("\(pids)/ponder-run-\(id)", [("pids.max", "\(limits.maxProcesses)")], []),
            ]
        }
        var made: [String] = []
        func undo() { CgroupLimits.remove(made, hierarchy: hierarchy) }
        for s in settings {
            do {
                try FileManager.default.createDirectory(atPath: s.directory, withIntermediateDirectories: false)
            } catch {
                undo()
                throw VerifierError.sandboxFailure("cannot create cgroup \(s.directory): \(error.localizedDescription)")
            }
            made.append(s.directory)
            for (file, value) in s.required where !Self.write(value, to: "\(s.directory)/\(file)") {
                undo()
                throw VerifierError.sandboxFailure("cannot write \(value) to \(s.directory)/\(file)")
            }
            for (file, value) in s.optional { _ = Self.write(value, to: "\(s.directory)/\(file)") }
        }
        paths = made
    }

    /// Kills whatever is left in the run's groups and removes them.
    func remove() { Self.remove(paths, hierarchy: hierarchy) }

    static func remove(_ paths: [String], hierarchy: Hierarchy) {
        for path in paths {
            if case .v2 = hierarchy { _ = write("1", to: "\(path)/cgroup.kill") }  // Linux 5.14 and later
            for _ in 0..<100 {
                if rmdir(path) == 0 || errno == ENOENT { break }
                // v1 (or a kernel without cgroup.kill): kill what the group still lists, then try again.
                for pid in (read("\(path)/cgroup.procs") ?? "").split(separator: "\n").compactMap({ Int32($0) }) {
                    kill(pid, SIGKILL)
                }
                usleep(10_000)
            }
        }
    }

    /// The memory the run's group has used at most, in bytes (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`
    /// where the kernel has it), or nil.
    var peakMemoryBytes: Int? {
        switch hierarchy {
        case .v1: return Self.read("\(paths[0])/memory.max_usage_in_bytes").flatMap { Int($0) }
        case .v2: return Self.read("\(paths[0])/memory.peak").flatMap { Int($0) }
        }
    }

    static func read(_ path: String) -> String? {
        (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func write(_ value: String, to path: String) -> Bool {
        guard let handle = FileHandle(forWritingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.write(contentsOf: Data(value.utf8))) != nil
    }
}
