// Ponder side of Benchmarks/grpo. Prints one JSON line per run.
//
//   grpo-bench MODEL BETA
//       the tiny case: GRPO step time on the model trl_bench.py made (8 prompts × 4 generations, at most 64 new
//       tokens, dapo), split into generation, scoring and training.
//   grpo-bench --realistic MODEL BETA full|lora STEPS WARMUP THREADS
//       the realistic case (Benchmarks/grpo/run --realistic): 4 prompts × 4 generations, 128 new tokens, dapo, f32,
//       full fine-tuning or LoRA r 16 on q/k/v/o; also the matmul peak of this process's libtorch at the training
//       shapes (measured before the model is loaded) and this process's peak resident memory (VmHWM).
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining
import PonderVerifiers
import Torch

struct DigitShare: RewardFunction {
    var name: String { "digits" }
    func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { c in Double(c.filter(\.isNumber).count) / Double(max(1, c.count)) }
    }
}

func emit(_ fields: [String: Any]) {
    print(String(decoding: try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
}

/// Peak resident set of this process in bytes (Linux's VmHWM), 0 where /proc is unavailable.
func peakResidentBytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return 0 }
    // "VmHWM:\t 5331620 kB", or with no space at all past 9,999,999 kB ("VmHWM:\t11767708 kB"): split on any blank.
    let fields = line.dropFirst("VmHWM:".count).split(whereSeparator: { $0 == " " || $0 == "\t" })
    return (Double(fields.first ?? "0") ?? 0) * 1024
}

