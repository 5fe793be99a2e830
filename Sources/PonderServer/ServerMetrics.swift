import Foundation
import Prometheus

/// The server's Prometheus metrics (served at `GET /metrics` in the text exposition format).
///
/// - `ponder_requests_total{route,status}`: requests answered, by route and status code.
/// - `ponder_generated_tokens_total` and `ponder_prompt_tokens_total`: tokens generated and read (their rate is
///   the server's tokens per second); `ponder_tokens_per_second`: generation speed of the last finished request.
/// - `ponder_queue_depth`: requests admitted and not yet answered; `ponder_requests_in_flight` the same.
/// - `ponder_time_to_first_token_seconds` and `ponder_request_duration_seconds`: histograms.
public final class ServerMetrics: Sendable {
    /// The registry the metrics live in.
    public let registry = PrometheusCollectorRegistry()
    let generatedTokens: Counter
    let promptTokens: Counter
    let tokensPerSecond: Gauge
    let queueDepth: Gauge
    let timeToFirstToken: DurationHistogram
    let latency: DurationHistogram
    private let statusCounters = Locked<[String: Counter]>([:])

    /// Makes the metrics in a new registry.
    public init() {
        generatedTokens = registry.makeCounter(descriptor: .init(metricName: "ponder_generated_tokens", unitName: "total", helpText: "Tokens generated (all completions)."))
        promptTokens = registry.makeCounter(descriptor: .init(metricName: "ponder_prompt_tokens", unitName: "total", helpText: "Prompt tokens read."))
        tokensPerSecond = registry.makeGauge(
            descriptor: .init(metricName: "ponder_tokens", unitName: "per_second", helpText: "Generated tokens per second of the last request."))
        queueDepth = registry.makeGauge(descriptor: .init(metricName: "ponder_queue", unitName: "depth", helpText: "Requests admitted and not yet answered."))
        let buckets: [Duration] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        timeToFirstToken = registry.makeDurationHistogram(
            descriptor: .init(
                metricName: "ponder_time_to_first_token", unitName: "seconds", helpText: "Time from request to the first streamed token."),
            buckets: buckets)
        latency = registry.makeDurationHistogram(
            descriptor: .init(
                metricName: "ponder_request_duration", unitName: "seconds", helpText: "Time from request to the last byte of the answer."),
            buckets: buckets)
    }

    /// Counts one answered request.
    func count(route: String, status: Int) {
        let key = "\(route) \(status)"
        let counter = statusCounters.withLock { counters in
            if let c = counters[key] { return c }
            let c = registry.makeCounter(
                descriptor: .init(metricName: "ponder_requests", unitName: "total", helpText: "Requests answered."),
                labels: [("route", route), ("status", String(status))])
            counters[key] = c
            return c
        }
        counter.increment()
    }

    /// Records a finished generation.
    func generated(promptTokens p: Int, completionTokens c: Int, seconds: Double) {
        promptTokens.increment(by: Int64(p))
        generatedTokens.increment(by: Int64(c))
        if seconds > 0 { tokensPerSecond.set(Double(c) / seconds) }
    }

    /// The metrics in Prometheus' text format.
    public func text() -> String { registry.emitToString() }
}

/// A lock around a value (Foundation's NSLock, kept small).
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
