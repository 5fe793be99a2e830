import Foundation

/// A JSON value together with its path, so loaders can throw errors naming the exact key.
struct JSONNode {
    /// The value, or `nil` when the key is absent.
    let value: JSONValue?
    let path: String

    init(_ value: JSONValue?, path: String) {
        self.value = value
        self.path = path
    }

    /// Parses `data`; `file` names the source in errors.
    static func parse(_ data: Data, file: String) throws -> JSONNode {
        JSONNode(try JSONValue.parse([UInt8](data), file: file), path: "")
    }

    var isNull: Bool {
        guard let value else { return true }
        if case .null = value { return true }
        return false
    }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The child at `key`, which may be absent or null.
    subscript(key: String) -> JSONNode { JSONNode(value?[key], path: childPath(key)) }

    /// The child at `key`; throws when absent or null.
    func required(_ key: String) throws -> JSONNode {
        guard case .object = value else {
            throw TokenizerError.wrongType(path: path.isEmpty ? "<root>" : path, expected: "an object")
        }
        let child = self[key]
        if child.isNull { throw TokenizerError.missingKey(path: child.path) }
        return child
    }

    /// The string value, or `nil` when absent or not a string.
    var stringValue: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    /// The numeric value, or `nil` when absent or not a number.
    var doubleValue: Double? {
        switch value {
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The integer value, or `nil` when absent or not an integer.
    var intValue: Int? {
        if case .int(let n) = value { return n }
        return nil
    }

    func string() throws -> String {
        guard let s = stringValue else { throw TokenizerError.wrongType(path: path, expected: "a string") }
        return s
    }

    func bool(default fallback: Bool) throws -> Bool {
        if isNull { return fallback }
        if case .bool(let b) = value { return b }
        throw TokenizerError.wrongType(path: path, expected: "a boolean")
    }

    func int() throws -> Int {
        guard let n = intValue else { throw TokenizerError.wrongType(path: path, expected: "an integer") }
        return n
    }

    func array() throws -> [JSONNode] {
        guard case .array(let items) = value else { throw TokenizerError.wrongType(path: path, expected: "an array") }
        return items.enumerated().map { JSONNode($0.element, path: "\(path)[\($0.offset)]") }
    }

    /// The keys and values of an object, without building a node (and path) per member.
    func members() throws -> (keys: [String], values: [JSONValue]) {
        guard case .object(let keys, let values) = value else {
            throw TokenizerError.wrongType(path: path.isEmpty ? "<root>" : path, expected: "an object")
        }
        return (keys, values)
    }

    /// The `type` field of a component.
    func componentType() throws -> String { try required("type").string() }
}
