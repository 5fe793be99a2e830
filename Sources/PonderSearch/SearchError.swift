import Foundation

/// Why a search strategy could not run.
public enum SearchError: Error, Sendable, Equatable, LocalizedError {
    /// A strategy or scorer parameter is out of range; names the parameter, its value and the rule.
    case invalidParameter(name: String, value: String, rule: String)
    /// The model answered with a different number of completions than requested.
    case wrongCompletionCount(requested: Int, received: Int)
    /// A strategy needs per-token log-probabilities and the model returned none.
    case missingLogprobs(model: String)
    /// A scorer returned a different number of scores than candidates given.
    case wrongScoreCount(expected: Int, received: Int)
    /// An oracle was asked about a problem it has no reference answer for.
    case noReference(id: String)

    public var errorDescription: String? {
        switch self {
        case .invalidParameter(let name, let value, let rule): "invalid parameter \(name) = \(value): \(rule)"
        case .wrongCompletionCount(let requested, let received):
            "the model returned \(received) completions for a request of n = \(requested); check the LanguageModel implementation"
        case .missingLogprobs(let model):
            "the model '\(model)' returned no log-probabilities although the request asked for them; use a model that reports logprobs"
        case .wrongScoreCount(let expected, let received):
            "the scorer returned \(received) scores for \(expected) candidates; check the Scorer implementation"
        case .noReference(let id):
            "the oracle has no reference answer for problem '\(id)'; give the answer (ponder solve --answer) or use a reference-free scorer (--scorer vote, judge)"
        }
    }

    /// Throws ``invalidParameter(name:value:rule:)`` unless `condition` holds.
    static func require(_ condition: Bool, _ name: String, _ value: Any, _ rule: String) throws {
        if !condition { throw SearchError.invalidParameter(name: name, value: "\(value)", rule: rule) }
    }
}
