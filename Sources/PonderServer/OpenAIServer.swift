import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import PonderCore
import PonderModels
import ServiceLifecycle

/// Settings of ``OpenAIServer``.
public struct ServerConfiguration: Sendable {
    /// Address to listen on (loopback by default).
    public var host: String
    /// Port; 0 picks a free one (see ``OpenAIServer/application(onServerRunning:)``).
    public var port: Int
    /// When set, `/v1/*` requests need `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// The name `/v1/models` lists and requests must use (default: the model directory's name).
    public var modelName: String?
    /// Largest request body, in bytes; larger is a 413.
    public var maxBodyBytes: Int
    /// Time allowed for a request body to arrive; a slower client gets a 408.
    public var bodyTimeout: Duration
    /// Most requests admitted at once (running or queued in the engine); past it a 429.
    public var maxQueuedRequests: Int
    /// Most completions one request may ask for (`n`).
    public var maxN: Int
    /// Time to wait, once shutdown starts, for requests in flight to finish.
    public var drainTimeout: Duration

    /// Makes a configuration.
    public init(
        host: String = "127.0.0.1", port: Int = 8000, apiKey: String? = nil, modelName: String? = nil, maxBodyBytes: Int = 1 << 20,
        bodyTimeout: Duration = .seconds(10), maxQueuedRequests: Int = 256, maxN: Int = 16, drainTimeout: Duration = .seconds(60)
    ) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.modelName = modelName
        self.maxBodyBytes = maxBodyBytes
        self.bodyTimeout = bodyTimeout
        self.maxQueuedRequests = maxQueuedRequests
        self.maxN = maxN
        self.drainTimeout = drainTimeout
    }
}

/// An OpenAI-compatible HTTP server over a local ``Engine`` (Hummingbird 2).
///
/// Routes: `GET /v1/models` (and `/v1/models/{id}`), `POST /v1/chat/completions`, `POST /v1/completions`,
/// `GET /health`, `GET /metrics`. Concurrent requests go to the engine as they come; the engine batches them.
/// A request may ask for test-time compute (``StrategySpec``). Shutdown (SIGTERM/SIGINT, or a service group's
/// graceful shutdown) first refuses new requests with 503 and waits for those in flight, then closes.
public final class OpenAIServer: Sendable {
    /// The engine requests run on.
    public let engine: Engine
    /// Settings.
    public let configuration: ServerConfiguration
    /// Prometheus metrics.
    public let metrics = ServerMetrics()
    /// The model name clients use.
    public var modelName: String { configuration.modelName ?? engine.name }
    let logger: Logger
    let created = Int(Date().timeIntervalSince1970)

    struct State {
        var inFlight = 0
        var draining = false
    }
    let state = Locked(State())

    /// Makes a server; nothing listens until it runs.
    public init(engine: Engine, configuration: ServerConfiguration = ServerConfiguration(), logger: Logger? = nil) {
        self.engine = engine
        self.configuration = configuration
        var l = logger ?? Logger(label: "ponder.serve")
        if logger == nil { l.logLevel = .warning }
        self.logger = l
    }

    /// The Hummingbird application (a `Service`): run it in a `ServiceGroup` beside ``drainService``, or use ``run()``.
    /// `onServerRunning` receives the port the server listens on (useful with port 0).
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let http1 = HTTP1Channel.Configuration(idleTimeout: .seconds(120))
        return Application(
            responder: OpenAIResponder(server: self), server: .http1(configuration: http1),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port), serverName: "ponder"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// A service that, on graceful shutdown, makes the server refuse new requests (503) and waits until those in
    /// flight are answered (at most ``ServerConfiguration/drainTimeout``). Put it after the application in a
    /// `ServiceGroup`: a group shuts its services down in reverse order, so the drain runs while the server still
    /// listens.
    public var drainService: some Service { DrainService(server: self) }

    /// Serves until SIGTERM or SIGINT, then drains and stops.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [application(onServerRunning: onServerRunning), drainService], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    /// Starts refusing new requests with 503.
    public func beginDraining() { state.withLock { $0.draining = true } }

    /// Whether the server refuses new requests.
    public var isDraining: Bool { state.withLock { $0.draining } }

    /// Requests admitted and not yet answered.
    public var inFlight: Int { state.withLock { $0.inFlight } }

    /// Returns once no request is in flight, or after `timeout`; `true` when idle.
    @discardableResult
    public func waitUntilIdle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while inFlight > 0 {
            if ContinuousClock.now >= deadline || Task.isCancelled { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Admits a request, or throws 503 (draining) or 429 (queue full). The admission ends when the returned token
    /// is released or dropped (a streamed body that is never written still frees its place).
    func admit() throws -> Admission {
        let error: APIError? = state.withLock { s in
            if s.draining {
                return APIError(status: 503, message: "the server is shutting down", type: "service_unavailable", code: "shutting_down")
            }
            if s.inFlight >= configuration.maxQueuedRequests {
                return APIError(
                    status: 429, message: "the queue is full (\(configuration.maxQueuedRequests) requests); retry later",
                    type: "rate_limit_error", code: "queue_full")
            }
            s.inFlight += 1
            return nil
        }
        if let error { throw error }
        metrics.queueDepth.increment()
        return Admission(server: self)
    }

    /// Marks an admitted request answered.
    func release() {
        state.withLock { $0.inFlight -= 1 }
        metrics.queueDepth.decrement()
    }
}

/// One admitted request's place in the queue; released once, at the latest when dropped.
final class Admission: Sendable {
    let server: OpenAIServer
    private let done = Locked(false)
    init(server: OpenAIServer) { self.server = server }
    func release() {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        if first { server.release() }
    }
    deinit { release() }
}

struct DrainService: Service {
    let server: OpenAIServer
    func run() async throws {
        // Wait for the group's graceful shutdown (or cancellation), then drain.
        try? await gracefulShutdown()
        server.beginDraining()
        await server.waitUntilIdle(timeout: server.configuration.drainTimeout)
    }
}
