// Ponder side of Benchmarks/engine: prefill and decode throughput of the Generator on the model directories
// bench.py made, and the machine's limits the roofline is drawn against, measured through the same libtorch on the
// same thread count: read bandwidth (a sum over a buffer much larger than the caches), copy bandwidth, and matmul
// throughput per dtype for shapes the model runs. One JSON object per line; Benchmarks/engine/report.py reads them.
//   engine-bench MODELS [--quick] [--reps N] [--only MODEL/DTYPE/BATCH] [--no-packed-weights]
// --only runs one cell and skips the machine measurements (for profiling one cell under perf); --no-packed-weights
// turns off the float32 decode steps' packed weights (CausalLM.packsDecodeWeights) for an A/B.
import Foundation
import PonderCore
import PonderModels
import Torch

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
/// CPU seconds this process has used (all threads): steadier than wall time on a machine busy with other work.
func cpuNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
func emit(_ fields: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
    fflush(nil)
}
/// Shortest of `reps` timed runs of `body` (after one untimed run, so allocations and thread start-up are paid).
func fastest(_ reps: Int, _ body: () -> Void) -> Double {
    body()
    var best = Double.infinity
    for _ in 0..<reps {
        let start = now()
        body()
        best = min(best, now() - start)
    }
    return best
}

let arguments = CommandLine.arguments
let root = URL(fileURLWithPath: arguments[1])
let quick = arguments.contains("--quick")
let reps = arguments.firstIndex(of: "--reps").map { Int(arguments[$0 + 1])! }
let only = arguments.firstIndex(of: "--only").map { arguments[$0 + 1] }
let packs = !arguments.contains("--no-packed-weights")  // A/B of CausalLM.packsDecodeWeights

/// Read and copy bandwidth in bytes per second; `phase` says when (the machine is measured before and after the
/// models, since other work on it changes what it can give).
func measureBandwidth(phase: String) {
    withNoGrad {
        // Read: sum of 1 GiB of float32 (each byte read once, a scalar written), well past the last-level cache.
        let buffer = Tensor.ones([256 << 20])
        let read = fastest(5) { _ = buffer.sum().item() }
        // Copy: 256 MiB read and 256 MiB written.
        let source = Tensor.ones([64 << 20])
        let target = Tensor.zeros([64 << 20])
        let copy = fastest(5) { target.copy_(source) }
        emit([
            "bench": "bandwidth", "phase": phase, "read_bytes_per_second": Double(1 << 30) / read,
            "copy_bytes_per_second": Double(2 * (256 << 20)) / copy, "threads": Torch.threadCount,
        ])
    }
}

/// Matmul throughput (FLOP/s) of `linear(x (m, k), W (n, k))`, as the model's projections run it, for shapes the
/// big model uses: a batch-32 decode step's MLP and lm_head, a batch-32 prefill's MLP, and a large square product.
func measureMatmul(_ c: ModelConfiguration, dtype: DType, phase: String) {
    let shapes = [
        ("decode32_mlp", 32, c.hiddenSize, c.intermediateSize), ("decode32_lm_head", 32, c.hiddenSize, c.vocabularySize),
        ("prefill_mlp", 2048, c.hiddenSize, c.intermediateSize), ("square", 2048, 2048, 2048),
    ]
    withNoGrad {
        for (name, m, k, n) in shapes {
            let g = RandomGenerator(seed: 2)
            let x = Tensor.randn([m, k], generator: g).to(dtype)
            let w = (Tensor.randn([n, k], generator: g) * 0.02).to(dtype)
            let flops = 2.0 * Double(m) * Double(k) * Double(n)
            let seconds = fastest(max(3, min(20, Int(2e10 / flops)))) { _ = linear(x, weight: w).count }
            emit([
                "bench": "matmul", "phase": phase, "dtype": dtype.description, "shape": name, "m": m, "k": k, "n": n,
                "flops_per_second": flops / seconds, "threads": Torch.threadCount,
            ])
        }
    }
}

let bigConfiguration = try ModelConfiguration(contentsOf: root.appendingPathComponent("qwen2.5-0.5b-shape/config.json"))
if only == nil {
    measureBandwidth(phase: "start")
    for dtype in [DType.bfloat16, .float32] { measureMatmul(bigConfiguration, dtype: dtype, phase: "start") }
}

for name in ["tiny", "qwen2.5-0.5b-shape"] {
    for dtype in [DType.bfloat16, .float32] {
        if let only, !only.hasPrefix("\(name)/\(dtype)/") { continue }
        let model = try ModelDirectory.load(root.appendingPathComponent(name), dtype: dtype)
        model.packsDecodeWeights = packs
        let big = name != "tiny"
        let (promptLength, new) = big ? (64, 32) : (128, 64)
        for batch in [1, 32] {
            if quick && (big || batch == 32) { continue }
            if let only, only != "\(name)/\(dtype)/\(batch)" { continue }
            let g = RandomGenerator(seed: 1)
            let prompts = Tensor.randint(0, model.configuration.vocabularySize, [batch, promptLength], generator: g).toArray(Int.self)
            let rows = (0..<batch).map { b in
                GenerationRow(
                    prompt: Array(prompts[(b * promptLength)..<((b + 1) * promptLength)]), sampling: SamplingParameters(maxTokens: new, temperature: 0),
                    random: SampleRandom(seed: 0, index: b))
            }
            let generator = Generator(model: model, endTokens: [])
            // Warm-up: every row, a short prompt, two tokens (one decode step at the batch's size: a float32 model
            // packs its decode weights here, once, as a server does on its first batch).
            _ = try generator.generate(
                rows.map {
                    var r = $0
                    r.prompt = Array(r.prompt.prefix(8))
                    r.sampling.maxTokens = 2
                    return r
                })
            // Best of several repetitions (the tiny model's runs are short enough for timer noise to matter).
            // Prefill: the prompts and the first token; decode: the rest of the run, new - 1 steps.
            var (prefill, decode, prefillCPU, decodeCPU) = (Double.infinity, Double.infinity, Double.infinity, Double.infinity)
            for _ in 0..<(reps ?? (big ? 1 : 5)) {
                var (start, cpu) = (now(), cpuNow())
                _ = try generator.generate(
                    rows.map {
                        var r = $0
                        r.sampling.maxTokens = 1
                        return r
                    })
                let (p, pc) = (now() - start, cpuNow() - cpu)
                (start, cpu) = (now(), cpuNow())
                _ = try generator.generate(rows)
                (prefill, prefillCPU) = (min(prefill, p), min(prefillCPU, pc))
                decode = min(decode, max(now() - start - p, 1e-9))
                decodeCPU = min(decodeCPU, max(cpuNow() - cpu - pc, 1e-9))
            }
            emit([
                "model": name, "dtype": dtype.description, "batch": batch, "prompt": promptLength, "new": new,
                "prefill_seconds": prefill, "decode_seconds": decode, "prefill_cpu_seconds": prefillCPU, "decode_cpu_seconds": decodeCPU,
                "prefill_tps": Double(batch * promptLength) / prefill,
                "decode_tps": Double(batch * (new - 1)) / decode, "threads": Torch.threadCount,
            ])
        }
    }
}

if only == nil {
    measureBandwidth(phase: "end")
    for dtype in [DType.bfloat16, .float32] { measureMatmul(bigConfiguration, dtype: dtype, phase: "end") }
}