/// GFLOP/s of `x (m × k) · w (k × n)` in float32, best of a few timed repetitions after a warm-up.
func matmulGFLOPs(m: Int, k: Int, n: Int) -> Double {
    let g = RandomGenerator(seed: 0)
    let x = Tensor.randn([m, k], generator: g)
    let w = Tensor.randn([k, n], generator: g)
    _ = x.matmul(w)
    var best = Double.infinity
    for _ in 0..<3 {
        let start = DispatchTime.now().uptimeNanoseconds
        let y = x.matmul(w)
        _ = y.shape
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return 2 * Double(m) * Double(k) * Double(n) / best / 1e9
}

let problems = (0..<64).map { Problem.math(id: "\($0)", prompt: "Question \($0): what is \($0) + \(3 * $0)?", answer: "\(4 * $0)") }

/// Runs `warmup + steps` GRPO steps and returns the per-step means over the timed ones.
func runGRPO(root: URL, beta: Double, flags: [String], warmup: Int, reference: Bool) async throws -> (
    means: [String: Double], steps: Int, tokens: Double
) {
    let c = try GRPOTrainer.Configuration.parse(flags + ["--loss-type", "dapo", "--beta", "\(beta)", "--save-every", "1000000"])
    let policy = try ModelDirectory.load(root, dtype: .float32)
    let engine = try Engine(model: policy, directory: root, chat: false, name: "bench", options: .init(prefixCacheBytes: 0))
    let trainer = try GRPOTrainer(
        configuration: c, policy: policy, rollouts: engine, task: TaskFormat(name: "bench", style: .plain), problems: problems,
        rewards: [WeightedReward(DigitShare())], reference: reference ? try ModelDirectory.load(root, dtype: .float32) : nil)
    let runDir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-grpo-bench-\(UUID().uuidString)")
    var reports: [StepReport] = []
    _ = try await trainer.train(run: RunDirectory(runDir)) { reports.append($0) }
    try? FileManager.default.removeItem(at: runDir)
    let timed = Array(reports.dropFirst(warmup))
    var means: [String: Double] = [:]
    for key in ["step_time", "time/generation", "time/scoring", "time/training", "time/reference", "completions/mean_length"] {
        means[key] = timed.map { $0.metrics[key] ?? 0 }.reduce(0, +) / Double(timed.count)
    }
    // num_tokens is cumulative (prompt and completion tokens sampled so far): the timed steps' share per step.
    let before = warmup > 0 ? reports[warmup - 1].metrics["num_tokens"] ?? 0 : 0
    let tokens = ((timed.last?.metrics["num_tokens"] ?? 0) - before) / Double(timed.count)
    return (means, timed.count, tokens)
}

let arguments = CommandLine.arguments
// PONDER_BENCH_NO_PACKED_WEIGHTS=1: decode without packed weights (CausalLM.defaultMaxPackedBytes 0), an A/B of
// their speed and memory.
if ProcessInfo.processInfo.environment["PONDER_BENCH_NO_PACKED_WEIGHTS"] == "1" { CausalLM.defaultMaxPackedBytes = 0 }
if arguments.count > 1 && arguments[1] == "--realistic" {
    guard arguments.count == 8, let beta = Double(arguments[3]), ["full", "lora"].contains(arguments[4]), let steps = Int(arguments[5]),
        let warmup = Int(arguments[6]), let threads = Int(arguments[7])
    else {
        FileHandle.standardError.write(Data("usage: grpo-bench --realistic MODEL BETA full|lora STEPS WARMUP THREADS\n".utf8))
        exit(2)
    }
    let root = URL(fileURLWithPath: arguments[2])
    let mode = arguments[4]
    Torch.threadCount = threads
    // The training matmuls of one 4-row chunk (about 4 × 150 positions): attention and MLP projections, and the
    // output layer on the completion positions.
    let rows = 4 * 150
    let peaks = [
        "qo_896x896": matmulGFLOPs(m: rows, k: 896, n: 896), "up_896x4864": matmulGFLOPs(m: rows, k: 896, n: 4864),
        "down_4864x896": matmulGFLOPs(m: rows, k: 4864, n: 896), "lm_head_896x151936": matmulGFLOPs(m: 4 * 129, k: 896, n: 151_936),
    ]
    var flags = [
        "--steps", "\(steps + warmup)", "--learning-rate", "1e-6", "--decay", "constant", "--num-generations", "4", "--prompts-per-step", "4",
        "--max-completion-length", "128", "--chunk-rows", "4",
    ]
    if mode == "lora" { flags += ["--lora-r", "16", "--lora-alpha", "32", "--lora-target-modules", "q_proj", "k_proj", "v_proj", "o_proj"] }
    let (m, timedSteps, tokens) = try await runGRPO(root: root, beta: beta, flags: flags, warmup: warmup, reference: beta != 0 && mode == "full")
    emit([
        "side": "ponder", "case": "realistic", "mode": mode, "beta": beta, "threads": Torch.threadCount, "steps": timedSteps,
        "warmup": warmup, "step_time": m["step_time"]!, "generation": m["time/generation"]!, "scoring": m["time/scoring"]!,
        "training": m["time/training"]!, "reference": m["time/reference"]!, "mean_length": m["completions/mean_length"]!,
        "tokens_per_step": tokens, "rows": 16, "peak_rss_bytes": peakResidentBytes(), "matmul_gflops": peaks, "dtype": "float32",
    ])
} else {
    let root = URL(fileURLWithPath: arguments[1])
    let beta = Double(arguments[2])!
    let flags = [
        "--steps", "12", "--learning-rate", "1e-4", "--decay", "linear", "--minimum-learning-rate-ratio", "0", "--num-generations", "4",
        "--prompts-per-step", "8", "--max-completion-length", "64", "--chunk-rows", "32",
    ]
    let (m, timedSteps, _) = try await runGRPO(root: root, beta: beta, flags: flags, warmup: 2, reference: beta != 0)
    emit([
        "side": "ponder", "beta": beta, "step_time": m["step_time"]!, "generation": m["time/generation"]!, "scoring": m["time/scoring"]!,
        "training": m["time/training"]!, "steps": timedSteps, "mean_length": m["completions/mean_length"]!,
    ])
}
