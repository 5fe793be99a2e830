import Foundation
import Torch
import XCTest

final class HostMemoryTests: XCTestCase {
    func residentAnonymousKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") })
        return try XCTUnwrap(Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" })[1]))
    }

    /// Tensors freed between live ones leave free memory inside the heap, resident until `trim` hands it back.
    func testTrimReturnsFreedTensorMemory() throws {
        let base = try residentAnonymousKiB()
        // Raise glibc's adaptive mmap threshold the way a training step does (a large block freed), so the 4 MiB
        // tensors below come from the heap, each followed by a small one that stays alive.
        _ = Tensor.zeros([6 << 20])
        var freed: [Tensor] = []
        var kept: [Tensor] = []
        for _ in 0..<64 {
            freed.append(Tensor.ones([1 << 20]))
            kept.append(Tensor.ones([1 << 10]))
        }
        freed.removeAll()
        guard let untouched = HostMemory.trim(ifFreeAtLeast: Int.max) else {
            throw XCTSkip("this C library does not report its heap (not glibc 2.33 or later)")
        }
        XCTAssertGreaterThanOrEqual(untouched, 200 << 20, "the freed tensors' memory is free in the heap: \(untouched) bytes")
        let before = try residentAnonymousKiB()
        XCTAssertGreaterThanOrEqual(HostMemory.trim() ?? 0, 200 << 20, "the free bytes it found, then trimmed")
        let after = try residentAnonymousKiB()
        // Whatever the heap's history in this process, none of the 256 MiB freed stays resident after the trim (run
        // alone, without the trim, all of it does).
        XCTAssertLessThan(after - base, 64 << 10, "resident anonymous memory \(base) -> \(before) -> \(after) KiB")
        XCTAssertEqual(kept.count, 64)
    }
}
