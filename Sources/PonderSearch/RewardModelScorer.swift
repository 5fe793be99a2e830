import Foundation
import PonderCore
import PonderVerifiers
import Synchronization

/// A trained outcome or process reward model as a ``Scorer``: it reads the prompt's text and the solutions only
/// (``ScoringContext/prompt``), never the problem's reference answer.
///
/// - An outcome model (ORM) scores a finished solution, and a partial one as if it were finished.
/// - A process model (PRM) scores each step of a solution (steps are the pieces between `delimiter`s); a prefix's
///   score is its last step's, a finished solution's is the ``aggregation`` of its step scores, as search-and-learn
///   aggregates PRM scores (`last`, `min`, `prod`; and `mean`).
public struct RewardModelScorer: Scorer {
    /// The model.
    public var model: any RewardScoring
    /// Text between steps (the search's step delimiter).
    public var delimiter: String
    /// How a process model's step scores become a solution's score.
    public var aggregation: StepAggregation

    /// Makes a scorer over `model`.
    public init(model: any RewardScoring, delimiter: String = "\n\n", aggregation: StepAggregation = .last) {
        self.model = model
        self.delimiter = delimiter
        self.aggregation = aggregation
    }

    /// The steps of `text`: the pieces between `delimiter`s, without the delimiters, whitespace-only pieces dropped
    /// (`ponder data prm-labels` splits its solutions the same way).
    public static func steps(of text: String, delimiter: String) -> [String] {
        text.components(separatedBy: delimiter).filter { !$0.allSatisfy(\.isWhitespace) }
    }

    public func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try await score(solutions, in: context) { aggregation.aggregate($0) }
    }

    public func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try await score(prefixes, in: context) { $0.last ?? 0.5 }
    }

    private func score(_ texts: [String], in context: ScoringContext, combine: ([Double]) -> Double) async throws -> ScoreBatch {
        let prompt = context.prompt.rewardModelText
        let result: RewardScores
        switch model.kind {
        case .outcome: result = try await model.outcomeScores(prompt: prompt, solutions: texts)
        case .process:
            result = try await model.stepScores(prompt: prompt, solutions: texts.map { Self.steps(of: $0, delimiter: delimiter) })
        }
        guard result.scores.count == texts.count else {
            throw SearchError.wrongScoreCount(expected: texts.count, received: result.scores.count)
        }
        let scores = result.scores.map { model.kind == .outcome ? ($0.first ?? 0) : combine($0) }
        return ScoreBatch(scores: scores, cost: ScoringCost(usage: Usage(promptTokens: result.tokens), modelCalls: 1))
    }
}

/// Where `--scorer orm:DIR` / `prm:DIR` find their models. PonderSearch does not load networks itself: the program
/// registers a loader (the `ponder` executable registers PonderModels' `RewardModel.load`); loaded models are kept by
/// path, so every strategy of a run shares one copy.
public enum RewardModelRegistry {
    /// Loads the reward model in a directory.
    public typealias Loader = @Sendable (String) throws -> any RewardScoring

    private static let state = Mutex<(loader: Loader?, loaded: [String: any RewardScoring])>((nil, [:]))

    /// Sets the loader.
    public static func register(_ loader: @escaping Loader) { state.withLock { $0.loader = loader } }

    /// The model in `path`, loaded once.
    public static func model(at path: String) throws -> any RewardScoring {
        try state.withLock { s in
            if let m = s.loaded[path] { return m }
            guard let loader = s.loader else {
                throw SearchError.invalidParameter(
                    name: "scorer", value: path, rule: "needs a reward-model loader: this program registered none")
            }
            let m = try loader(path)
            s.loaded[path] = m
            return m
        }
    }
}

/// A reward-model scorer that loads its model on first use through ``RewardModelRegistry``.
struct LazyRewardModelScorer: Scorer {
    let path: String
    let kind: RewardModelKind
    let delimiter: String
    let aggregation: StepAggregation

    func scorer() throws -> RewardModelScorer {
        let model = try RewardModelRegistry.model(at: path)
        guard model.kind == kind else {
            throw SearchError.invalidParameter(
                name: "scorer", value: "\(kind.rawValue):\(path)",
                rule: "is a \(model.kind == .outcome ? "outcome (orm)" : "process (prm)") reward model; use \(model.kind.rawValue):\(path)")
        }
        return RewardModelScorer(model: model, delimiter: delimiter, aggregation: aggregation)
    }

    func scoreOutcomes(_ solutions: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try await scorer().scoreOutcomes(solutions, in: context)
    }

    func scorePrefixes(_ prefixes: [String], in context: ScoringContext) async throws -> ScoreBatch {
        try await scorer().scorePrefixes(prefixes, in: context)
    }
}
