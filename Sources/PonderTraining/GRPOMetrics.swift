import Foundation
import OrderedCollections
import PonderCore
import PonderVerifiers

extension GRPOTrainer {
    /// TRL's generation metrics for a batch: rewards, their spread, and completion lengths. `all` includes groups
    /// dynamic sampling dropped (so `frac_reward_zero_std` shows how many were filtered).
    func metrics(_ kept: [Group], all: [Group]) -> OrderedDictionary<String, Double> {
        let weights = rewardWeights
        let perFunction = kept.flatMap(\.rewardsPerFunction)
        let rewards = perFunction.map { RewardCombination.weightedSum($0, weights: weights) }
        let (mean, std) = RewardCombination.meanAndStd(rewards)
        var m: OrderedDictionary<String, Double> = ["reward": mean, "reward_std": std.isNaN ? 0 : std]
        for (k, name) in rewardNames.enumerated() {
            let (fm, fs) = RewardCombination.meanAndStd(perFunction.map { $0[k] })
            m["rewards/\(name)/mean"] = fm
            m["rewards/\(name)/std"] = fs.isNaN ? 0 : fs
        }
        let zero = all.map { Self.hasZeroSpread($0, weights: weights) }
        m["frac_reward_zero_std"] = zero.isEmpty ? 0 : Double(zero.filter { $0 }.count) / Double(zero.count)
        let completions = kept.flatMap(\.completions)
        let lengths = completions.map { Double($0.tokens.count) }
        m["completions/mean_length"] = lengths.reduce(0, +) / Double(Swift.max(1, lengths.count))
        m["completions/min_length"] = lengths.min() ?? 0
        m["completions/max_length"] = lengths.max() ?? 0
        // TRL's terminated lengths: completions that ended by themselves (EOS or a stop string), not at the limit.
        let terminated = completions.filter { $0.finishReason == .stop }.map { Double($0.tokens.count) }
        m["completions/mean_terminated_length"] = terminated.isEmpty ? 0 : terminated.reduce(0, +) / Double(terminated.count)
        m["completions/min_terminated_length"] = terminated.min() ?? 0
        m["completions/max_terminated_length"] = terminated.max() ?? 0
        m["completions/clipped_ratio"] =
            Double(completions.filter { $0.finishReason == .length }.count) / Double(Swift.max(1, completions.count))
        // This batch's prompt and completion tokens; `train` turns it into TRL's cumulative count.
        m["num_tokens"] = lengths.reduce(0, +) + Double(kept.reduce(0) { $0 + $1.prompt.count * $1.completions.count })
        return m
    }

    /// Appends each sampled completion with its rewards and advantage to completions.jsonl.
    func logCompletions(_ batch: [Group], step: Int, run: RunDirectory) throws {
        for g in batch {
            for (k, completion) in g.completions.enumerated() {
                var rewards: [String: Any] = [:]
                for (i, name) in rewardNames.enumerated() { rewards[name] = g.rewardsPerFunction[k][i] ?? NSNull() }
                try run.appendLine(
                    [
                        "step": step, "problem": g.problem.id, "prompt": g.problem.prompt, "completion": completion.text,
                        "rewards": rewards, "advantage": g.advantages[k], "tokens": completion.tokens.count,
                        "finish_reason": completion.finishReason.rawValue, "stop": Self.describe(completion.stop),
                        "forced_tokens": completion.sampled.filter { !$0 }.count,
                    ], to: run.completionsURL)
            }
        }
    }

    /// A stop reason for the completions log.
    static func describe(_ stop: StopReason) -> String {
        switch stop {
        case .endOfSequence(let token): "eos \(token)"
        case .stopString(let s): "stop string \(s.debugDescription)"
        case .length(let inThinking): inThinking ? "length (inside thinking)" : "length"
        case .lowConfidence: "low confidence"
        }
    }
}
