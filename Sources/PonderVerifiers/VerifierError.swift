import Foundation

/// Errors of the PonderVerifiers target. Bad *model output* is never an error (it is a verdict);
/// these are problems with inputs a caller supplied or with the machinery.
public enum VerifierError: Error, LocalizedError, Sendable, Equatable {
    /// An answer string could not be parsed as math.
    case unparseable(String, reason: String)
    /// A math problem has no reference answer to compare with.
    case missingReference(problemID: String)
    /// A code problem was given to a math verifier or the other way round.
    case wrongProblemKind(problemID: String, expected: String)
    /// No code runner is registered for a language.
    case unsupportedLanguage(String)
    /// A line of a JSONL file is not valid.
    case badLine(file: String, line: Int, reason: String)
    /// A file could not be read or written.
    case fileAccess(path: String, reason: String)
    /// The sandbox could not be prepared or the program could not be launched.
    case sandboxFailure(String)
    /// A parameter has a value outside its allowed range.
    case invalidParameter(name: String, value: String, reason: String)

    /// A message naming the value at fault and what to do.
    public var errorDescription: String? {
        switch self {
        case .unparseable(let text, let reason):
            return "Cannot parse answer '\(text.prefix(200))': \(reason)."
        case .missingReference(let id):
            return "Problem '\(id)' has no reference answer; set Problem.answer for math problems."
        case .wrongProblemKind(let id, let expected):
            return "Problem '\(id)' is not a \(expected) problem; use the verifier for its kind."
        case .unsupportedLanguage(let name):
            return "No code runner for language '\(name)'; register one in CodeSandbox.runners."
        case .badLine(let file, let line, let reason):
            return "\(file):\(line): \(reason)."
        case .fileAccess(let path, let reason):
            return "Cannot access '\(path)': \(reason)."
        case .sandboxFailure(let reason):
            return "Sandbox failure: \(reason)."
        case .invalidParameter(let name, let value, let reason):
            return "Invalid \(name) = \(value): \(reason)."
        }
    }
}

extension String {
    /// The string without leading and trailing whitespace and newlines.
    func trimmedText() -> String {
        let u = utf8
        func ascii(_ b: UInt8) -> Bool { b == 32 || (b >= 9 && b <= 13) }
        if let f = u.first, let l = u.last, !ascii(f), !ascii(l), f < 128, l < 128 { return self }  // fast path
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
