import Foundation
import PonderCore
import XCTest

@testable import PonderVerifiers

/// Collects failure reports from several tasks.
final class Reports: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
}

final class ExternalRewardTests: XCTestCase {
    let problem = Problem.math(id: "p7", prompt: "What is 6 * 7?", answer: "42", metadata: ["source": "test"])

    /// A scorer in plain sh: 1 when the completion mentions 42, else 0; "skip" completions are unscored (null).
    static let scorer = #"while IFS= read -r line; do case "$line" in *'"completion":"skip'*) echo null;; *'"completion":"'*42*'","id"'*) echo '{"reward": 1}';; *) echo '{"reward": 0}';; esac; done"#

    func testCommandRewardScoresEachCompletion() async throws {
        let reports = Reports()
        let reward = try CommandReward(command: Self.scorer, timeout: 5, concurrency: 2, onFailure: reports.add)
        let scores = try await reward.rewards(for: ["it is 42", "it is 41", "skip this", "42 again"], problem: problem)
        XCTAssertEqual(scores, [1, 0, nil, 1])
        XCTAssertEqual(reports.all, [], "null is an answer, not a failure")
        // The request carries the problem's fields.
        let line = try CommandReward.request(completion: "x", problem: problem)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual(object["answer"] as? String, "42")
        XCTAssertEqual(object["prompt"] as? String, "What is 6 * 7?")
        XCTAssertEqual((object["metadata"] as? [String: String])?["source"], "test")
    }

    /// A scorer that never answers times out: the completion is unscored, the reason reported, and training goes on.
    func testStuckScorerTimesOut() async throws {
        let reports = Reports()
        let reward = try CommandReward(command: "sleep 60", timeout: 0.3, onFailure: reports.add)
        let started = Date()
        let scores = try await reward.rewards(for: ["a"], problem: problem)
        XCTAssertEqual(scores, [nil])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "two tries of 0.3 s, not 60 s")
        XCTAssertEqual(reports.all.count, 1)
        XCTAssertTrue(reports.all[0].contains("no reply within 0.3 s"), "\(reports.all)")
    }

    /// A scorer that crashes on its first request is restarted and the request retried; malformed replies fail after
    /// the retry with the reply named.
    func testCrashIsRetriedAndGarbageIsReported() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-crash-\(UUID().uuidString)").path
        let flaky = "if [ ! -e \(marker) ]; then touch \(marker); exit 3; fi; " + Self.scorer
        let reports = Reports()
        let reward = try CommandReward(command: flaky, timeout: 5, onFailure: reports.add)
        let first = try await reward.rewards(for: ["42"], problem: problem)
        XCTAssertEqual(first, [1])
        XCTAssertEqual(reports.all, [])
        let garbage = try CommandReward(command: "while read -r l; do echo 'reward=1'; done", timeout: 5, onFailure: reports.add)
        let unscored = try await garbage.rewards(for: ["42"], problem: problem)
        XCTAssertEqual(unscored, [nil])
        XCTAssertTrue(reports.all.last?.contains("\"reward=1\" is not {\"reward\"") == true, "\(reports.all)")
        XCTAssertThrowsError(try CommandReward(command: " ", timeout: 1))
    }

    /// The HTTP reward posts each completion to an endpoint on loopback and reads the same replies; a failing status is
    /// retried, then unscored.
    func testHTTPReward() async throws {
        let server = try LoopbackServer { body in
            if body.contains("\"completion\":\"fail") { return (500, "oops") }
            return (200, body.contains("\"completion\":\"it is 42") ? "{\"reward\": 1}" : "{\"reward\": 0}")
        }
        defer { server.stop() }
        let reports = Reports()
        let reward = try HTTPReward(url: URL(string: "http://127.0.0.1:\(server.port)/score")!, timeout: 5, concurrency: 2, onFailure: reports.add)
        let scores = try await reward.rewards(for: ["it is 42", "no", "fail please"], problem: problem)
        XCTAssertEqual(scores, [1, 0, nil])
        XCTAssertEqual(server.requests, 4, "three completions, the failing one tried twice")
        XCTAssertTrue(reports.all.first?.contains("status 500") == true, "\(reports.all)")
        XCTAssertThrowsError(try HTTPReward(url: URL(string: "file:///tmp/x")!))
    }
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 for tests: answers each POST with `handler(body)`, then closes.
final class LoopbackServer: @unchecked Sendable {
    let port: Int
    private let socket: Int32
    private let lock = NSLock()
    private var count = 0
    private var running = true
    var requests: Int { lock.withLock { count } }

    init(handler: @escaping @Sendable (String) -> (Int, String)) throws {
        let fd = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        withUnsafeMutablePointer(to: &address) { p in
            _ = p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        socket = fd
        let listener = fd
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { break }
                var data = Data()
                var buffer = [UInt8](repeating: 0, count: 65536)
                // Read the head, then the body by Content-Length.
                while true {
                    let n = recv(client, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    data.append(buffer, count: n)
                    let text = String(decoding: data, as: UTF8.self)
                    if let end = text.range(of: "\r\n\r\n") {
                        let head = text[..<end.lowerBound].lowercased()
                        let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                        if text.utf8.count - text[..<end.upperBound].utf8.count >= length { break }
                    }
                }
                let text = String(decoding: data, as: UTF8.self)
                let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
                lock.withLock { count += 1 }
                let (status, reply) = handler(body)
                let response =
                    "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Error")\r\nContent-Type: application/json\r\nContent-Length: \(reply.utf8.count)\r\nConnection: close\r\n\r\n\(reply)"
                _ = response.withCString { send(client, $0, strlen($0), 0) }
                close(client)
            }
        }
    }

    func stop() {
        lock.withLock { running = false }
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }
}
