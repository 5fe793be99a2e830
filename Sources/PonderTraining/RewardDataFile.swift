import Foundation
import PonderTasks

extension RewardData {
    /// What a reward-model data file holds.
    public enum Layout: String, Sendable, CaseIterable {
        /// `prompt`, `chosen`, `rejected` (and optionally `margin`): TRL's RewardTrainer format, `ponder data preferences`.
        case pairs
        /// `prompt`, `completion`, `label` (bool): graded samples, `ponder data preferences --outcomes`.
        case outcomes
        /// `prompt`, `completions` (list of steps), `labels` (bools): TRL's PRMTrainer format, `ponder data prm-labels`.
        case steps
    }

    /// Reads `url` as `layout`. For steps, `softLabels` reads `soft_labels` (Math-Shepherd's soft estimate) instead of
    /// the hard `labels`. Errors name the file, line and field.
    public static func read(_ url: URL, layout: Layout, softLabels: Bool = false) throws -> RewardData {
        let lines = try JSONLines.numbered(url)
        func fail(_ line: Int, _ reason: String) -> TaskError { TaskError.badLine(path: url.path, line: line, reason: reason) }
        func string(_ o: [String: Any], _ key: String, _ line: Int) throws -> String {
            guard let s = o[key] as? String else {
                throw fail(line, "field \"\(key)\" is missing or not a string (fields: \(o.keys.sorted().joined(separator: ", ")))")
            }
            return s
        }
        switch layout {
        case .pairs:
            return .pairs(
                try lines.map { line, o in
                    var margin: Double?
                    if let m = o["margin"] {
                        guard let n = m as? NSNumber, !(m is Bool) else { throw fail(line, "field \"margin\" must be a number") }
                        margin = n.doubleValue
                    }
                    return PreferencePair(
                        prompt: try string(o, "prompt", line), chosen: try string(o, "chosen", line),
                        rejected: try string(o, "rejected", line),
                        margin: margin)
                })
        case .outcomes:
            return .outcomes(
                try lines.map { line, o in
                    guard let label = o["label"] as? Bool else { throw fail(line, "field \"label\" is missing or not true/false") }
                    return OutcomeExample(
                        prompt: try string(o, "prompt", line), completion: try string(o, "completion", line), label: label)
                })
        case .steps:
            let field = softLabels ? "soft_labels" : "labels"
            return .steps(
                try lines.map { line, o in
                    guard let steps = o["completions"] as? [String] else {
                        throw fail(line, "field \"completions\" must be a list of step strings")
                    }
                    guard let raw = o[field] as? [Any] else {
                        throw fail(line, "field \"\(field)\" must be a list with one label per step")
                    }
                    let labels: [Double] = try raw.map { v in
                        if let b = v as? Bool { return b ? 1 : 0 }
                        guard let n = v as? NSNumber, (0...1).contains(n.doubleValue) else {
                            throw fail(line, "field \"\(field)\" holds \(v); labels are true/false or numbers in [0, 1]")
                        }
                        return n.doubleValue
                    }
                    guard labels.count == steps.count else {
                        throw fail(line, "\(steps.count) steps but \(labels.count) \(field) (one label per step)")
                    }
                    return StepExample(prompt: try string(o, "prompt", line), completions: steps, labels: labels)
                })
        }
    }
}
