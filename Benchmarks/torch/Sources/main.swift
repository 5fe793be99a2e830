// Times Swift → C → libtorch: per-op overhead on a tiny tensor and matmul throughput. Prints one JSON object per
// line; Benchmarks/torch/run compares them with PyTorch from Python measured in the same run.
import CTorch
import Foundation
import Torch

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func emit(_ fields: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Runs `body` until at least `seconds` have passed (after `warmup` calls); returns seconds per call.
func timed(seconds: Double, warmup: Int = 2, minimumRuns: Int = 3, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    var runs = 0
    let start = now()
    while runs < minimumRuns || Double(now() - start) < seconds * 1e9 {
        body()
        runs += 1
    }
    return Double(now() - start) / 1e9 / Double(runs)
}

let quick = CommandLine.arguments.contains("--quick")
print("# threads \(Torch.threadCount), cuda \(Torch.cudaIsAvailable)")

// (a) per-op overhead: a + b on one-element float32 tensors.
let a = Tensor([1] as [Float])
let b = Tensor([2] as [Float])
let iterations = quick ? 20_000 : 300_000
for _ in 0..<3 {
    var cppNs = 0.0
    _ = pt_benchmark_add_loop(&cppNs, a.handle, b.handle, Int64(iterations))
    let start = now()
    for _ in 0..<iterations { _ = a + b }
    let swiftNs = Double(now() - start) / Double(iterations)
    emit(["bench": "add_tiny", "swift_ns": swiftNs, "cpp_ns": cppNs, "overhead_ns": swiftNs - cppNs])
}

// (b) matmul throughput.
for n in quick ? [256, 1024] : [1024, 4096] {
    for dtype in [DType.float32, .bfloat16] {
        let g = RandomGenerator(seed: 0)
        let x = Tensor.randn([n, n], generator: g).to(dtype)
        let y = Tensor.randn([n, n], generator: g).to(dtype)
        let seconds = timed(seconds: quick ? 0.2 : 2) { _ = x.matmul(y) }
        emit(["bench": "matmul", "n": n, "dtype": dtype.description, "gflops": 2 * pow(Double(n), 3) / seconds / 1e9])
    }
}
