import Foundation
import OrderedCollections
import Torch
import XCTest

/// The URL of a committed fixture file.
func fixtureURL(_ name: String) -> URL {
    Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")!
}

/// The fixture's source path, for the test that regenerates a Ponder-written fixture.
func fixtureSourceURL(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
}

/// Asserts two tensors have equal shapes and values within `tolerance` (max absolute difference).
func assertClose(
    _ a: Tensor, _ b: Tensor, tolerance: Double = 1e-9, _ message: String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(a.shape, b.shape, "shape \(message)", file: file, line: line)
    guard a.shape == b.shape else { return }
    let x = a.toArray(Double.self)
    let y = b.toArray(Double.self)
    let worst = zip(x, y).map { Swift.abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, tolerance, "max |difference| \(worst) \(message)", file: file, line: line)
}

/// Runs `body`, expecting a `TorchError` whose message contains `fragment`.
func assertTorchError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () -> Void) {
    do {
        try withTorchErrors { body() }
        XCTFail("expected a TorchError containing \"\(fragment)\"", file: file, line: line)
    } catch let error as TorchError {
        XCTAssertTrue(error.localizedDescription.contains(fragment), "\(error.localizedDescription)", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}
