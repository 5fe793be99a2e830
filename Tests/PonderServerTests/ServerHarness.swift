import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PonderCore
import PonderModels
import PonderServer
import ServiceLifecycle

/// The repository root (for the bundled model and the fixtures).
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixtures = repository.appendingPathComponent("Tests/PonderServerTests/Fixtures")

/// The bundled tiny model with the fixture chat template, loaded once for every test.
let sharedEngine: Engine = {
    let engine = try! Engine.load(repository.appendingPathComponent("Models/ponder-tiny-base"))
    let source = try! String(contentsOf: fixtures.appendingPathComponent("tiny-chat.jinja"), encoding: .utf8)
    return try! engine.replacingChatTemplate(source, origin: "tiny-chat.jinja")
}()

/// `ponder serve` started in-process on an ephemeral loopback port.
final class RunningServer: Sendable {
    let server: OpenAIServer
    let group: ServiceGroup
    let task: Task<Void, Error>
    let port: Int
    var base: String { "http://127.0.0.1:\(port)" }

    private init(server: OpenAIServer, group: ServiceGroup, task: Task<Void, Error>, port: Int) {
        self.server = server
        self.group = group
        self.task = task
        self.port = port
    }

    static func start(_ configuration: ServerConfiguration = ServerConfiguration(port: 0), engine: Engine = sharedEngine) async throws
        -> RunningServer
    {
        var configuration = configuration
        configuration.port = 0
        configuration.host = "127.0.0.1"
        let server = OpenAIServer(engine: engine, configuration: configuration)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let group = ServiceGroup(
            configuration: .init(
                services: [server.application(onServerRunning: { continuation.yield($0) }), server.drainService], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw RemoteTestError.noPort }
        return RunningServer(server: server, group: group, task: task, port: port)
    }

    /// Graceful shutdown: drain, then close.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}

enum RemoteTestError: Error { case noPort }

/// One HTTP exchange's result.
struct HTTPResult {
    var status: Int
    var body: String
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    /// The `data:` payloads of a server-sent event stream.
    var events: [String] {
        body.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }
}

func http(
    _ method: HTTPMethod, _ url: String, json: Any? = nil, raw: String? = nil, headers: [String: String] = [:]
) async throws -> HTTPResult {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (k, v) in headers { request.headers.add(name: k, value: v) }
    if let json {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)))
    } else if let raw {
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: raw))
    }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
    let body = try await response.body.collect(upTo: 16 << 20)
    return HTTPResult(status: Int(response.status.code), body: String(buffer: body))
}

/// The instruction the tiny model was trained with.
let question = "Think in <think></think>, answer in <answer></answer>.\nCompute 12+7-3.\n"
