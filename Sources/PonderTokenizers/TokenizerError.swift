import Foundation

/// Errors thrown while loading, encoding with, training or saving a tokenizer.
///
/// Every case names where the problem is: a file, a JSON path such as `pre_tokenizer.pretokenizers[0].type`,
/// or a value, so the message says what to fix.
public enum TokenizerError: Error, LocalizedError, Sendable, Equatable {
    /// A file could not be read; `path` is the file.
    case unreadableFile(path: String, reason: String)
    /// The file is not valid JSON.
    case invalidJSON(file: String, reason: String)
    /// A required key is absent; `path` is its JSON path.
    case missingKey(path: String)
    /// A value has the wrong JSON type; `path` is its JSON path, `expected` the type wanted.
    case wrongType(path: String, expected: String)
    /// A component's `type` is not one Ponder implements; `path` is the JSON path of the `type` key.
    case unsupportedComponent(type: String, path: String)
    /// A value is present and well typed but not acceptable (an unknown token in a merge, a bad regex...).
    case invalidValue(path: String, reason: String)
    /// A chat template family could not be detected from a model directory.
    case unknownChatTemplate(reason: String)
    /// Training was asked for something impossible (vocabulary smaller than the byte alphabet...).
    case invalidTrainingRequest(reason: String)

    /// A one-line explanation naming the file, key or value at fault.
    public var errorDescription: String? {
        switch self {
        case .unreadableFile(let path, let reason): return "cannot read \(path): \(reason)"
        case .invalidJSON(let file, let reason): return "\(file) is not valid JSON: \(reason)"
        case .missingKey(let path): return "missing key `\(path)`"
        case .wrongType(let path, let expected): return "`\(path)` should be \(expected)"
        case .unsupportedComponent(let type, let path):
            return "unsupported component type \"\(type)\" at `\(path)`; Ponder supports byte-level BPE tokenizers"
        case .invalidValue(let path, let reason): return "invalid value at `\(path)`: \(reason)"
        case .unknownChatTemplate(let reason):
            return "cannot detect the chat template family: \(reason); pass one explicitly"
        case .invalidTrainingRequest(let reason): return "cannot train: \(reason)"
        }
    }
}
