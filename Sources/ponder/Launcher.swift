import ArgumentParser
import Foundation
import PonderTraining
import Synchronization
import Torch

/// Data-parallel ranks: started here (`--nproc-per-node N`, as torchrun starts them) or joined from torchrun's
/// environment (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`, `MASTER_PORT`), which torchrun and Slurm set.
struct DistributedOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "Ranks to start on this machine (data-parallel training, as torchrun's --nproc-per-node); 1 trains in this process. Under torchrun or Slurm leave it at 1: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT are read from the environment."
    )
    var nprocPerNode = 1
    @Option(name: .long, help: "libtorch threads in each rank (default: libtorch's own choice).") var threadsPerRank: Int?
    @Option(name: .long, help: "Seconds a rank waits for the others (rendezvous, each collective) before failing.")
    var distributedTimeout = 300.0

    func validate() throws {
        if nprocPerNode < 1 { throw ValidationError("--nproc-per-node must be at least 1") }
        if let threadsPerRank, threadsPerRank < 1 { throw ValidationError("--threads-per-rank must be at least 1") }
        if !(distributedTimeout > 0) { throw ValidationError("--distributed-timeout must be positive") }
    }

    /// Set in the ranks a launcher starts (the launcher's process id).
    static let launcherVariable = "PONDER_LAUNCHER_PID"

    /// Starts the ranks and waits for them when this process is the launcher (`--nproc-per-node` above 1, not itself
    /// a rank); returns false when this process should train.
    func launchIfRequested() throws -> Bool {
        let env = ProcessInfo.processInfo.environment
        guard nprocPerNode > 1, env[Self.launcherVariable] == nil else { return false }
        if env["WORLD_SIZE"] != nil {
            throw ValidationError(
                "--nproc-per-node \(nprocPerNode) under a launcher that already set WORLD_SIZE=\(env["WORLD_SIZE"]!): use one or the other")
        }
        let code = try LocalLauncher(ranks: nprocPerNode, threads: threadsPerRank).run()
        if code != 0 { throw ExitCode(code) }
        return true
    }

    /// This process's part in training: a rank of the group torchrun's environment describes, or a single process.
    func join() throws -> DataParallel {
        let env = ProcessInfo.processInfo.environment
        if let threadsPerRank { Torch.threadCount = threadsPerRank }
        if let launcher = env[Self.launcherVariable].flatMap(Int32.init) { LocalLauncher.exitWhenOrphaned(launcher: launcher) }
        guard let worldText = env["WORLD_SIZE"] else { return .single }
        func number(_ name: String) throws -> Int {
            guard let text = env[name], let value = Int(text), value >= 0 else {
                throw ValidationError("WORLD_SIZE is set, so \(name) must be a non-negative integer (it is \(env[name] ?? "unset"))")
            }
            return value
        }
        guard let world = Int(worldText), world >= 1 else { throw ValidationError("WORLD_SIZE=\(worldText) is not a positive integer") }
        if world == 1 { return .single }
        let rank = try number("RANK")
        guard rank < world else { throw ValidationError("RANK=\(rank) is not below WORLD_SIZE=\(world)") }
        let port = try number("MASTER_PORT")
        guard let host = env["MASTER_ADDR"], !host.isEmpty else { throw ValidationError("WORLD_SIZE is set but MASTER_ADDR is not") }
        let timeout = Duration.milliseconds(Int64(distributedTimeout * 1000))
        // torchrun's agent already serves a store on MASTER_PORT; otherwise rank 0 serves it.
        let agentStore = env["TORCHELASTIC_USE_AGENT_STORE"]?.lowercased() == "true"
        let store = try TCPStore(host: host, port: port, worldSize: world, isServer: rank == 0 && !agentStore, timeout: timeout)
        let loopback = host == "localhost" || host.hasPrefix("127.")
        let group = try ProcessGroup(
            store: store, rank: rank, size: world, hostname: loopback ? "127.0.0.1" : nil, timeout: timeout, threads: 1)
        FileHandle.standardError.write(Data("rank \(rank) of \(world) joined the Gloo group at \(host):\(port)\n".utf8))
        return DataParallel(group: group)
    }
}

/// Starts N ranks of this executable on this machine with torchrun's environment, forwards their output line by line
/// prefixed with the rank, and when one fails stops the others and names it.
struct LocalLauncher {
    let ranks: Int
    let threads: Int?

