// Ponder side of Benchmarks/engine: prefill and decode throughput of the Generator on the model directories
// bench.py made, plus the machine's copy bandwidth for the roofline. One JSON object per line.
import Foundation
import PonderCore
import PonderModels
import Torch

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func emit(_ fields: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
    fflush(nil)
}

let arguments = CommandLine.arguments
let root = URL(fileURLWithPath: arguments[1])
let quick = arguments.contains("--quick")

// Copy bandwidth: bytes read plus written per second for a 256 MiB copy (best of 5).
let source = Tensor.ones([64 << 20])
let target = Tensor.zeros([64 << 20])
var best = Double.infinity
for _ in 0..<5 {
    let start = now()
    target.copy_(source)
    best = min(best, now() - start)
}
emit(["bench": "copy", "bytes_per_second": Double(2 * (256 << 20)) / best])

for name in ["tiny", "qwen2.5-0.5b-shape"] {
    for dtype in [DType.bfloat16, .float32] {
        let model = try ModelDirectory.load(root.appendingPathComponent(name), dtype: dtype)
        let big = name != "tiny"
        let (promptLength, new) = big ? (64, 32) : (128, 64)
        for batch in [1, 32] {
            if quick && (big || batch == 32) { continue }
            let g = RandomGenerator(seed: 1)
            let prompts = Tensor.randint(0, model.configuration.vocabularySize, [batch, promptLength], generator: g).toArray(Int.self)
            let rows = (0..<batch).map { b in
                GenerationRow(
                    prompt: Array(prompts[(b * promptLength)..<((b + 1) * promptLength)]), sampling: SamplingParameters(maxTokens: new, temperature: 0),
                    random: SampleRandom(seed: 0, index: b))
            }
            let generator = Generator(model: model, endTokens: [])
            _ = try generator.generate(
                Array(rows.prefix(1)).map {
                    var r = $0
                    r.prompt = Array(r.prompt.prefix(8))
                    r.sampling.maxTokens = 2
                    return r
                })
            // Best of several repetitions (the tiny model's runs are short enough for timer noise to matter).
            var prefill = Double.infinity
            var decode = Double.infinity
            for _ in 0..<(big ? 1 : 5) {
                var start = now()
                _ = try generator.generate(
                    rows.map {
                        var r = $0
                        r.sampling.maxTokens = 1
                        return r
                    })
                let p = now() - start
                start = now()
                _ = try generator.generate(rows)
                prefill = min(prefill, p)
                decode = min(decode, max(now() - start - p, 1e-9))
            }
            let weightBytes = model.parameterCount * dtype.byteSize
            emit([
                "model": name, "dtype": dtype.description, "batch": batch, "prefill_tps": Double(batch * promptLength) / prefill,
                "decode_tps": Double(batch * (new - 1)) / decode, "weight_bytes": weightBytes,
            ])
        }
    }
}
