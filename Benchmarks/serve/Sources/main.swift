// Load, abuse and throughput checks for `ponder serve`, on loopback only, bounded in count and time.
//
//   serve-bench load  --url URL --server-pid PID [--clients 64] [--requests 256] [--max-tokens 32]
//   serve-bench abuse --url URL --server-pid PID [--requests 1000]
//   serve-bench throughput --url URL --model DIR [--requests 32] [--max-tokens 48] [--concurrency 1,8,32]
//
// Each prints human-readable lines and one JSON line (prefixed `{`) with the figures.
import AsyncHTTPClient
import Foundation
import NIOCore
import PonderCore
import PonderModels

#if canImport(Glibc)
import Glibc
#endif

/// A client with room for every concurrent stream (AsyncHTTPClient's shared client keeps 8 connections per host).
let client: HTTPClient = {
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 256)
    return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
}()

let question = "Think in <think></think>, answer in <answer></answer>.\nCompute 12+7-3.\n"
let model = "ponder-tiny-base"

struct Arguments {
    var values: [String: String] = [:]
    var command = ""
    init() {
        var args = CommandLine.arguments.dropFirst()
        command = args.popFirst() ?? ""
        while let a = args.popFirst() {
            guard a.hasPrefix("--") else { fatalError("unexpected argument \(a)") }
            values[String(a.dropFirst(2))] = args.popFirst() ?? ""
        }
    }
    func int(_ k: String, _ d: Int) -> Int { values[k].flatMap(Int.init) ?? d }
    func string(_ k: String) -> String {
        guard let v = values[k] else { fatalError("--\(k) is required") }
        return v
    }
}

/// Resident and peak resident memory of a process, in MiB (from /proc).
func memory(pid: Int32) -> (rss: Double, peak: Double) {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (0, 0) }
    func field(_ name: String) -> Double {
        let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
        // "VmHWM:\t 5331620 kB", with no blank but the tab past 9,999,999 kB: split on any blank.
        let fields = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
        return (Double(fields.first ?? "0") ?? 0) / 1024
    }
    return (field("VmRSS"), field("VmHWM"))
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    guard !xs.isEmpty else { return .nan }
    let s = xs.sorted()
    return s[min(s.count - 1, Int((p / 100 * Double(s.count - 1)).rounded()))]
}

func post(_ url: String, _ body: ByteBuffer, contentType: String = "application/json") async throws -> (Int, ByteBuffer) {
    var r = HTTPClientRequest(url: url)
    r.method = .POST
    r.headers.add(name: "Content-Type", value: contentType)
    r.body = .bytes(body)
    let response = try await client.execute(r, timeout: .seconds(300))
    return (Int(response.status.code), try await response.body.collect(upTo: 64 << 20))
}

func json(_ object: Any) -> ByteBuffer { ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object)) }

// MARK: load

/// One streamed chat completion, checked chunk by chunk; returns (total seconds, time to first token) or a reason.
func streamOnce(_ base: String, seed: Int, maxTokens: Int) async -> Result<(Double, Double), StreamFailure> {
    let start = ContinuousClock.now
    var r = HTTPClientRequest(url: base + "/v1/chat/completions")
    r.method = .POST
    r.headers.add(name: "Content-Type", value: "application/json")
    r.body = .bytes(
        json([
            "model": model, "messages": [["role": "user", "content": question]], "max_tokens": maxTokens, "seed": seed, "n": 1,
            "stream": true, "stream_options": ["include_usage": true],
        ]))
    do {
        let response = try await client.execute(r, timeout: .seconds(600))
        guard response.status.code == 200 else { return .failure(.init("status \(response.status.code)")) }
        var text = ""
        var ttft: Double?
        for try await part in response.body {
            if ttft == nil { ttft = (ContinuousClock.now - start).seconds }
            text += String(buffer: part)
        }
        let events = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        guard events.last == "data: [DONE]" else { return .failure(.init("no [DONE] at the end")) }
        var id: String?
        var finishes = 0
        var sawUsage = false
        for e in events.dropLast() {
            guard e.hasPrefix("data: "), let o = try? JSONSerialization.jsonObject(with: Data(e.dropFirst(6).utf8)) as? [String: Any] else {
                return .failure(.init("an event is not JSON: \(e.prefix(80))"))
            }
            guard let cid = o["id"] as? String, id == nil || id == cid else { return .failure(.init("chunk ids differ")) }
            id = cid
            let choices = o["choices"] as? [[String: Any]] ?? []
            if choices.isEmpty, o["usage"] != nil { sawUsage = true }
            for c in choices {
                guard c["index"] as? Int == 0 else { return .failure(.init("unexpected choice index")) }
                if c["finish_reason"] is String { finishes += 1 }
            }
        }
        guard finishes == 1 else { return .failure(.init("\(finishes) finish reasons")) }
        guard sawUsage else { return .failure(.init("no usage chunk")) }
        return .success(((ContinuousClock.now - start).seconds, ttft ?? 0))
    } catch {
        return .failure(.init("\(error)"))
    }
}

