import Torch
import XCTest

/// Autograd against central finite differences in float64, for every differentiable op later code relies on.
final class GradientTests: XCTestCase {
    /// Checks d(Σ f(inputs) ⊙ r)/d(input) for a fixed random r against (f(x+h) − f(x−h)) / 2h, element by element.
    func checkGradients(
        _ name: String, _ inputs: [Tensor], tolerance: Double = 1e-6, file: StaticString = #filePath, line: UInt = #line,
        _ f: ([Tensor]) -> Tensor
    ) {
        let leaves = inputs.map { $0.to(.float64).detached().requiringGrad() }
        let out = f(leaves)
        let r = Tensor.randn(out.shape, dtype: .float64, generator: RandomGenerator(seed: 99))
        (out * r).sum().backward()
        let h = 1e-6
        for (n, leaf) in leaves.enumerated() {
            guard let grad = leaf.grad else { return XCTFail("\(name): input \(n) has no gradient", file: file, line: line) }
            let analytic = grad.toArray(Double.self)
            var values = leaf.detached().toArray(Double.self)
            var worst = 0.0
            for i in values.indices {
                let saved = values[i]
                func evaluate(_ v: Double) -> Double {
                    values[i] = v
                    let shifted = leaves.enumerated().map { j, t in j == n ? Tensor(values, shape: t.shape) : t.detached() }
                    return withNoGrad { (f(shifted) * r).sum().item() }
                }
                let numeric = (evaluate(saved + h) - evaluate(saved - h)) / (2 * h)
                values[i] = saved
                worst = Swift.max(worst, Swift.abs(numeric - analytic[i]) / Swift.max(1, Swift.abs(numeric)))
            }
            XCTAssertLessThan(worst, tolerance, "\(name): input \(n) worst relative gradient error \(worst)", file: file, line: line)
        }
    }

    func randn(_ shape: [Int], seed: UInt64) -> Tensor { Tensor.randn(shape, dtype: .float64, generator: RandomGenerator(seed: seed)) }

    func testElementwiseAndReductions() {
        let a = randn([3, 4], seed: 1)
        let b = randn([3, 4], seed: 2)
        checkGradients("add/mul/div", [a, b]) { $0[0] * $0[1] + $0[0] / ($0[1].abs() + 1) - $0[1] }
        checkGradients("exp/log/sqrt", [a]) { ($0[0].exp() + 1).log() + ($0[0].square() + 1).sqrt() }
        checkGradients("silu", [a]) { $0[0].silu() }
        checkGradients("gelu", [a]) { $0[0].gelu() + $0[0].gelu(approximate: true) }
        checkGradients("sigmoid/tanh", [a]) { $0[0].sigmoid() * $0[0].tanh() }
        checkGradients("pow", [a]) { ($0[0].abs() + 0.5).pow(1.7) }
        checkGradients("sum/mean/max", [a]) { $0[0].sum(axis: 1) + $0[0].mean(axis: 1) + $0[0].max(axes: [1]) }
        checkGradients("var/logsumexp", [a]) { $0[0].variance(axes: [1]) + $0[0].logSumExp(axes: [1]) }
        checkGradients("cumsum/where/clamp", [a, b]) { `where`($0[0] .> 0, $0[0].cumulativeSum(axis: 1), $0[1].clamped(min: -0.3)) }
    }

