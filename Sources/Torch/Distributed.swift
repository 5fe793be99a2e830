import CTorch
import Foundation

/// A failure of the rendezvous or of a collective, naming the rank that failed and, when it can tell, the peer at
/// fault (one whose heartbeat stopped: dead or hung).
public struct DistributedError: Error, LocalizedError, Sendable, Equatable {
    /// The operation (`allreduce`, `broadcast`, `connecting to the TCPStore`, ...).
    public var operation: String
    /// The rank that saw the failure.
    public var rank: Int
    /// libtorch's (Gloo's or the store's) message.
    public var message: String
    /// Peers whose heartbeat stopped while this rank waited (empty when none could be singled out).
    public var unresponsiveRanks: [Int]
    /// Whether the store (served by rank 0) could not be reached afterwards: rank 0 is gone.
    public var storeUnreachable: Bool

    /// Makes an error; `rank` is -1 when no rank is known (connecting to the store).
    public init(operation: String, rank: Int, message: String, unresponsiveRanks: [Int] = [], storeUnreachable: Bool = false) {
        self.operation = operation
        self.rank = rank
        self.message = message
        self.unresponsiveRanks = unresponsiveRanks
        self.storeUnreachable = storeUnreachable
    }

    public var errorDescription: String? {
        var culprit = ""
        if storeUnreachable {
            culprit = "rank 0 is gone (the store it serves cannot be reached); "
        } else if !unresponsiveRanks.isEmpty {
            let names = unresponsiveRanks.map { "rank \($0)" }.joined(separator: ", ")
            culprit = "\(names) stopped responding (dead or hung); "
        }
        return "\(operation) failed\(rank >= 0 ? " on rank \(rank)" : ""): \(culprit)\(message)"
    }
}

extension TCPStore {
    /// Ignores `SIGPIPE` in this process, once, before any store or Gloo socket exists. A peer that dies while this
    /// rank writes to it must surface as a write error, which Gloo turns into an exception that names the rank; by
    /// default the signal ends the process silently instead. (Python, which PyTorch's c10d normally runs under, ignores
    /// `SIGPIPE` at startup for the same reason.)
    static let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, released): a port for a store
    /// served on this machine (`MASTER_PORT` of a one-machine launch).
    public static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            throw DistributedError(operation: "picking a free port", rank: -1, message: "cannot open a socket (errno \(errno))")
        }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            throw DistributedError(operation: "picking a free port", rank: -1, message: "cannot bind a port on 127.0.0.1 (errno \(errno))")
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// libtorch's `c10d::TCPStore`: a key-value store one process serves and every rank reaches, used for rendezvous.
public final class TCPStore: @unchecked Sendable {
    let handle: pt_store
    /// The host the store is served on.
    public let host: String
    /// The port it listens on (the bound one when created with port 0).
    public let port: Int

    /// Serves the store (`isServer`, on rank 0) or connects to it, waiting up to `timeout` for the server and, when
    /// serving, for `worldSize` clients (the server counts as one).
    public init(host: String, port: Int, worldSize: Int, isServer: Bool, timeout: Duration) throws {
        Self.ignoreBrokenPipes
        var out: pt_store?
        guard pt_store_create(&out, host, Int32(port), Int32(worldSize), isServer, timeout.milliseconds) == 0, let out else {
            throw DistributedError(
                operation: isServer ? "serving the TCPStore on \(host):\(port)" : "connecting to the TCPStore at \(host):\(port)",
                rank: isServer ? 0 : -1, message: String(cString: pt_last_error()))
        }
        handle = out
        self.host = host
        self.port = Int(pt_store_port(out))
    }

    deinit { pt_store_free(handle) }

    /// Sets `key` to `value`.
    public func set(_ key: String, _ value: [UInt8]) throws {
        try storeCall("set \(key)") { pt_store_set(handle, key, value, value.count) }
    }

    /// The value of `key`, waiting for it up to the store's timeout.
    public func get(_ key: String) throws -> [UInt8] {
        var data: UnsafeMutablePointer<UInt8>?
        var n = 0
        try storeCall("get \(key)") { pt_store_get(handle, key, &data, &n) }
        defer { free(data) }
        return Array(UnsafeBufferPointer(start: data, count: n))
    }

    /// Adds `delta` to the integer at `key` (0 when absent) and returns the new value.
    @discardableResult
    public func add(_ key: String, _ delta: Int64) throws -> Int64 {
        var value: Int64 = 0
        try storeCall("add \(key)") { pt_store_add(handle, key, delta, &value) }
        return value
    }

    private func storeCall(_ what: String, _ body: () -> Int32) throws {
        guard body() == 0 else {
            throw DistributedError(operation: "TCPStore \(what) at \(host):\(port)", rank: -1, message: String(cString: pt_last_error()))
        }
    }
}

/// How `ProcessGroup.allReduce` combines the ranks' values.
public enum ReduceOperation: Sendable {
    case sum, average, max, min

    var code: pt_collective_op {
        switch self {
        case .sum: PT_REDUCE_SUM
        case .average: PT_REDUCE_AVG
        case .max: PT_REDUCE_MAX
        case .min: PT_REDUCE_MIN
        }
    }
}

