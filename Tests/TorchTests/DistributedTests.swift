import Foundation
import XCTest

@testable import Torch

/// The c10d binding with two ranks in one process (two threads meeting through a TCPStore on loopback).
final class DistributedTests: XCTestCase {
    /// Runs `body` as ranks 0 and 1, each on its own thread with its own store connection and Gloo group; rethrows the
    /// first failure.
    func withTwoRanks(timeout: Duration = .seconds(30), _ body: @escaping @Sendable (ProcessGroup) throws -> Void) throws {
        let port = try TCPStore.freeLoopbackPort()
        let failures = Locked<[String]>([])
        let done = DispatchGroup()
        for rank in 0..<2 {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    let store = try TCPStore(host: "127.0.0.1", port: port, worldSize: 2, isServer: rank == 0, timeout: timeout)
                    let group = try ProcessGroup(store: store, rank: rank, size: 2, hostname: "127.0.0.1", timeout: timeout)
                    try body(group)
                } catch {
                    failures.withLock { $0.append("rank \(rank): \(error.localizedDescription)") }
                }
            }.start()
        }
        done.wait()
        let messages = failures.withLock { $0 }
        if !messages.isEmpty { XCTFail(messages.joined(separator: "\n")) }
    }

    func testCollectivesAcrossTwoRanks() throws {
        try withTwoRanks { group in
            let r = Float(group.rank)
            let sum = Tensor([r + 1, 10 * (r + 1)])
            let bytes = try group.allReduce([sum], .sum)
            XCTAssertEqual(bytes, 8)
            XCTAssertEqual(sum.toArray(Float.self), [3, 30])
            let mean = Tensor([r + 1, 10 * (r + 1)])
            let doubles = Tensor([Double(group.rank)])
            try group.allReduce([mean, doubles], .average)  // two dtypes: two buffers
            XCTAssertEqual(mean.toArray(Float.self), [1.5, 15])
            XCTAssertEqual(doubles.toArray(Double.self), [0.5])
            XCTAssertEqual(try group.allReduce([Double(r), -Double(r)], .max), [1, 0])
            XCTAssertEqual(try group.allReduce([Double(r), -Double(r)], .min), [0, -1])
            // Broadcast from rank 1 into a non-contiguous view and a contiguous tensor.
            let matrix = Tensor([r, r + 1, r + 2, r + 3], shape: [2, 2])
            let column = matrix.transposed(0, 1)
            let plain = Tensor([r * 7])
            try group.broadcast([column, plain], from: 1)
            XCTAssertEqual(matrix.toArray(Float.self), [1, 2, 3, 4])
            XCTAssertEqual(plain.toArray(Float.self), [7])
            let gathered = try group.allGather(Tensor([r, r * 2, r * 3]))
            XCTAssertEqual(gathered.shape, [2, 3])
            XCTAssertEqual(gathered.toArray(Float.self), [0, 0, 0, 1, 2, 3])
            try group.barrier()
            // Gradients: rank r's loss (r + 1) · Σw gives gradient r + 1; summed 3, averaged 1.5. A parameter without
            // a gradient contributes zeros and receives the result.
            let w = Tensor([Float](repeating: 1, count: 6), shape: [2, 3])
            w.requiresGrad = true
            let unused = Tensor([Float(0), 0])
            unused.requiresGrad = true
            (w * Double(group.rank + 1)).sum().backward()
            let sent = try group.allReduceGradients(of: [w, unused], bucketBytes: 16, average: false)
            XCTAssertEqual(sent, 32)
            XCTAssertEqual(w.grad?.toArray(Float.self), [Float](repeating: 3, count: 6))
            XCTAssertEqual(unused.grad?.toArray(Float.self), [0, 0])
            try group.allReduceGradients(of: [w], average: true)
            XCTAssertEqual(w.grad?.toArray(Float.self), [Float](repeating: 3, count: 6))
            // The store: every rank adds, both see the total once both have added.
            try group.store.add("count", 1)
            try group.barrier()
            XCTAssertEqual(try group.store.add("count", 0), 2)
            if group.rank == 0 { try group.store.set("greeting", Array("hello".utf8)) }
            XCTAssertEqual(String(decoding: try group.store.get("greeting"), as: UTF8.self), "hello")
        }
    }

    /// A rank that leaves (its group closed, its heartbeat stopped) makes the other's next collective fail with an
    /// error naming it.
    func testADeadPeerIsNamed() throws {
        let error = Locked<DistributedError?>(nil)
        try withTwoRanks(timeout: .seconds(20)) { group in
            try group.barrier()
            guard group.rank == 0 else { return }  // rank 1 leaves: its group is freed when the closure returns
            do {
                try group.allReduce([Tensor([Float(1)])])
            } catch let e as DistributedError {
                error.withLock { $0 = e }
            }
        }
        let e = try XCTUnwrap(error.withLock { $0 }, "the allreduce failed")
        XCTAssertEqual(e.rank, 0)
        XCTAssertEqual(e.unresponsiveRanks, [1])
        XCTAssertTrue(e.localizedDescription.contains("allreduce failed on rank 0: rank 1 stopped responding"), e.localizedDescription)
    }

    func testConnectingToNoStoreFailsWithTheAddress() throws {
        let port = try TCPStore.freeLoopbackPort()
        XCTAssertThrowsError(try TCPStore(host: "127.0.0.1", port: port, worldSize: 2, isServer: false, timeout: .milliseconds(300))) {
            XCTAssertTrue($0.localizedDescription.contains("connecting to the TCPStore at 127.0.0.1:\(port)"), $0.localizedDescription)
        }
    }

}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
