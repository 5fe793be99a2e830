import Foundation
import PonderCore
import PonderTokenizers
import Torch

/// How reward-model inputs become token ids, the same way in training and in scoring (TRL's layouts).
///
/// - Outcome (TRL `RewardTrainer`): the text `prompt + completion`, with `endText` (the EOS token) appended when it
///   does not already end with it, tokenized with special tokens.
/// - Steps (TRL `PRMTrainer.tokenize_row`): BOS (when the tokenizer has one), the prompt, then each step followed by
///   `stepSeparator`, every piece tokenized on its own without special tokens; a step's label sits at its last token
///   (the separator's last token).
public struct RewardEncoder: Sendable {
    /// The tokenizer.
    public var tokenizer: Tokenizer
    /// Appended to outcome texts (TRL appends the EOS token); `nil` appends nothing.
    public var endText: String?
    /// Text appended after each step (TRL's `step_separator`, default "\n").
    public var stepSeparator: String

    /// Makes an encoder.
    public init(tokenizer: Tokenizer, endText: String?, stepSeparator: String = "\n") {
        self.tokenizer = tokenizer
        self.endText = endText
        self.stepSeparator = stepSeparator
    }

    /// Token ids of one finished solution.
    public func outcomeIDs(prompt: String, completion: String) -> [Int] {
        var text = prompt + completion
        if let endText, !text.hasSuffix(endText) { text += endText }
        return tokenizer.encode(text, addSpecialTokens: true)
    }

    /// Token ids of a solution split into steps, and the position of each step's last token.
    public func stepIDs(prompt: String, steps: [String]) -> (ids: [Int], ends: [Int]) {
        var ids = (tokenizer.specialTokenIDs.bos.map { [$0] } ?? []) + tokenizer.encode(prompt, addSpecialTokens: false)
        let separator = tokenizer.encode(stepSeparator, addSpecialTokens: false)
        var ends: [Int] = []
        for step in steps {
            ids += tokenizer.encode(step, addSpecialTokens: false) + separator
            ends.append(ids.count - 1)
        }
        return (ids, ends)
    }

    /// What a reward model directory records about its encoding (`reward_model.json`).
    public struct Settings: Codable, Sendable, Equatable {
        public var kind: RewardModelKind
        public var endText: String?
        public var stepSeparator: String

        public init(kind: RewardModelKind, endText: String?, stepSeparator: String) {
            self.kind = kind
            self.endText = endText
            self.stepSeparator = stepSeparator
        }

        enum CodingKeys: String, CodingKey {
            case kind
            case endText = "end_text"
            case stepSeparator = "step_separator"
        }
    }

    /// The settings file's name inside a model directory.
    public static let settingsFile = "reward_model.json"
}

/// A trained outcome or process reward model with its tokenizer: scores solutions to a prompt (never a reference).
///
/// An outcome model (``ModelHead/sequenceClassification(labels:)``) gives sigmoid(logit) with one label, or the
/// softmax probability of label 1 with more; a process model (``ModelHead/tokenClassification(labels:bias:)``) gives
/// the softmax probability of label 1 ("correct") at the end of each step.
public final class RewardModel: RewardScoring, @unchecked Sendable {
    /// The network, with a classifier head.
    public let model: CausalLM
    /// How inputs are tokenized.
    public let encoder: RewardEncoder
    /// Outcome or process, from the head.
    public let kind: RewardModelKind
    /// Rows per forward pass.
    public var batchSize = 16
    private let lock = NSLock()

    /// Wraps `model`, which must have a classifier head (`path` names it in errors).
    public init(model: CausalLM, encoder: RewardEncoder, path: String = "<memory>") throws {
        guard let kind = model.configuration.head.rewardKind else {
            throw ModelError.invalidField(
                path: path, field: "architectures",
                reason:
                    "names a language model; a reward model is *ForSequenceClassification (outcome) or *ForTokenClassification (process): train one with `ponder train-rm`"
            )
        }
        self.kind = kind
        self.model = model
        self.encoder = encoder
    }

    /// Loads a reward model directory (config.json, weights, tokenizer, and `reward_model.json` when Ponder wrote it;
    /// without it, outcome texts end with the tokenizer's EOS and steps with "\n", TRL's defaults).
    public static func load(_ directory: URL, dtype: DType? = nil) throws -> RewardModel {
        let model = try ModelDirectory.load(directory, dtype: dtype)
        let tokenizer = try Tokenizer.load(directory: directory)
        let settingsURL = directory.appendingPathComponent(RewardEncoder.settingsFile)
        var endText = tokenizer.specialTokenIDs.eos.first.flatMap { tokenizer.token(for: $0) }
        var separator = "\n"
        if FileManager.default.fileExists(atPath: settingsURL.path) {
            do {
                let settings = try JSONDecoder().decode(RewardEncoder.Settings.self, from: Data(contentsOf: settingsURL))
                (endText, separator) = (settings.endText, settings.stepSeparator)
            } catch {
                throw ModelError.unreadable(path: settingsURL.path, reason: "not reward-model settings (\(error.localizedDescription))")
            }
        }
        return try RewardModel(
            model: model, encoder: RewardEncoder(tokenizer: tokenizer, endText: endText, stepSeparator: separator), path: directory.path)
    }

    /// Writes `settings` beside a saved model.
    public static func writeSettings(_ settings: RewardEncoder.Settings, to directory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(settings).write(to: directory.appendingPathComponent(RewardEncoder.settingsFile), options: .atomic)
    }

    /// The probability of "correct" from classifier logits (…, labels).
    static func probability(_ logits: Tensor) -> Tensor {
        logits.size(-1) == 1 ? logits.squeezed(axis: -1).sigmoid() : logits.softmax(axis: -1).select(axis: -1, index: 1)
    }

    public func outcomeScores(prompt: String, solutions: [String]) async throws -> RewardScores {
        if kind == .process { return try await stepScores(prompt: prompt, solutions: solutions.map { [$0] }) }
        let rows = solutions.map { encoder.outcomeIDs(prompt: prompt, completion: $0) }
        var scores: [[Double]] = []
        lock.withLock {
            withNoGrad {
                for start in stride(from: 0, to: rows.count, by: batchSize) {
                    let chunk = Array(rows[start..<min(rows.count, start + batchSize)])
                    let p = Self.probability(model.sequenceLogits(chunk).to(.float32))  // (B,)
                    scores += p.toArray(Float.self).map { [Double($0)] }
                }
            }
        }
        return RewardScores(scores: scores, tokens: rows.reduce(0) { $0 + $1.count })
    }

    public func stepScores(prompt: String, solutions: [[String]]) async throws -> RewardScores {
        let rows = solutions.map { encoder.stepIDs(prompt: prompt, steps: $0) }
        var scores: [[Double]] = []
        lock.withLock {
            withNoGrad {
                for start in stride(from: 0, to: rows.count, by: batchSize) {
                    let chunk = Array(rows[start..<min(rows.count, start + batchSize)])
                    let width = chunk.map(\.ids.count).max() ?? 0
                    let pad = model.configuration.padTokenId ?? 0
                    let ids = chunk.flatMap { ($0.ids + Array(repeating: pad, count: width - $0.ids.count)).map(Int64.init) }
                    let p = Self.probability(model(Tensor(ids, shape: [chunk.count, width])).to(.float32))  // (B, T)
                    let values = p.toArray(Float.self)
                    for (r, row) in chunk.enumerated() { scores.append(row.ends.map { Double(values[r * width + $0]) }) }
                }
            }
        }
        return RewardScores(scores: scores, tokens: rows.reduce(0) { $0 + $1.ids.count })
    }
}
