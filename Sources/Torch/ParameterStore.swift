import Foundation
import OrderedCollections

/// Named tensors with dotted keys as checkpoints name them (`model.layers.0.self_attn.q_proj.weight`).
///
/// Models read their weights from a store by key, so loading a checkpoint is a dictionary update rather than a
/// translation table. The store is a class (shared identity) because a model and its optimizer refer to the same
/// tensors; its dictionary is not synchronised, so mutate it from one task at a time.
public final class ParameterStore: @unchecked Sendable {
    /// The tensors by key, in insertion order.
    public private(set) var tensors: OrderedDictionary<String, Tensor>

    /// A store holding `tensors`.
    public init(_ tensors: OrderedDictionary<String, Tensor> = [:]) {
        self.tensors = tensors
    }

    /// The tensor at `key`, if any.
    public subscript(key: String) -> Tensor? {
        get { tensors[key] }
        set { tensors[key] = newValue }
    }

    /// The tensor at `key`, or an error naming the key and the nearest keys that exist.
    public func require(_ key: String, shape: [Int]? = nil) throws -> Tensor {
        guard let t = tensors[key] else {
            let prefix = key.split(separator: ".").dropLast().joined(separator: ".")
            let near = tensors.keys.filter { $0.hasPrefix(prefix) }.prefix(5)
            throw ParameterError.missing(key: key, nearby: Array(near))
        }
        if let shape, t.shape != shape { throw ParameterError.shapeMismatch(key: key, expected: shape, found: t.shape) }
        return t
    }

    /// Keys in order.
    public var keys: [String] { Array(tensors.keys) }

    /// The tensors that require gradients (what an optimizer updates).
    public var trainable: OrderedDictionary<String, Tensor> { tensors.filter { $0.value.requiresGrad } }

    /// Total number of elements over all tensors.
    public var parameterCount: Int { tensors.values.reduce(0) { $0 + $1.count } }

    /// Marks every floating-point tensor as requiring gradients (or not).
    public func setRequiresGrad(_ flag: Bool) {
        for t in tensors.values where t.dtype.isFloatingPoint { t.requiresGrad = flag }
    }

    /// Converts every floating-point tensor to `dtype` (new tensors; gradients are not kept).
    public func convert(to dtype: DType) {
        for (k, t) in tensors where t.dtype.isFloatingPoint && t.dtype != dtype { tensors[k] = t.to(dtype) }
    }

    /// Copies values from `other` into the existing tensors in place (shapes must agree); with `strict`, every
    /// key of this store must be present in `other` and no extra key may appear.
    public func update(from other: OrderedDictionary<String, Tensor>, strict: Bool = true) throws {
        if strict {
            if let missing = tensors.keys.first(where: { other[$0] == nil }) { throw ParameterError.missing(key: missing, nearby: []) }
            if let extra = other.keys.first(where: { tensors[$0] == nil }) { throw ParameterError.unexpected(key: extra) }
        }
        for (k, v) in other {
            if let t = tensors[k], t.shape != v.shape { throw ParameterError.shapeMismatch(key: k, expected: t.shape, found: v.shape) }
        }
        withNoGrad {
            for (k, v) in other { tensors[k]?.copy_(v) }
        }
    }

    /// Writes every tensor to a safetensors file (atomically).
    public func save(to url: URL, metadata: [String: String] = ["format": "pt"]) throws {
        try Safetensors.write(tensors.mapValues { $0.detached() }, metadata: metadata, to: url)
    }
}

/// A missing, unexpected or mis-shaped parameter.
public enum ParameterError: Error, LocalizedError, Equatable {
    case missing(key: String, nearby: [String])
    case unexpected(key: String)
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    public var errorDescription: String? {
        switch self {
        case .missing(let key, let nearby):
            "no parameter \"\(key)\"" + (nearby.isEmpty ? "" : " (nearby keys: \(nearby.joined(separator: ", ")))")
        case .unexpected(let key): "unexpected parameter \"\(key)\""
        case .shapeMismatch(let key, let e, let f): "parameter \"\(key)\" has shape \(f), expected \(e)"
        }
    }
}
