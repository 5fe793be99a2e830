// Benchmarks/engine/continuous: continuous against static ("whole") batching in the Engine, on a mixed-length
// workload that arrives over time, for the bundled model and a wider random-weight model. One JSON object per
// run, then a summary of medians over the repeats (static and continuous runs alternate).
//   continuous-bench MODEL_DIR [--quick] [--repeats N] [--only NAME] [--gap-scale X]
// --gap-scale multiplies the gaps between arrivals (default 1: 10 ms for the bundled model, 50 ms for the wide one).
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
let directory = URL(fileURLWithPath: arguments.count > 1 && !arguments[1].hasPrefix("--") ? arguments[1] : "Models/ponder-tiny-base")
let quick = arguments.contains("--quick")
func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } }
let repeats = Int(option("--repeats") ?? "") ?? (quick ? 1 : 3)
let only = option("--only")
let gapScale = Double(option("--gap-scale") ?? "") ?? 1

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
    var load: Engine.Load
    var tokensPerSecond: Double { Double(tokens) / seconds }
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
        texts: results.map { $0.1.completions[0].tokens }, load: engine.load)
}

func percentile(_ xs: [Double], _ p: Double) -> Double {
    let s = xs.sorted()
    return s[min(s.count - 1, Int(Double(s.count - 1) * p))]
}
func median(_ xs: [Double]) -> Double { percentile(xs, 0.5) }
func f(_ x: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", x) }

let tokenizer = try Tokenizer.load(directory: directory)
let bundled = try ModelDirectory.load(directory)
let wideConfiguration = ModelConfiguration(
    family: .llama, vocabularySize: tokenizer.vocabularySize, hiddenSize: 1024, intermediateSize: 2816, layerCount: 4, headCount: 8,
    keyValueHeadCount: 8, maxPositionEmbeddings: 512, eosTokenIds: [0])
var cases: [(name: String, model: CausalLM, workload: Workload)] = [
    ("ponder-tiny-base", bundled, Workload(count: quick ? 24 : 64, gap: 0.01 * gapScale, long: 200)),
    ("random-1024x4", try CausalLM(configuration: wideConfiguration, seed: 3), Workload(count: quick ? 16 : 40, gap: 0.05 * gapScale, long: 200)),
]
if let only { cases = cases.filter { $0.name == only } }

/// Seconds per decode step (forward pass plus sampling) at `rows` rows of the workload's prompts, 48 tokens each,
/// on the generator alone: the median over three runs.
func stepSeconds(_ model: CausalLM, _ tokenizer: Tokenizer, _ workload: Workload, rows: Int) throws -> Double {
    let generator = Generator(model: model, endTokens: [])
    let prompts = workload.requests().prefix(rows).map { r -> [Int] in
        guard case .text(let text) = r.request.prompt else { return [] }
        return tokenizer.encode(text, addSpecialTokens: true)
    }
    var times: [Double] = []
    for _ in 0..<3 {
        let (_, stats) = try generator.generate(prompts.map {
            GenerationRow(prompt: $0, sampling: SamplingParameters(maxTokens: 48, temperature: 1), random: SampleRandom(seed: 1, index: 0))
        })
        times.append((stats.forwardSeconds + stats.sampleSeconds) / Double(stats.decodeSteps))
    }
    return median(times)
}

print("threads: OMP_NUM_THREADS=\(ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? "unset"), repeats: \(repeats)")
var summary: [String] = []
for (name, model, workload) in cases {
    var outcomes: [Engine.Batching: [Outcome]] = [:]
    for r in 0..<repeats {
        // Alternate which scheduler goes first, so drifting machine load hits both alike.
        for batching in r % 2 == 0 ? [Engine.Batching.whole, .continuous] : [.continuous, .whole] {
            let engine = Engine(
                model: model, tokenizer: tokenizer, template: nil, name: name,
                options: Engine.Options(prefixCacheBytes: 0, batching: batching))
            _ = try await engine.complete(CompletionRequest(prompt: .text("Question 1:"), parameters: .greedy(maxTokens: 4)))  // warm-up
            let o = try await run(engine, workload)
            outcomes[batching, default: []].append(o)
            let l = o.load
            emit([
                "model": name, "batching": batching.rawValue, "repeat": r, "requests": workload.count, "seconds": o.seconds,
                "tokens": o.tokens, "tokens_per_second": o.tokensPerSecond, "latency_p50": percentile(o.latencies, 0.5),
                "latency_p90": percentile(o.latencies, 0.9), "latency_p99": percentile(o.latencies, 0.99),
                "last_arrival": Double(workload.count - 1) * workload.gap, "decode_steps": l.decodeSteps,
                "prefill_passes": l.prefillPasses, "joined_running": l.joinedRunning, "peak_cache_bytes": l.peakCacheBytes,
                "cache_reallocations": l.cacheReallocations, "cache_copy_bytes": l.cacheCopyBytes,
                "attended_columns": l.attendedColumns, "own_columns": l.ownColumns, "join_seconds": l.joinSeconds, "sample_seconds": l.sampleSeconds, "forward_seconds": l.forwardSeconds,
            ])
        }
    }
    let s = outcomes[.whole]!
    let c = outcomes[.continuous]!
    // What a decode step costs regardless of its rows (F) and per row (r), from steps of 1 and 16 rows. Continuous
    // batching runs the same rows in fewer steps, so it saves about F for every step it avoids; the ceiling it
    // gives, T_static / (T_static - (steps_static - steps_continuous) * F), is a model: it ignores attention spans
    // and prefill padding (which differ between the schedulers) and, on a busy machine, load that changes between
    // the calibration and the runs.
    let one = try stepSeconds(model, tokenizer, workload, rows: 1)
    let sixteen = try stepSeconds(model, tokenizer, workload, rows: 16)
    let fixed = max(0, (16 * one - sixteen) / 15)
    let perRow = (sixteen - one) / 15
    let staticSeconds = median(s.map(\.seconds))
    let saved = Double(median(s.map { Double($0.load.decodeSteps) }) - median(c.map { Double($0.load.decodeSteps) })) * fixed
    let bound = staticSeconds / (staticSeconds - saved)
    emit([
        "model": name, "step_seconds_1_row": one, "step_seconds_16_rows": sixteen, "step_fixed_seconds": fixed, "step_per_row_seconds": perRow,
        "throughput_ratio_ceiling": bound,
    ])
    for (x, y) in zip(s, c) { precondition(x.texts == y.texts, "\(name): the two schedulers produced different tokens") }
    let ratios = zip(s, c).map { $1.tokensPerSecond / $0.tokensPerSecond }
    func line(_ label: String, _ os: [Outcome]) -> String {
        "  \(label): \(f(median(os.map(\.tokensPerSecond)), 1)) tokens/s, latency p50 \(f(median(os.map { percentile($0.latencies, 0.5) }))) s, "
            + "p90 \(f(median(os.map { percentile($0.latencies, 0.9) }))) s, p99 \(f(median(os.map { percentile($0.latencies, 0.99) }))) s, "
            + "\(os[0].load.decodeSteps) decode steps, \(os[0].load.prefillPasses) prefill passes, "
            + "forward \(f(median(os.map(\.load.forwardSeconds)))) s, sampling \(f(median(os.map(\.load.sampleSeconds)))) s, "
            + "joins \(f(median(os.map(\.load.joinSeconds)))) s, attention spans \(os[0].load.attendedColumns) columns "
            + "(\(f(100 * Double(os[0].load.ownColumns) / Double(max(1, os[0].load.attendedColumns)), 0))% the rows' own)"
    }
    summary.append(
        "\(name) (\(workload.count) requests, \(f(workload.gap * 1000, 0)) ms apart; medians of \(repeats)): continuous / static throughput "
            + "\(f(median(ratios)))x (runs: \(ratios.map { f($0) }.joined(separator: " "))), median latency "
            + "\(f(median(s.map { percentile($0.latencies, 0.5) }) / median(c.map { percentile($0.latencies, 0.5) })))x lower (identical tokens)\n"
            + line("static    ", s) + "\n" + line("continuous", c) + "\n"
            + "  decode step: \(f(one * 1000)) ms at 1 row, \(f(sixteen * 1000)) ms at 16 rows (\(f(sixteen / one))x): "
            + "\(f(fixed * 1000)) ms fixed + \(f(perRow * 1000)) ms per row; skipping \(f(saved)) s of fixed step costs puts the ratio's ceiling near "
            + "\(f(bound))x")
}
print("")
for s in summary { print(s) }
print("goal: throughput >= 1.5x; seconds include waiting for arrivals (the last request arrives at last_arrival)")
