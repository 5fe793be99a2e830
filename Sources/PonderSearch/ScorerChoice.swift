import ArgumentParser
import Foundation
import PonderCore

/// A `--scorer` value: a scorer name, and for a trained reward model its directory (`orm:DIR`, `prm:DIR`).
public struct ScorerChoice: Sendable, Hashable, ExpressibleByArgument, CustomStringConvertible {
    /// Which scorer.
    public var name: ScorerName
    /// The reward model's directory (`orm` and `prm` only).
    public var path: String?

    /// Makes a choice; `path` is required by `orm` and `prm` and refused by the others.
    public init(_ name: ScorerName, path: String? = nil) {
        self.name = name
        self.path = path
    }

    /// Parses `vote`, `judge`, `oracle`, `monte-carlo-oracle`, `orm:DIR` or `prm:DIR`.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1).map(String.init)
        guard let name = ScorerName(rawValue: parts.first ?? "") else { return nil }
        let needsPath = name == .outcomeModel || name == .processModel
        guard needsPath == (parts.count == 2), parts.count == 1 || !parts[1].isEmpty else { return nil }
        self.init(name, path: parts.count == 2 ? parts[1] : nil)
    }

    public var description: String { path.map { "\(name.rawValue):\($0)" } ?? name.rawValue }
    public var defaultValueDescription: String { description }

    /// Reference-free agreement (the default).
    public static let vote = ScorerChoice(.vote)
    /// The verifier with the reference answer (an upper bound).
    public static let oracle = ScorerChoice(.oracle)
    /// Monte-Carlo rollouts verified against the reference answer (an upper bound).
    public static let monteCarloOracle = ScorerChoice(.monteCarloOracle)
    /// The model as judge.
    public static let judge = ScorerChoice(.judge)

    /// The reward model's kind, for `orm` and `prm`.
    public var rewardModelKind: RewardModelKind? {
        switch name {
        case .outcomeModel: .outcome
        case .processModel: .process
        default: nil
        }
    }

    /// Checks that a reward model's directory holds a model.
    func validate() throws {
        guard let path else { return }
        let config = URL(fileURLWithPath: path).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: config.path) else {
            throw ValidationError(
                "--scorer \(description): \(config.path) does not exist (give a reward-model directory written by `ponder train-rm`)")
        }
    }

    /// The scorer for a reward-model choice (loaded on first use), else `nil`.
    func rewardModelScorer(delimiter: String, aggregation: StepAggregation) -> (any Scorer)? {
        guard let path, let kind = rewardModelKind else { return nil }
        return LazyRewardModelScorer(path: path, kind: kind, delimiter: delimiter, aggregation: aggregation)
    }
}

extension StepAggregation: ExpressibleByArgument {}
