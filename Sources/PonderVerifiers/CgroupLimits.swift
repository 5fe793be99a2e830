import Foundation

/// A cgroup v2 group for one sealed run, bounding the run's memory (`memory.max`, no swap) and process count
/// (`pids.max`) as a whole, where rlimits bound each process.
///
/// Available only to root on a machine whose `/sys/fs/cgroup` is a cgroup v2 hierarchy with the `memory` and `pids`
/// controllers enabled for children (``available``); groups live under `/sys/fs/cgroup/ponder-sandbox/`. On a cgroup v1
/// or hybrid machine (no `cgroup.controllers` at the top) the sandbox reports `cgroup: false` and keeps only rlimits.
struct CgroupLimits: Sendable {
    static let top = "/sys/fs/cgroup"
    static let parent = "/sys/fs/cgroup/ponder-sandbox"

    /// The group's directory.
    let path: String

    /// Whether this process can make limited groups (probed once).
    static let available: Bool = {
        guard getuid() == 0, let controllers = read("\(top)/cgroup.controllers") else { return false }
        let have = Set(controllers.split(separator: " ").map(String.init))
        guard have.isSuperset(of: ["memory", "pids"]) else { return false }
        if !(read("\(top)/cgroup.subtree_control") ?? "").contains("memory") { _ = write("+memory +pids", to: "\(top)/cgroup.subtree_control") }
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        guard write("+memory +pids", to: "\(parent)/cgroup.subtree_control") else { return false }
        let enabled = Set((read("\(parent)/cgroup.subtree_control") ?? "").split(separator: " ").map(String.init))
        return enabled.isSuperset(of: ["memory", "pids"])
    }()

    /// Makes the group `run-<id>` with the memory and process limits of `limits`.
    init(id: String, limits: SandboxLimits) throws {
        path = "\(Self.parent)/run-\(id)"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw VerifierError.sandboxFailure("cannot create cgroup \(path): \(error.localizedDescription)")
        }
        for (file, value) in [("memory.max", "\(limits.memoryBytes)"), ("pids.max", "\(limits.maxProcesses)")] {
            guard Self.write(value, to: "\(path)/\(file)") else {
                remove()
                throw VerifierError.sandboxFailure("cannot write \(value) to \(path)/\(file)")
            }
        }
        _ = Self.write("0", to: "\(path)/memory.swap.max")  // absent without swap accounting
    }

    /// Kills whatever is left in the group and removes it.
    func remove() {
        _ = Self.write("1", to: "\(path)/cgroup.kill")  // Linux 5.14 and later
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(10_000)
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