/// A group of ranks running collectives over libtorch's `c10d::ProcessGroupGloo` (CPU tensors).
///
/// Every rank must call the same collectives in the same order with tensors of the same shapes and dtypes. Each
/// call gives up after `timeout`; a failure throws ``DistributedError`` naming this rank and the peer whose
/// heartbeat stopped (each rank bumps a counter in the store every `heartbeat`, so a dead or hung peer is told
/// apart from a slow one).
public final class ProcessGroup: @unchecked Sendable {
    let handle: pt_group
    /// This process's rank, 0 ..< size.
    public let rank: Int
    /// The number of ranks.
    public let size: Int
    /// How long a collective waits for its peers.
    public let timeout: Duration
    let heartbeat: Duration
    /// Keeps the store alive as long as the group (rank 0 serves it).
    public let store: TCPStore

    /// Joins the group of `size` ranks meeting through `store`. `hostname` is the address this rank's Gloo device
    /// binds (default: this machine's hostname, or the interface in `GLOO_SOCKET_IFNAME`); `threads` is Gloo's
    /// worker threads.
    public init(
        store: TCPStore, rank: Int, size: Int, hostname: String? = nil, timeout: Duration = .seconds(300), threads: Int = 1,
        heartbeat: Duration = .milliseconds(500)
    ) throws {
        precondition(rank >= 0 && rank < size, "rank \(rank) is not in 0..<\(size)")
        var out: pt_group?
        let status = pt_group_create_gloo(
            &out, store.handle, store.host, Int32(store.port), Int32(rank), Int32(size), hostname ?? "", timeout.milliseconds,
            Int32(threads),
            heartbeat.milliseconds)
        guard status == 0, let out else {
            throw DistributedError(
                operation: "joining the Gloo group of \(size) ranks", rank: rank, message: String(cString: pt_last_error()))
        }
        handle = out
        self.rank = rank
        self.size = size
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.store = store
    }

    deinit { pt_group_free(handle) }

    /// Reduces `tensors` in place across ranks (they travel as one buffer per dtype); returns the bytes this rank
    /// contributed.
    @discardableResult
    public func allReduce(_ tensors: [Tensor], _ operation: ReduceOperation = .sum) throws -> Int {
        var bytes: Int64 = 0
        try collective("allreduce", tensors) { handles in pt_group_allreduce(handle, handles, Int32(handles.count), operation.code, &bytes)
        }
        return Int(bytes)
    }

    /// The ranks' `values` combined element-wise (every rank passes the same count).
    public func allReduce(_ values: [Double], _ operation: ReduceOperation = .sum) throws -> [Double] {
        guard !values.isEmpty else { return [] }
        let t = Tensor(values)
        try allReduce([t], operation)
        return t.toArray(Double.self)
    }

    /// All-reduces the gradients of `parameters` (summed, or averaged) in buckets of at most `bucketBytes`; a
    /// parameter without a gradient contributes zeros and receives the reduced gradient. Returns the bytes sent into
    /// reductions.
    @discardableResult
    public func allReduceGradients(of parameters: [Tensor], bucketBytes: Int = 25 << 20, average: Bool) throws -> Int {
        var bytes: Int64 = 0
        try collective("allreduce of gradients", parameters) { handles in
            pt_group_allreduce_gradients(handle, handles, Int32(handles.count), Int64(bucketBytes), average, &bytes)
        }
        return Int(bytes)
    }

    /// Copies rank `root`'s values of `tensors` into every rank's, in place.
    public func broadcast(_ tensors: [Tensor], from root: Int = 0) throws {
        try collective("broadcast", tensors) { handles in pt_group_broadcast(handle, handles, Int32(handles.count), Int32(root)) }
    }

    /// Every rank's `tensor` (the same shape on every rank), stacked: (size, ...).
    public func allGather(_ tensor: Tensor) throws -> Tensor {
        var out: pt_tensor?
        try collective("allgather", [tensor]) { handles in pt_group_allgather(&out, handle, handles[0]!) }
        return Tensor(handle: out!)
    }

    /// Waits until every rank reaches the barrier.
    public func barrier() throws {
        try collective("barrier", []) { _ in pt_group_barrier(handle) }
    }

    /// Ranks whose heartbeat does not advance over a few heartbeat periods, or `nil` when the store cannot be
    /// reached (rank 0, which serves it, is gone).
    public func unresponsiveRanks() -> [Int]? {
        var ranks = [Int32](repeating: 0, count: size)
        var count: Int32 = 0
        let status = pt_group_unresponsive(handle, heartbeat.milliseconds * 4, &ranks, &count)
        if status == 2 { return nil }
        return ranks.prefix(Int(count)).map(Int.init)
    }

    /// Runs a collective over `tensors`' handles; on failure names the peers whose heartbeat stopped.
    private func collective(_ name: String, _ tensors: [Tensor], _ body: ([pt_tensor?]) -> Int32) throws {
        let handles: [pt_tensor?] = tensors.map(\.handle)
        let status = withExtendedLifetime(tensors) { body(handles) }
        guard status != 0 else { return }
        let message = String(cString: pt_last_error())
        let culprits = unresponsiveRanks()
        throw DistributedError(
            operation: name, rank: rank, message: message, unresponsiveRanks: culprits ?? [], storeUnreachable: culprits == nil && rank != 0
        )
    }
}

extension Duration {
    /// Whole milliseconds (rounded down).
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
