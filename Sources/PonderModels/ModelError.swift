import Foundation

/// A problem loading, saving or running a model. Messages name the file, field or value at fault.
public enum ModelError: Error, LocalizedError, Equatable {
    case missingFile(String)
    case unreadable(path: String, reason: String)
    case missingField(path: String, field: String)
    case invalidField(path: String, field: String, reason: String)
    case unsupportedModelType(path: String, modelType: String)
    case missingWeight(path: String, key: String)
    case weightShape(path: String, key: String, expected: [Int], found: [Int])
    case unexpectedWeights(path: String, keys: [String])
    case cacheTooLarge(bytes: Int, limit: Int)
    case budgetForcing(String)

    public var errorDescription: String? {
        switch self {
        case .missingFile(let p):
            "\(p): no such file (a model directory needs config.json and model.safetensors or model.safetensors.index.json)"
        case .unreadable(let p, let r): "\(p): \(r)"
        case .missingField(let p, let f): "\(p): required field \"\(f)\" is missing"
        case .invalidField(let p, let f, let r): "\(p): field \"\(f)\" \(r)"
        case .unsupportedModelType(let p, let t):
            "\(p): model_type \"\(t)\" is not supported (supported: \(ModelFamily.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .missingWeight(let p, let k): "\(p): weight \"\(k)\" is missing"
        case .weightShape(let p, let k, let e, let f): "\(p): weight \"\(k)\" has shape \(f), the configuration needs \(e)"
        case .unexpectedWeights(let p, let keys):
            "\(p): weights the configuration does not use: \(keys.prefix(5).joined(separator: ", "))\(keys.count > 5 ? " (and \(keys.count - 5) more)" : "")"
        case .cacheTooLarge(let b, let l):
            "the KV cache would need \(Self.size(b)), over the limit of \(Self.size(l)) (Engine.Options.maxCacheBytes); lower n or maxTokens, or raise the limit"
        case .budgetForcing(let m): "budget forcing: \(m)"
        }
    }

    /// Bytes in the largest unit that keeps them above 1 (exact bytes below 1 KiB).
    static func size(_ bytes: Int) -> String {
        if bytes < 1 << 10 { return "\(bytes) bytes" }
        let (value, unit) = bytes < 1 << 20 ? (Double(bytes) / 1024, "KiB") : bytes < 1 << 30 ? (Double(bytes) / 1_048_576, "MiB") : (Double(bytes) / 1_073_741_824, "GiB")
        return String(format: "%.1f", value) + " " + unit
    }
}