struct StreamFailure: Error {
    var reason: String
    init(_ r: String) { reason = r }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

func load(_ a: Arguments) async {
    let base = a.string("url")
    let pid = Int32(a.int("server-pid", 0))
    let clients = a.int("clients", 64)
    let total = a.int("requests", 256)
    let maxTokens = a.int("max-tokens", 32)
    let before = memory(pid: pid)
    let next = Counter()
    let start = ContinuousClock.now
    let results = await withTaskGroup(of: [Result<(Double, Double), StreamFailure>].self) { group in
        for _ in 0..<clients {
            group.addTask {
                var out: [Result<(Double, Double), StreamFailure>] = []
                while let i = await next.take(below: total) { out.append(await streamOnce(base, seed: i, maxTokens: maxTokens)) }
                return out
            }
        }
        var all: [Result<(Double, Double), StreamFailure>] = []
        for await r in group { all += r }
        return all
    }
    let wall = (ContinuousClock.now - start).seconds
    let after = memory(pid: pid)
    var latencies: [Double] = []
    var ttfts: [Double] = []
    var failures: [String: Int] = [:]
    for r in results {
        switch r {
        case .success(let (l, t)):
            latencies.append(l)
            ttfts.append(t)
        case .failure(let f): failures[f.reason, default: 0] += 1
        }
    }
    print("load: \(clients) streaming clients, \(total) requests of \(maxTokens) tokens in \(String(format: "%.1f", wall)) s")
    print("  complete and well-formed: \(latencies.count), lost or corrupted: \(total - latencies.count) \(failures)")
    print(
        String(
            format: "  latency p50 %.2f s  p90 %.2f s  p99 %.2f s | first byte p50 %.2f s  p99 %.2f s", percentile(latencies, 50),
            percentile(latencies, 90), percentile(latencies, 99), percentile(ttfts, 50), percentile(ttfts, 99)))
    print(String(format: "  server RSS %.0f MiB before, %.0f MiB after, peak %.0f MiB", before.rss, after.rss, after.peak))
    let record: [String: Any] = [
        "bench": "load", "clients": clients, "requests": total, "ok": latencies.count, "failed": total - latencies.count,
        "p50": percentile(latencies, 50), "p90": percentile(latencies, 90), "p99": percentile(latencies, 99),
        "ttft_p50": percentile(ttfts, 50), "ttft_p99": percentile(ttfts, 99), "rss_before_mib": before.rss, "rss_after_mib": after.rss,
        "peak_rss_mib": after.peak, "seconds": wall,
    ]
    print(String(decoding: try! JSONSerialization.data(withJSONObject: record, options: .sortedKeys), as: UTF8.self))
    if latencies.count != total { exit(1) }
}

actor Counter {
    var value = 0
    func take(below limit: Int) -> Int? {
        guard value < limit else { return nil }
        defer { value += 1 }
        return value
    }
}

// MARK: abuse

/// The malformed request number `i`: a body, its route, and what it tests.
func malformed(_ i: Int) -> (String, ByteBuffer, String) {
    let chat = "/v1/chat/completions"
    let m: [[String: Any]] = [["role": "user", "content": "hi"]]
    switch i % 16 {
    case 0: return (chat, ByteBuffer(string: "{\"model\": \"\(model)\", \"messages\": ["), "truncated JSON")
    case 1: return (chat, ByteBuffer(string: "not json at all \(i)"), "not JSON")
    case 2: return (chat, json(["model": model, "messages": "hello"]), "messages of the wrong type")
    case 3: return (chat, json(["model": model, "messages": m, "max_tokens": "many"]), "max_tokens of the wrong type")
    case 4: return (chat, json(["model": model, "messages": m, "n": -i]), "negative n")
    case 5: return (chat, json(["model": model, "messages": m, "n": 1 << 40]), "huge n")
    case 6: return (chat, json(["model": model, "messages": m, "max_tokens": -5]), "negative max_tokens")
    case 7: return (chat, json(["model": model, "messages": m, "max_tokens": Int.max]), "huge max_tokens")
    case 8: return (chat, json(["model": model, "messages": m, "frobnicate\(i)": true]), "unknown field")
    case 9: return (chat, ByteBuffer(string: String(repeating: "[", count: 100_000)), "deep nesting")
    case 10:
        return (chat, json(["model": model, "messages": [["role": "user", "content": String(repeating: "x", count: 2 << 20)]]]), "oversized body")
    case 11: return (chat, ByteBuffer(bytes: [0x7B, 0xFF, 0xFE, 0x7D]), "invalid UTF-8")
    case 12: return (chat, json(["model": "nope-\(i)", "messages": m]), "unknown model")
    case 13: return ("/v1/completions", json(["model": model, "prompt": [1, 2, 3]]), "token-id prompt")
    case 14: return (chat, json(["model": model, "messages": m, "temperature": -1, "top_p": 7]), "out-of-range sampling")
    default: return (chat, ByteBuffer(), "empty body")
    }
}

/// Sends a body slowly (one byte every `interval`) over a raw socket; returns the status line's code.
func slowBody(port: Int, interval: Double, bytes: Int) -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return -1 }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { return -1 }
    let head = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(bytes)\r\n\r\n"
    _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    var timeout = timeval(tv_sec: 0, tv_usec: 0)
    timeout.tv_usec = Int(interval * 1e6)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var buffer = [UInt8](repeating: 0, count: 4096)
    for _ in 0..<bytes {
        if send(fd, "{", 1, Int32(MSG_NOSIGNAL)) < 0 { break }
        let n = recv(fd, &buffer, buffer.count, 0)
        if n > 0 {
            let text = String(decoding: buffer[..<n], as: UTF8.self)
            return Int(text.split(separator: " ").dropFirst().first ?? "") ?? -2
        }
    }
    timeout.tv_sec = 30
    timeout.tv_usec = 0
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let n = recv(fd, &buffer, buffer.count, 0)
    guard n > 0 else { return -3 }
    return Int(String(decoding: buffer[..<n], as: UTF8.self).split(separator: " ").dropFirst().first ?? "") ?? -2
}

