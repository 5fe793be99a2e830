import ArgumentParser
import Foundation
import PonderModels
import PonderServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve a model over an OpenAI-compatible HTTP API (chat and text completions, streaming, per-request strategies).",
        discussion: """
            Routes: GET /v1/models, POST /v1/chat/completions, POST /v1/completions, GET /health, GET /metrics.
            reasoning_effort low / medium / high caps thinking at 256 / 1024 / 4096 tokens. A request asks for test-time
            compute with "ponder": {"strategy": "self-consistency", "n": 8} or a model name like self-consistency-8/MODEL.
            SIGTERM or SIGINT drains the requests in flight (new ones get 503), then stops.
            """)

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .long, help: "Address to listen on.") var host = "127.0.0.1"
    @Option(name: .long, help: "Port to listen on (0 picks a free one).") var port = 8000
    @Option(name: .long, help: "Environment variable holding the API key clients must send (default: no key).") var apiKeyEnv: String?
    @Option(name: .long, help: "Model name clients use (default: the model directory's name).") var servedModelName: String?
    @Option(name: .long, help: "Most requests admitted at once; past it the server answers 429.") var maxQueuedRequests = 256
    @Option(name: .long, help: "Largest request body in bytes; larger gets 413.") var maxBodyBytes = 1 << 20
    @Option(name: .long, help: "Most completions per request (n).") var maxN = 16
    @Option(name: .long, help: "A Jinja chat template file to use instead of the model's own (for models that ship none).")
    var chatTemplate: String?

    func validate() throws {
        if !(0...65535).contains(port) { throw ValidationError("--port \(port): must be between 0 and 65535") }
        if maxQueuedRequests < 1 { throw ValidationError("--max-queued-requests must be at least 1") }
        if maxBodyBytes < 1024 { throw ValidationError("--max-body-bytes must be at least 1024") }
        if maxN < 1 { throw ValidationError("--max-n must be at least 1") }
    }

    func run() async throws {
        var apiKey: String?
        if let apiKeyEnv {
            guard let key = ProcessInfo.processInfo.environment[apiKeyEnv], !key.isEmpty else {
                throw ValidationError("--api-key-env \(apiKeyEnv): that environment variable is not set or empty")
            }
            apiKey = key
        }
        var engine = try modelOptions.loadEngine()
        if let chatTemplate {
            guard let data = FileManager.default.contents(atPath: chatTemplate) else {
                throw ValidationError("--chat-template \(chatTemplate): cannot read the file")
            }
            engine = try engine.replacingChatTemplate(
                String(decoding: data, as: UTF8.self), origin: chatTemplate,
                options: Engine.Options(prefixCacheBytes: modelOptions.noPrefixCache ? 0 : 256 << 20))
        }
        let server = OpenAIServer(
            engine: engine,
            configuration: ServerConfiguration(
                host: host, port: port, apiKey: apiKey, modelName: servedModelName, maxBodyBytes: maxBodyBytes,
                maxQueuedRequests: maxQueuedRequests, maxN: maxN))
        let banner = "serving \(server.modelName) on http://\(host):PORT/v1 (\(apiKey == nil ? "no API key" : "API key required"))"
        try await server.run { port in
            FileHandle.standardOutput.write(Data((banner.replacingOccurrences(of: "PORT", with: String(port)) + "\n").utf8))
        }
        print("stopped")
    }
}
