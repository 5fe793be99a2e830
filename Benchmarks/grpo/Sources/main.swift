// Ponder side of Benchmarks/grpo: GRPO step time on the model trl_bench.py made, with the same configuration
// (8 prompts × 4 generations, at most 64 new tokens, dapo), split into generation, scoring and training.
import Foundation
import PonderCore
import PonderModels
import PonderTasks
import PonderTokenizers
import PonderTraining
import PonderVerifiers

struct DigitShare: RewardFunction {
    var name: String { "digits" }
    func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { c in Double(c.filter(\.isNumber).count) / Double(max(1, c.count)) }
    }
}

let root = URL(fileURLWithPath: CommandLine.arguments[1])
let beta = Double(CommandLine.arguments[2])!
let steps = 12
let warmup = 2
let c = try GRPOTrainer.Configuration.parse([
    "--steps", "\(steps)", "--learning-rate", "1e-4", "--save-every", "1000000", "--decay", "linear", "--minimum-learning-rate-ratio", "0",
    "--num-generations", "4", "--prompts-per-step", "8", "--max-completion-length", "64", "--loss-type", "dapo", "--beta", "\(beta)",
    "--chunk-rows", "32",
])
let policy = try ModelDirectory.load(root, dtype: .float32)
let engine = try Engine(model: policy, directory: root, chat: false, name: "bench", options: .init(prefixCacheBytes: 0))
let problems = (0..<64).map { Problem.math(id: "\($0)", prompt: "Question \($0): what is \($0) + \(3 * $0)?", answer: "\(4 * $0)") }
let trainer = try GRPOTrainer(
    configuration: c, policy: policy, rollouts: engine, task: TaskFormat(name: "bench", style: .plain), problems: problems,
    rewards: [WeightedReward(DigitShare())], reference: beta != 0 ? try ModelDirectory.load(root, dtype: .float32) : nil)
let runDir = FileManager.default.temporaryDirectory.appendingPathComponent("ponder-grpo-bench-\(UUID().uuidString)")
var reports: [StepReport] = []
_ = try await trainer.train(run: RunDirectory(runDir)) { reports.append($0) }
try? FileManager.default.removeItem(at: runDir)
let timed = reports.dropFirst(warmup)
func mean(_ key: String) -> Double { timed.map { $0.metrics[key] ?? 0 }.reduce(0, +) / Double(timed.count) }
let fields: [String: Any] = [
    "side": "ponder", "beta": beta, "step_time": mean("step_time"), "generation": mean("time/generation"), "scoring": mean("time/scoring"),
    "training": mean("time/training"), "steps": timed.count, "mean_length": mean("completions/mean_length"),
]
print(String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self))