    func testMatmulLinearSoftmax() {
        let x = randn([2, 3, 5], seed: 3)
        let w = randn([4, 5], seed: 4)
        let bias = randn([4], seed: 5)
        checkGradients("matmul", [x, w]) { $0[0].matmul($0[1].transposed()) }
        checkGradients("bmm", [x, randn([2, 5, 3], seed: 6)]) { bmm($0[0], $0[1]) }
        checkGradients("linear", [x, w, bias]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        checkGradients("softmax", [x]) { $0[0].softmax(axis: -1) }
        checkGradients("log_softmax", [x]) { $0[0].logSoftmax(axis: 1) }
    }

    func testShapeOpsPassGradients() {
        let x = randn([2, 3, 4], seed: 7)
        checkGradients("reshape/permute/transpose", [x]) { $0[0].permuted(2, 0, 1).reshaped(4, 6).transposed() }
        checkGradients("narrow/cat/stack", [x]) {
            concatenated([$0[0].narrow(axis: 2, start: 1, length: 2), stacked([$0[0][0], $0[0][1]], axis: 0)], axis: 2)
        }
        checkGradients("expand/repeatInterleave", [randn([2, 1], seed: 8)]) { $0[0].expanded([2, 3]).repeatInterleaved(2, axis: 0) }
        checkGradients("gather", [x]) {
            $0[0].gather(axis: 2, index: Tensor([0, 3, 3, 1, 2, 0] as [Int], shape: [1, 3, 2]).expanded([2, 3, 2]))
        }
        checkGradients("indexSelect/maskedFill/tril", [randn([4, 4], seed: 9)]) {
            $0[0].indexSelect(axis: 0, index: Tensor([3, 1] as [Int])).maskedFill(Tensor([true, false, false, true]), with: 0.0)
                + $0[0].tril()[0]
        }
    }

    func testEmbeddingRMSNormAttentionCrossEntropy() {
        let weight = randn([6, 3], seed: 10)
        checkGradients("embedding", [weight]) { embedding(Tensor([1, 5, 1, 0] as [Int], shape: [2, 2]), weight: $0[0]) }
        // RMSNorm built from ops, as model code writes it, and libtorch's fused kernel.
        let x = randn([2, 3, 8], seed: 11)
        let g = randn([8], seed: 12)
        checkGradients("rmsnorm(ops)", [x, g]) { i in i[0] * (i[0].square().mean(axis: -1, keepDims: true) + 1e-6).rsqrt() * i[1] }
        checkGradients("rmsnorm(fused)", [x, g]) { rmsNorm($0[0], weight: $0[1], eps: 1e-6) }
        let q = randn([1, 4, 5, 6], seed: 13)
        let k = randn([1, 2, 5, 6], seed: 14)
        let v = randn([1, 2, 5, 6], seed: 15)
        checkGradients("attention(causal, GQA)", [q, k, v]) {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], causal: true, grouped: true)
        }
        let mask = Tensor([true, true, false, true, true], shape: [1, 1, 1, 5])
        checkGradients("attention(mask)", [q, k.tiled([1, 2, 1, 1]), v.tiled([1, 2, 1, 1])]) {
            scaledDotProductAttention(query: $0[0], key: $0[1], value: $0[2], mask: mask)
        }
        let logits = randn([5, 7], seed: 16)
        let target = Tensor([1, -100, 6, 0, 3] as [Int])
        checkGradients("cross_entropy(ignore)", [logits]) { crossEntropy(logits: $0[0], target: target) }
        checkGradients("cross_entropy(sum, smoothing)", [logits]) {
            crossEntropy(logits: $0[0], target: target, reduction: .sum, labelSmoothing: 0.1)
        }
    }

    func testAutogradBookkeeping() {
        let w = Tensor([1, 2, 3] as [Float]).requiringGrad()
        XCTAssertTrue(w.requiresGrad)
        XCTAssertNil(w.grad)
        (w * w).sum().backward()
        XCTAssertEqual(w.grad?.toArray(Float.self), [2, 4, 6])
        (w * 2).sum().backward()
        XCTAssertEqual(w.grad?.toArray(Float.self), [4, 6, 8], "gradients accumulate")
        w.zeroGrad()
        XCTAssertNil(w.grad)
        let y = w * 3
        y.backward(Tensor([1, 0, 2] as [Float]))
        XCTAssertEqual(w.grad?.toArray(Float.self), [3, 0, 6], "explicit output gradient")
        XCTAssertFalse(w.detached().requiresGrad)
        withNoGrad {
            XCTAssertFalse(Torch.isGradEnabled)
            XCTAssertFalse((w * 2).requiresGrad)
            withGrad { XCTAssertTrue((w * 2).requiresGrad) }
        }
        XCTAssertTrue(Torch.isGradEnabled)
        let z = (w * w).sum()
        z.backward(retainGraph: true)
        z.backward()
    }
}
