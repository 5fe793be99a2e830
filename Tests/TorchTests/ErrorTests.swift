import Torch
import XCTest

/// libtorch failures become Swift errors inside withTorchErrors, never crashes.
final class ErrorTests: XCTestCase {
    func testShapeMismatch() {
        assertTorchError("matmul of [2, 3] and [4, 5]") { _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5])) }
        assertTorchError("size of tensor a (3) must match") { _ = Tensor.zeros([2, 3]) + Tensor.zeros([2, 4]) }
        assertTorchError("reshaped") { _ = Tensor.zeros([2, 3]).reshaped(4, 2) }
        assertTorchError("concatenated") { _ = concatenated([Tensor.zeros([2, 3]), Tensor.zeros([2, 4])]) }
    }

    func testDTypeMismatch() {
        assertTorchError("embedding") { _ = embedding(Tensor([0.5] as [Float]), weight: Tensor.zeros([3, 2])) }
        assertTorchError("matmul") { _ = Tensor.zeros([2, 2]).matmul(Tensor.zeros([2, 2], dtype: .int64)) }
        assertTorchError("crossEntropy") { _ = crossEntropy(logits: Tensor.zeros([2, 3]), target: Tensor([0.0, 1.0] as [Float])) }
    }

    func testIndexOutOfRange() {
        assertTorchError("index 5 out of range") { _ = Tensor.zeros([3]).select(axis: 0, index: 5) }
        assertTorchError("indexSelect") { _ = Tensor.zeros([3]).indexSelect(axis: 0, index: Tensor([7] as [Int])) }
        assertTorchError("Dimension out of range") { _ = Tensor.zeros([3]).softmax(axis: 2) }
        assertTorchError("embedding") { _ = embedding(Tensor([9] as [Int]), weight: Tensor.zeros([3, 2])) }
    }

    func testFirstErrorWinsAndLaterOpsAreHarmless() {
        do {
            try withTorchErrors {
                let bad = Tensor.zeros([2]).reshaped(3)
                XCTAssertFalse(bad.isDefined)
                let worse = (bad + 1).matmul(bad)  // ops on the placeholder fail quietly
                XCTAssertEqual(worse.shape, [])
                XCTAssertEqual(worse.toArray(Float.self), [])
            }
            XCTFail("expected an error")
        } catch let error as TorchError {
            XCTAssertTrue(error.operation.hasPrefix("reshaped([3])"), error.operation)
        } catch {
            XCTFail("\(error)")
        }
        XCTAssertNoThrow(try withTorchErrors { _ = Tensor.ones([2]) + 1 })
    }

    func testScopesAreIsolatedBetweenConcurrentTasks() async throws {
        async let failing: Bool = {
            do {
                try await withTorchErrors {
                    try await Task.sleep(nanoseconds: 20_000_000)
                    _ = Tensor.zeros([2]).reshaped(5)
                }
                return false
            } catch { return true }
        }()
        async let succeeding: Bool = {
            do {
                try await withTorchErrors {
                    for _ in 0..<50 { _ = Tensor.ones([4]).sum() }
                    try await Task.sleep(nanoseconds: 40_000_000)
                }
                return true
            } catch { return false }
        }()
        let (f, s) = await (failing, succeeding)
        XCTAssertTrue(f, "the failing scope throws")
        XCTAssertTrue(s, "the other scope is untouched")
    }
}