    /// Runs the ranks to completion; returns the exit code (0 when every rank succeeded).
    func run() throws -> Int32 {
        let port = try TCPStore.freeLoopbackPort()
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let output = OutputForwarder()
        var processes: [Process] = []
        let state = Mutex<(failure: (rank: Int, reason: String)?, running: Int)>((nil, ranks))
        let done = DispatchSemaphore(value: 0)
        FileHandle.standardError.write(Data("starting \(ranks) ranks (MASTER_ADDR=127.0.0.1 MASTER_PORT=\(port))\n".utf8))
        for rank in 0..<ranks {
            let p = Process()
            p.executableURL = executable
            p.arguments = Array(CommandLine.arguments.dropFirst())
            var env = ProcessInfo.processInfo.environment
            env["RANK"] = "\(rank)"
            env["LOCAL_RANK"] = "\(rank)"
            env["WORLD_SIZE"] = "\(ranks)"
            env["LOCAL_WORLD_SIZE"] = "\(ranks)"
            env["MASTER_ADDR"] = "127.0.0.1"
            env["MASTER_PORT"] = "\(port)"
            env[DistributedOptions.launcherVariable] = "\(getpid())"
            if let threads { env["OMP_NUM_THREADS"] = "\(threads)" }
            p.environment = env
            p.standardOutput = output.pipe(rank: rank, to: FileHandle.standardOutput)
            p.standardError = output.pipe(rank: rank, to: FileHandle.standardError)
            p.terminationHandler = { process in
                let failed = process.terminationStatus != 0
                let reason =
                    process.terminationReason == .uncaughtSignal
                    ? "was killed by signal \(process.terminationStatus)" : "exited with status \(process.terminationStatus)"
                let first = state.withLock { s -> Bool in
                    s.running -= 1
                    if failed && s.failure == nil {
                        s.failure = (rank, reason)
                        return true
                    }
                    return false
                }
                if first { done.signal() }
                if state.withLock({ $0.running }) == 0 { done.signal() }
            }
            try p.run()
            FileHandle.standardError.write(Data("rank \(rank): pid \(p.processIdentifier)\n".utf8))
            processes.append(p)
        }
        let started = processes
        // Ctrl-C or SIGTERM to the launcher reaches every rank, which saves a checkpoint and stops.
        let forwarders = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { for p in started where p.isRunning { kill(p.processIdentifier, sig) } }
            source.resume()
            return source
        }
        defer { for source in forwarders { source.cancel() } }
        done.wait()
        if let failure = state.withLock({ $0.failure }) {
            FileHandle.standardError.write(Data("rank \(failure.rank) \(failure.reason); stopping the other ranks\n".utf8))
            for p in processes where p.isRunning { kill(p.processIdentifier, SIGTERM) }
            let deadline = Date().addingTimeInterval(5)
            while processes.contains(where: \.isRunning) && Date() < deadline { usleep(50_000) }
            for p in processes where p.isRunning { kill(p.processIdentifier, SIGKILL) }
            for p in processes { p.waitUntilExit() }
            output.finish()
            FileHandle.standardError.write(Data("error: rank \(failure.rank) failed: it \(failure.reason)\n".utf8))
            return 1
        }
        for p in processes { p.waitUntilExit() }
        output.finish()
        return 0
    }

    /// Ends this rank when its launcher is gone (killed with SIGKILL, it cannot stop its ranks itself).
    static func exitWhenOrphaned(launcher: Int32) {
        let thread = Thread {
            while getppid() == launcher { usleep(200_000) }
            FileHandle.standardError.write(Data("the launcher (pid \(launcher)) is gone; stopping\n".utf8))
            _exit(1)
        }
        thread.start()
    }
}

/// Copies each rank's output to ours a line at a time, prefixed with `[rank N]`, so lines of different ranks never mix.
final class OutputForwarder: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: [ObjectIdentifier: (prefix: String, buffer: Data, target: FileHandle)] = [:]
    private var handles: [FileHandle] = []

    func pipe(rank: Int, to target: FileHandle) -> Pipe {
        let pipe = Pipe()
        let reader = pipe.fileHandleForReading
        lock.withLock {
            pending[ObjectIdentifier(reader)] = ("[rank \(rank)] ", Data(), target)
            handles.append(reader)
        }
        reader.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                self?.flush(handle, final: true)
            } else {
                self?.append(data, from: handle)
            }
        }
        return pipe
    }

    private func append(_ data: Data, from handle: FileHandle) {
        lock.withLock {
            let key = ObjectIdentifier(handle)
            guard var entry = pending[key] else { return }
            entry.buffer.append(data)
            while let newline = entry.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = entry.buffer[entry.buffer.startIndex...newline]
                entry.target.write(Data(entry.prefix.utf8) + line)
                entry.buffer.removeSubrange(entry.buffer.startIndex...newline)
            }
            pending[key] = entry
        }
    }

    private func flush(_ handle: FileHandle, final: Bool) {
        lock.withLock {
            let key = ObjectIdentifier(handle)
            guard let entry = pending[key], !entry.buffer.isEmpty else { return }
            entry.target.write(Data(entry.prefix.utf8) + entry.buffer + Data("\n".utf8))
            pending[key]?.buffer = Data()
        }
    }

    /// Writes what is left after the ranks exited.
    func finish() {
        let readers = lock.withLock { handles }
        for reader in readers {
            reader.readabilityHandler = nil
            let rest = reader.readDataToEndOfFile()
            if !rest.isEmpty { append(rest, from: reader) }
            flush(reader, final: true)
        }
    }
}
