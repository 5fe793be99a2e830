import Foundation

/// Why an evaluation computation could not run.
public enum EvalError: Error, Sendable, Equatable, LocalizedError {
    /// An argument is out of range; the message names it, its value and the rule.
    case invalidArgument(String)

    public var errorDescription: String? {
        switch self {
        case .invalidArgument(let m): "invalid argument: \(m)"
        }
    }
}
