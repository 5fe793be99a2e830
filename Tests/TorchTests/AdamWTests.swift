import OrderedCollections
import Torch
import XCTest

final class AdamWTests: XCTestCase {
    /// Three steps with fixed gradients equal torch.optim.AdamW(fused=True) on the same values.
    func testMatchesPyTorch() throws {
        let f = try Safetensors.read(fixtureURL("adamw.safetensors"))
        let p0 = f["p0"]!.clone().requiringGrad()
        let p1 = f["p1"]!.clone().requiringGrad()
        let opt = AdamW(
            parameters: ["a": p0, "b": p1],
            configuration: .init(learningRate: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1))
        for i in 0..<3 {
            opt.zeroGrad()
            // d/dp Σ p ⊙ g = g, so backward leaves exactly the fixture's gradient.
            ((p0 * f["g\(i)_0"]!).sum() + (p1 * f["g\(i)_1"]!).sum()).backward()
            opt.step()
        }
        XCTAssertEqual(opt.stepCount, 3)
        assertClose(p0, f["out0"]!, tolerance: 1e-6)
        assertClose(p1, f["out1"]!, tolerance: 1e-6)
    }

    /// A weight packed for MKL's GEMM gives linear()'s result at any row count and input rank, and knows when an
    /// optimizer step (or any in-place write) has made it stale.
    func testPackedLinearMatchesLinearAndNoticesWrites() throws {
        try XCTSkipUnless(PackedLinearWeight.isAvailable, "this libtorch has no MKL packed GEMM (mkl::_mkl_linear)")
        let w = (Tensor.randn([48, 40]) * 0.3).requiringGrad()
        let bias = Tensor.randn([48])
        let packed = try XCTUnwrap(PackedLinearWeight(w))
        withNoGrad {
            for rows in [1, 3, 16, 32, 64, 100] {
                let x = Tensor.randn([rows, 40])
                assertClose(linear(x, packed: packed, bias: bias), linear(x, weight: w, bias: bias), tolerance: 1e-5)
                assertClose(linear(x, packed: packed), linear(x, weight: w), tolerance: 1e-5)
            }
            let x = Tensor.randn([2, 5, 40])
            let y = linear(x, packed: packed, bias: bias)
            XCTAssertEqual(y.shape, [2, 5, 48])
            assertClose(y, linear(x, weight: w, bias: bias), tolerance: 1e-5)
            XCTAssertNil(PackedLinearWeight(Tensor.randn([4, 4]).to(.bfloat16)), "only float32 weights are packed")
            XCTAssertNil(PackedLinearWeight(Tensor.randn([4])), "only matrices are packed")
        }
        XCTAssertTrue(packed.isCurrent)
        let opt = AdamW(parameters: ["w": w], configuration: .init(learningRate: 0.1))
        (w.square()).sum().backward()
        opt.step()
        XCTAssertFalse(packed.isCurrent, "an optimizer step writes the weight in place")
        let repacked = try XCTUnwrap(PackedLinearWeight(w))
        XCTAssertTrue(repacked.isCurrent)
        withNoGrad { w.copy_(Tensor.zeros([48, 40])) }
        XCTAssertFalse(repacked.isCurrent, "a copy into the weight")
    }

    func testStateRoundTripsThroughSafetensors() throws {
        func run(steps: Int, restoreAt: Int?) throws -> [Float] {
            let p = Tensor([0.5, -1, 2] as [Float]).requiringGrad()
            var opt = AdamW(parameters: ["p": p], configuration: .init(learningRate: 0.1))
            for s in 0..<steps {
                if s == restoreAt {
                    let data = try Safetensors.encode(opt.stateDict().merging(["p": p.detached()]) { a, _ in a })
                    let loaded = try SafetensorsFile(data: data, path: "state").tensors()
                    let q = loaded["p"]!.clone().requiringGrad()
                    opt = AdamW(parameters: ["p": q], configuration: .init(learningRate: 0.1))
                    try opt.loadStateDict(Dictionary(uniqueKeysWithValues: loaded.map { ($0.key, $0.value) }))
                }
                let param = opt.parameters["p"]!
                opt.zeroGrad()
                (param.square() * Tensor([1, 2, 3] as [Float])).sum().backward()
                opt.step()
            }
            return opt.parameters["p"]!.toArray(Float.self)
        }
        XCTAssertEqual(try run(steps: 6, restoreAt: nil), try run(steps: 6, restoreAt: 3), "resumed optimizer continues exactly")
        let opt = AdamW(parameters: ["p": Tensor.zeros([2]).requiringGrad()])
        XCTAssertThrowsError(try opt.loadStateDict([:])) { XCTAssertEqual($0 as? OptimizerError, .missingState("p.exp_avg")) }
    }

    func testClipGradNorm() {
        let a = Tensor([3, 0] as [Float]).requiringGrad()
        let b = Tensor([4] as [Float]).requiringGrad()
        (a.sum() * 3 + b.sum() * 4).backward()  // grads [3, 3] and [4]: norm √34
        let norm = clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 34.0.squareRoot(), accuracy: 1e-5)
        let clipped = a.grad!.toArray(Float.self) + b.grad!.toArray(Float.self)
        XCTAssertEqual(Double(clipped.map { $0 * $0 }.reduce(0, +)).squareRoot(), 1, accuracy: 1e-4)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-4, "below the limit nothing changes")
        XCTAssertEqual(clipGradNorm([Tensor.zeros([1])], maxNorm: 1), 0, "no gradients, norm 0")
    }
}