func abuse(_ a: Arguments) async {
    let base = a.string("url")
    let pid = Int32(a.int("server-pid", 0))
    let total = a.int("requests", 1000)
    let port = Int(base.split(separator: ":").last ?? "") ?? 8000
    let start = memory(pid: pid)
    var statuses: [Int: Int] = [:]
    var bad: [String: Int] = [:]
    var rssAtWarm = 0.0
    // Four slow-body clients run beside the flood.
    let slow = (0..<4).map { _ in
        Task.detached { slowBody(port: port, interval: 0.5, bytes: 60) }
    }
    let next = Counter()
    let results = await withTaskGroup(of: [(Int, String)].self) { group in
        for _ in 0..<8 {
            group.addTask {
                var out: [(Int, String)] = []
                while let i = await next.take(below: total) {
                    let (route, body, what) = malformed(i)
                    do {
                        let (status, _) = try await post(base + route, body)
                        out.append((status, what))
                    } catch {
                        out.append((-1, what + ": \(error)"))
                    }
                }
                return out
            }
        }
        var all: [(Int, String)] = []
        for await r in group {
            all += r
            if rssAtWarm == 0 && all.count >= 100 { rssAtWarm = memory(pid: pid).rss }
        }
        return all
    }
    for (status, what) in results {
        statuses[status, default: 0] += 1
        if !(400..<500).contains(status) { bad["\(status) \(what)", default: 0] += 1 }
    }
    var slowStatuses: [Int] = []
    for t in slow { slowStatuses.append(await t.value) }
    // A second round of the same flood: memory must not keep growing.
    let mid = memory(pid: pid)
    let again = Counter()
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<8 {
            group.addTask {
                while let i = await again.take(below: total) { _ = try? await post(base + malformed(i).0, malformed(i).1) }
            }
        }
    }
    let end = memory(pid: pid)
    var health = -1
    if let r = try? await client.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(10)) { health = Int(r.status.code) }
    print("abuse: \(total) malformed requests (16 kinds) + 4 slow-body clients, then \(total) more")
    print("  statuses: \(statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "))")
    print("  not 4xx: \(bad.isEmpty ? "none" : "\(bad)")")
    print("  slow-body clients answered: \(slowStatuses)")
    print(String(format: "  server RSS %.0f MiB at start, %.0f after 1st round, %.0f after 2nd round (peak %.0f); health %d", start.rss, mid.rss, end.rss, end.peak, health))
    let record: [String: Any] = [
        "bench": "abuse", "requests": total, "non_4xx": bad.values.reduce(0, +), "slow_statuses": slowStatuses, "rss_start_mib": start.rss,
        "rss_round1_mib": mid.rss, "rss_round2_mib": end.rss, "peak_rss_mib": end.peak, "health": health,
    ]
    print(String(decoding: try! JSONSerialization.data(withJSONObject: record, options: .sortedKeys), as: UTF8.self))
    if !bad.isEmpty || health != 200 || slowStatuses.contains(where: { !(400..<500).contains($0) }) { exit(1) }
}

