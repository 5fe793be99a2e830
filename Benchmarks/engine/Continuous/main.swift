// Benchmarks/engine/continuous: continuous against static ("whole") batching in the Engine, on a mixed-length
// workload that arrives over time, for the bundled model and a wider random-weight model. One JSON object per
// line, then a summary.   continuous-bench MODEL_DIR [--quick]
import Foundation
import PonderCore
import PonderModels
import PonderTokenizers
import Torch

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func emit(_ fields: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
    fflush(nil)
}

let arguments = CommandLine.arguments
let directory = URL(fileURLWithPath: arguments.count > 1 ? arguments[1] : "Models/ponder-tiny-base")
let quick = arguments.contains("--quick")

/// The workload: `count` requests, one every `gap` seconds; one in five wants a long completion (`long` tokens),
/// the rest a short one (8 to 24 tokens), each thinking for all of its tokens. Seeds fix every sample, so both
/// schedulers produce identical tokens.
struct Workload {
    var count: Int
    var gap: Double
    var long: Int
    func requests() -> [(arrival: Double, request: CompletionRequest)] {
        var random = SampleRandom(seed: 42, index: 0)
        return (0..<count).map { i in
            let maxTokens = i % 5 == 2 ? long : 8 + Int(random.uniform() * 17)
            let a = 1 + Int(random.uniform() * 90)
            let b = 1 + Int(random.uniform() * 90)
            let prompt = String(repeating: "Question \(i): ", count: 1 + i % 3) + "what is \(a) + \(b)? <think>"
            // Budget forcing (a minimum thinking length) turns an early end into "Wait", so every completion runs to
            // its max_tokens and the lengths are the workload's, not the model's.
            let p = SamplingParameters(
                maxTokens: maxTokens, temperature: 1, seed: UInt64(i), thinking: ThinkingBudget(minThinkingTokens: maxTokens))
            return (Double(i) * gap, CompletionRequest(prompt: .text(prompt), parameters: p))
        }
    }
}

struct Outcome {
    var seconds: Double
    var tokens: Int
    var latencies: [Double]
    var texts: [[Int]]
}

func run(_ engine: Engine, _ workload: Workload) async throws -> Outcome {
    let requests = workload.requests()
    let start = now()
    let results = try await withThrowingTaskGroup(of: (Int, CompletionResponse, Double).self) { group in
        for (i, (arrival, request)) in requests.enumerated() {
            group.addTask {
                let wait = start + arrival - now()
                if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                let sent = now()
                let r = try await engine.complete(request)
                return (i, r, now() - sent)
            }
        }
        var out: [(Int, CompletionResponse, Double)] = []
        for try await x in group { out.append(x) }
        return out.sorted { $0.0 < $1.0 }
    }
    let seconds = now() - start
    return Outcome(
        seconds: seconds, tokens: results.reduce(0) { $0 + $1.1.usage.completionTokens }, latencies: results.map(\.2),
        texts: results.map { $0.1.completions[0].tokens })
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int(Double(s.count - 1) * p))]
}

let tokenizer = try Tokenizer.load(directory: directory)
let bundled = try ModelDirectory.load(directory)
let wideConfiguration = ModelConfiguration(
    family: .llama, vocabularySize: tokenizer.vocabularySize, hiddenSize: 1024, intermediateSize: 2816, layerCount: 4, headCount: 8,
    keyValueHeadCount: 8, maxPositionEmbeddings: 512, eosTokenIds: [0])
let cases: [(name: String, model: CausalLM, workload: Workload)] = [
    ("ponder-tiny-base", bundled, Workload(count: quick ? 24 : 64, gap: 0.01, long: 200)),
    ("random-1024x4", try CausalLM(configuration: wideConfiguration, seed: 3), Workload(count: quick ? 16 : 40, gap: 0.05, long: 200)),
]
var ratios: [(String, Double, Double)] = []
for (name, model, workload) in cases {
    var outcomes: [Engine.Batching: Outcome] = [:]
    for batching in [Engine.Batching.whole, .continuous] {
        let engine = Engine(
            model: model, tokenizer: tokenizer, template: nil, name: name,
            options: Engine.Options(prefixCacheBytes: 0, batching: batching))
        _ = try await engine.complete(CompletionRequest(prompt: .text("Question 1:"), parameters: .greedy(maxTokens: 4)))  // warm-up
        let o = try await run(engine, workload)
        outcomes[batching] = o
        emit([
            "model": name, "batching": batching.rawValue, "requests": workload.count, "seconds": o.seconds, "tokens": o.tokens,
            "tokens_per_second": Double(o.tokens) / o.seconds, "latency_p50": percentile(o.latencies, 0.5),
            "latency_p90": percentile(o.latencies, 0.9), "decode_steps": engine.load.decodeSteps,
            "peak_cache_bytes": engine.load.peakCacheBytes,
        ])
    }
    let s = outcomes[.whole]!
    let c = outcomes[.continuous]!
    precondition(s.texts == c.texts, "\(name): the two schedulers produced different tokens")
    ratios.append(
        (name, (Double(c.tokens) / c.seconds) / (Double(s.tokens) / s.seconds), percentile(s.latencies, 0.5) / percentile(c.latencies, 0.5)))
}
print("")
for (name, throughput, latency) in ratios {
    print(
        "\(name): continuous / static throughput \(String(format: "%.2f", throughput))x, median latency "
            + "\(String(format: "%.2f", latency))x lower (identical tokens)")
}
print("goal: throughput >= 1.5x")
