import Foundation

/// A problem loading a data set or configuring a task; messages name the file, line, field or value.
public enum TaskError: Error, LocalizedError, Equatable {
    case unreadable(path: String, reason: String)
    case badLine(path: String, line: Int, reason: String)
    case invalidParameter(String)

    public var errorDescription: String? {
        switch self {
        case .unreadable(let p, let r): "\(p): \(r)"
        case .badLine(let p, let l, let r): "\(p):\(l): \(r)"
        case .invalidParameter(let m): "invalid task parameter: \(m)"
        }
    }
}