// MARK: throughput

func throughput(_ a: Arguments) async throws {
    let base = a.string("url")
    let dir = URL(fileURLWithPath: a.string("model"))
    let requests = a.int("requests", 32)
    let maxTokens = a.int("max-tokens", 48)
    let levels = (a.values["concurrency"] ?? "1,8,32").split(separator: ",").compactMap { Int($0) }
    let engine = try Engine.load(dir)
    func parameters(_ i: Int) -> SamplingParameters { SamplingParameters(maxTokens: maxTokens, temperature: 1, seed: UInt64(i)) }
    // The same work both ways: `requests` text completions at each concurrency, tokens counted from usage.
    func offline(_ c: Int) async throws -> (Int, Double) {
        let next = Counter()
        let start = ContinuousClock.now
        let tokens = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<c {
                group.addTask {
                    var t = 0
                    while let i = await next.take(below: requests) {
                        t += try await engine.complete(CompletionRequest(prompt: .text(question), parameters: parameters(i))).usage.completionTokens
                    }
                    return t
                }
            }
            return try await group.reduce(0, +)
        }
        return (tokens, (ContinuousClock.now - start).seconds)
    }
    func served(_ c: Int) async throws -> (Int, Double) {
        let next = Counter()
        let start = ContinuousClock.now
        let tokens = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<c {
                group.addTask {
                    var t = 0
                    while let i = await next.take(below: requests) {
                        let (status, body) = try await post(
                            base + "/v1/completions",
                            json(["model": model, "prompt": question, "max_tokens": maxTokens, "temperature": 1, "seed": i]))
                        guard status == 200, let o = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
                            let u = o["usage"] as? [String: Any], let n = u["completion_tokens"] as? Int
                        else { throw StreamFailure("status \(status)") }
                        t += n
                    }
                    return t
                }
            }
            return try await group.reduce(0, +)
        }
        return (tokens, (ContinuousClock.now - start).seconds)
    }
    _ = try await offline(2)  // warm up
    _ = try await served(2)
    print("throughput: \(requests) requests of up to \(maxTokens) tokens per level (tokens/s; the machine is shared, so noisy)")
    print("concurrency | offline engine | server  | server/offline")
    for c in levels {
        let (ot, os) = try await offline(c)
        let (st, ss) = try await served(c)
        let o = Double(ot) / os
        let s = Double(st) / ss
        print(String(format: "%11d | %14.0f | %7.0f | %.2f", c, o, s, s / o))
        let record: [String: Any] = [
            "bench": "throughput", "concurrency": c, "offline_tokens_per_s": o, "server_tokens_per_s": s, "ratio": s / o,
            "offline_tokens": ot, "server_tokens": st,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: record, options: .sortedKeys), as: UTF8.self))
    }
}

let arguments = Arguments()
switch arguments.command {
case "load": await load(arguments)
case "abuse": await abuse(arguments)
case "throughput": try await throughput(arguments)
default:
    FileHandle.standardError.write(Data("usage: serve-bench load|abuse|throughput --url URL [--server-pid PID] [--model DIR]\n".utf8))
    exit(2)
}
