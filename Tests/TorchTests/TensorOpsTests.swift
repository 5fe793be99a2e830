import OrderedCollections
import Torch
import XCTest

/// Op values: small hand-checked cases, then every wrapped op against PyTorch's outputs in ops.safetensors.
final class TensorOpsTests: XCTestCase {
    func testCreationAndRoundTrip() {
        let t = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.dtype, .float32)
        XCTAssertEqual(t.toArray(Float.self), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.zeros([2, 2]).toArray(Float.self), [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3], dtype: .int32).toArray(Int32.self), [1, 1, 1])
        XCTAssertEqual(Tensor.full([2], value: 7.5, dtype: .float64).toArray(Double.self), [7.5, 7.5])
        XCTAssertEqual(Tensor.arange(0, 5).toArray(Int.self), [0, 1, 2, 3, 4])
        XCTAssertEqual(Tensor.arange(0.0, 1.0, step: 0.25).toArray(Float.self), [0, 0.25, 0.5, 0.75])
        XCTAssertEqual(Tensor.empty([4, 0]).shape, [4, 0])
        XCTAssertEqual(Tensor(scalar: 3.5).item(), 3.5)
        XCTAssertEqual(Tensor(scalar: Int64(1) << 60).item(Int64.self), 1 << 60)
        XCTAssertEqual(Tensor([true, false]).toArray(Bool.self), [true, false])
    }

    func testDTypeConversions() {
        let t = Tensor([1.5, -2.25, 3] as [Double])
        for dtype in [DType.float32, .float16, .bfloat16, .float64] {
            XCTAssertEqual(t.to(dtype).dtype, dtype)
            XCTAssertEqual(t.to(dtype).toArray(Double.self), [1.5, -2.25, 3], "\(dtype) holds these exactly")
        }
        XCTAssertEqual(t.to(.int64).toArray(Int.self), [1, -2, 3], "float to int truncates toward zero")
        XCTAssertEqual(t.to(.bool).toArray(Bool.self), [true, true, true])
        XCTAssertEqual(Tensor([1.0, 2.0] as [Float], dtype: .bfloat16).dtype, .bfloat16)
        // bfloat16 keeps 8 bits of mantissa: 1 + 2^-9 rounds to 1.
        XCTAssertEqual(Tensor([1 + 1.0 / 512] as [Double]).to(.bfloat16).toArray(Double.self), [1])
    }

    /// `to` the tensor's own dtype is the tensor itself (no copy: writes through it are seen), as libtorch's is;
    /// `rolled` wraps entries around one axis.
    func testSameDTypeIsAliasAndRoll() {
        let t = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        withNoGrad { t.to(.float32).add_(Tensor.ones([2, 3])) }
        XCTAssertEqual(t.toArray(Float.self), [2, 3, 4, 5, 6, 7])
        XCTAssertEqual(t.rolled(by: 1, axis: -1).toArray(Float.self), [4, 2, 3, 7, 5, 6])
        XCTAssertEqual(t.rolled(by: -1, axis: 1).toArray(Float.self), [3, 4, 2, 6, 7, 5])
        XCTAssertEqual(t.rolled(by: 1, axis: 0).toArray(Float.self), [5, 6, 7, 2, 3, 4])
    }

    func testRandomIsSeeded() {
        let a = Tensor.randn([5], generator: RandomGenerator(seed: 7)).toArray(Float.self)
        let b = Tensor.randn([5], generator: RandomGenerator(seed: 7)).toArray(Float.self)
        let c = Tensor.randn([5], generator: RandomGenerator(seed: 8)).toArray(Float.self)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        let g = RandomGenerator(seed: 3)
        let saved = g.state
        let first = Tensor.rand([4], generator: g).toArray(Float.self)
        g.state = saved
        XCTAssertEqual(Tensor.rand([4], generator: g).toArray(Float.self), first, "restored state repeats the draw")
        let ints = Tensor.randint(3, 9, [1000], generator: g).toArray(Int.self)
        XCTAssertEqual(ints.min(), 3)
        XCTAssertEqual(ints.max(), 8)
        let u = Tensor.rand([10000], generator: g)
        XCTAssertEqual(u.mean().item(), 0.5, accuracy: 0.02)
        XCTAssertEqual(Tensor.randn([10000], generator: g).standardDeviation().item(), 1, accuracy: 0.03)
    }

    func testShapeOps() {
        let t = Tensor.arange(0, 24).reshaped(2, 3, 4)
        XCTAssertEqual(t.permuted(2, 0, 1).shape, [4, 2, 3])
        XCTAssertEqual(t.transposed(0, 2).contiguous().toArray(Int.self)[0..<3], [0, 12, 4])
        XCTAssertEqual(t.view([6, 4]).shape, [6, 4])
        XCTAssertEqual(t.flattened().shape, [24])
        XCTAssertEqual(t.unsqueezed(axis: 1).shape, [2, 1, 3, 4])
        XCTAssertEqual(t.unsqueezed(axis: 1).squeezed(axis: 1).shape, [2, 3, 4])
        XCTAssertEqual(Tensor.zeros([1, 3, 1]).squeezed().shape, [3])
        XCTAssertEqual(Tensor([1, 2] as [Int]).reshaped(2, 1).expanded([2, 3]).toArray(Int.self), [1, 1, 1, 2, 2, 2])
        let parts = t.split(sizes: [1, 3], axis: 2)
        XCTAssertEqual(parts.map(\.shape), [[2, 3, 1], [2, 3, 3]])
        XCTAssertEqual(t.chunked(2, axis: 1).map(\.shape), [[2, 2, 4], [2, 1, 4]])
        XCTAssertEqual(t.narrow(axis: 2, start: 1, length: 2).contiguous().toArray(Int.self)[0..<2], [1, 2])
        XCTAssertEqual(t.slice(axis: 2, start: 0, end: 4, step: 2).shape, [2, 3, 2])
        XCTAssertEqual(t.slice(axis: 0, start: -1).shape, [1, 3, 4])
        XCTAssertEqual(t[1].shape, [3, 4])
        XCTAssertEqual(t.select(axis: 2, index: 3).toArray(Int.self), [3, 7, 11, 15, 19, 23])
        let a = Tensor([1, 2] as [Int])
        let b = Tensor([3] as [Int])
        XCTAssertEqual(concatenated([a, b]).toArray(Int.self), [1, 2, 3])
        XCTAssertEqual(stacked([a, a], axis: 1).toArray(Int.self), [1, 1, 2, 2])
        let m = Tensor([10, 20, 30, 40] as [Int])
        XCTAssertEqual(m.indexSelect(axis: 0, index: Tensor([3, 0] as [Int])).toArray(Int.self), [40, 10])
        XCTAssertEqual(m.scatter(axis: 0, index: Tensor([1] as [Int]), source: Tensor([99] as [Int])).toArray(Int.self), [10, 99, 30, 40])
        XCTAssertEqual(
            m.scatterAdd(axis: 0, index: Tensor([1, 1] as [Int]), source: Tensor([1, 2] as [Int])).toArray(Int.self), [10, 23, 30, 40])
        XCTAssertEqual(m.maskedFill(Tensor([true, false, true, false]), with: 0).toArray(Int.self), [0, 20, 0, 40])
        XCTAssertEqual(a.repeatInterleaved(2, axis: 0).toArray(Int.self), [1, 1, 2, 2])
        XCTAssertEqual(a.tiled([2]).toArray(Int.self), [1, 2, 1, 2])
        XCTAssertEqual(m.flipped([0]).toArray(Int.self), [40, 30, 20, 10])
        XCTAssertEqual(m.maskedSelect(m .> 15).toArray(Int.self), [20, 30, 40])
        XCTAssertEqual(Tensor([0, 3, 0, 1] as [Int]).nonzero().toArray(Int.self), [1, 3])
        XCTAssertEqual(Tensor.ones([3, 3]).tril().sum().item(), 6)
        XCTAssertEqual(Tensor.ones([3, 3]).triu(1).sum().item(), 3)
    }

    func testScalarPromotionFollowsPyTorch() {
        let i = Tensor([1, 2, 3] as [Int])
        XCTAssertEqual((i + 1).dtype, .int64, "an integer scalar keeps an integer tensor integral")
        XCTAssertEqual((i * 0.5).dtype, .float32, "a floating scalar promotes to the default float type")
        XCTAssertEqual((i * 0.5).toArray(Float.self), [0.5, 1, 1.5])
        XCTAssertEqual((1 - Tensor([0.25] as [Float])).toArray(Float.self), [0.75])
        XCTAssertEqual((2 / Tensor([4.0] as [Double])).toArray(Double.self), [0.5])
        XCTAssertEqual(Tensor([7, -7] as [Int]).remainder(3).toArray(Int.self), [1, 2])
        XCTAssertEqual(Tensor([7, -7] as [Int]).floorDivided(by: 2).toArray(Int.self), [3, -4])
        XCTAssertEqual(Tensor([1.0, 4.0] as [Float]).pow(0.5).toArray(Float.self), [1, 2])
        XCTAssertEqual((Tensor([true, false]) .&& Tensor([true, true])).toArray(Bool.self), [true, false])
        XCTAssertEqual((Tensor([true, false]) .|| Tensor([false, false])).toArray(Bool.self), [true, false])
        XCTAssertEqual(Tensor([true, false]).logicalNot().toArray(Bool.self), [false, true])
        XCTAssertEqual(Tensor([true, false]).logicalXor(Tensor([true, true])).toArray(Bool.self), [false, true])
    }

    func testReductionsAndSampling() {
        let t = Tensor([3, 1, 2, 5, 4, 0] as [Float], shape: [2, 3])
        let (values, indices) = t.max(axis: 1)
        XCTAssertEqual(values.toArray(Float.self), [3, 5])
        XCTAssertEqual(indices.toArray(Int.self), [0, 0])
        XCTAssertEqual(t.min(axis: 0).indices.toArray(Int.self), [0, 0, 1])
        XCTAssertEqual(t.argmin(axis: 1).toArray(Int.self), [1, 2])
        XCTAssertEqual(t.product().item(), 0)
        XCTAssertEqual(t.product(axes: [1]).toArray(Float.self), [6, 0])
        XCTAssertEqual(t.max().item(), 5)
        XCTAssertEqual(t.min().item(), 0)
        XCTAssertEqual((t .> 2).any().item(Bool.self), true)
        XCTAssertEqual((t .> 2).all(axes: [1]).toArray(Bool.self), [false, false])
        XCTAssertEqual(t.norm().item(), (9 + 1 + 4 + 25 + 16.0).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(t.variance(correction: 0).item(), 35.0 / 12, accuracy: 1e-5)
        // multinomial draws only categories with weight; with one non-zero weight it must pick it.
        let probs = Tensor([0, 0, 1, 0] as [Float], shape: [1, 4])
        XCTAssertEqual(multinomial(probs, count: 1, generator: RandomGenerator(seed: 1)).toArray(Int.self), [2])
        let draws = multinomial(
            Tensor([0.2, 0.8] as [Float], shape: [1, 2]), count: 4000, replacement: true, generator: RandomGenerator(seed: 2))
        XCTAssertEqual(draws.to(.float64).mean().item(), 0.8, accuracy: 0.03)
    }

    /// Every op against PyTorch's own result on the same float64 inputs (scripts/fixtures/make_torch_fixtures.py).
    func testOpsMatchPyTorch() throws {
        let f = try Safetensors.read(fixtureURL("ops.safetensors"))
        func t(_ k: String) -> Tensor { f[k]! }
        let x = t("x")
        let y = t("y")
        let w = t("w")
        let b = t("b")
        let q = t("q")
        let k = t("k")
        let v = t("v")
        let cases: [(String, Tensor)] = [
            ("add", x + y), ("sub", x - y), ("mul", x * y), ("div", x / y), ("pow", x.abs().pow(y)), ("neg", -x),
            ("exp", x.exp()), ("log", x.abs().log()), ("sqrt", x.abs().sqrt()), ("rsqrt", x.abs().rsqrt()), ("abs", x.abs()),
            ("clamp", x.clamped(min: -0.5, max: 0.7)), ("minimum", minimum(x, y)), ("maximum", maximum(x, y)),
            ("lt", x .< y), ("ge", x .>= y), ("eq_self", x .== x),
            ("sum0", x.sum(axis: 0)), ("mean1k", x.mean(axis: 1, keepDims: true)), ("var1", x.variance(axes: [1])),
            ("std0", x.standardDeviation(axes: [0])), ("max1", x.max(axis: 1).values), ("argmax1", x.argmax(axis: 1)),
            ("min0", x.min(axis: 0).values), ("logsumexp1", x.logSumExp(axes: [1])), ("cumsum1", x.cumulativeSum(axis: 1)),
            ("topk_v", x.topK(2, axis: 1).values), ("topk_i", x.topK(2, axis: 1).indices),
            ("sort_v", x.sorted(axis: 1, descending: true).values), ("sort_i", x.sorted(axis: 1, descending: true).indices),
            ("matmul", x.matmul(w.transposed())), ("linear", linear(x, weight: w, bias: b)),
            ("bmm", bmm(q[0].narrow(axis: 0, start: 0, length: 2), k[0].transposed(1, 2))),
            ("softmax1", x.softmax(axis: 1)), ("log_softmax1", x.logSoftmax(axis: 1)), ("silu", x.silu()), ("gelu", x.gelu()),
            ("gelu_tanh", x.gelu(approximate: true)), ("sigmoid", x.sigmoid()), ("tanh", x.tanh()),
            ("embedding", embedding(t("ids"), weight: t("emb"))), ("rms_norm", rmsNorm(x, weight: t("rmsw"), eps: 1e-6)),
            ("sdpa_causal", scaledDotProductAttention(query: q, key: k, value: v, causal: true, grouped: true)),
            ("sdpa_mask", scaledDotProductAttention(query: q, key: k, value: v, mask: t("mask"), grouped: true)),
            ("cross_entropy", crossEntropy(logits: t("logits"), target: t("target"))),
            ("cross_entropy_none", crossEntropy(logits: t("logits"), target: t("target"), reduction: .none)),
            ("gather", x.gather(axis: 1, index: Tensor([0, 4, 1, 1, 3, 2] as [Int], shape: [3, 2]))),
            ("tril", x.tril(1)), ("triu", x.triu(-1)), ("where", `where`(x .> 0, x, y)),
        ]
        XCTAssertEqual(Set(cases.map(\.0)).count, cases.count)
        // Equality that can come out both ways: the first row of z is x's, the rest y's (random, so unequal to x).
        let z = concatenated([x.narrow(axis: 0, start: 0, length: 1), y.narrow(axis: 0, start: 1, length: x.size(0) - 1)])
        let equal = (x .== z).toArray(Bool.self)
        let columns = x.size(1)
        XCTAssertEqual(Array(equal.prefix(columns)), Array(repeating: true, count: columns))
        let xs = x.toArray(Double.self)
        let ys = y.toArray(Double.self)
        XCTAssertEqual(Array(equal.dropFirst(columns)), (columns..<xs.count).map { xs[$0] == ys[$0] })
        XCTAssertTrue(equal.dropFirst(columns).contains(false))
        for (name, got) in cases {
            let expected = t(name)
            XCTAssertEqual(got.dtype, expected.dtype, name)
            assertClose(got, expected, tolerance: 1e-12, name)
        }
        let covered = Set(cases.map(\.0)).union(["x", "y", "w", "b", "q", "k", "v", "logits", "target", "emb", "ids", "rmsw", "mask"])
        XCTAssertEqual(Set(f.keys).subtracting(covered), [], "every fixture output is checked")
    }

    func testInPlaceOps() {
        let t = Tensor.zeros([3])
        t.fill_(2.0)
        t.add_(Tensor.ones([3]), alpha: 0.5)
        t.mul_(2)
        XCTAssertEqual(t.toArray(Float.self), [5, 5, 5])
        t.copy_(Tensor([1, 2, 3] as [Float]))
        t.indexCopy_(axis: 0, index: Tensor([2] as [Int]), source: Tensor([9] as [Float]))
        XCTAssertEqual(t.toArray(Float.self), [1, 2, 9])
        t.zero_()
        XCTAssertEqual(t.toArray(Float.self), [0, 0, 0])
    }

    func testRuntimeSettings() {
        XCTAssertGreaterThanOrEqual(Torch.threadCount, 1)
        XCTAssertEqual(Device.best, Torch.cudaIsAvailable ? .cuda(0) : .cpu)
        XCTAssertEqual(Tensor.zeros([1]).device, .cpu)
        XCTAssertTrue(Tensor.zeros([2, 2]).description.contains("0"))
        Torch.manualSeed(5)
        let a = Tensor.randn([3]).toArray(Float.self)
        Torch.manualSeed(5)
        XCTAssertEqual(Tensor.randn([3]).toArray(Float.self), a)
    }
}
