import Foundation

/// A parsed JSON value that remembers its path, so loaders can throw errors naming the exact key.
struct JSONNode {
    let value: Any?
    let path: String

    init(_ value: Any?, path: String) {
        self.value = value
        self.path = path
    }

    /// Parses `data`; `file` names the source in errors.
    static func parse(_ data: Data, file: String) throws -> JSONNode {
        do {
            let object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return JSONNode(object, path: "")
        } catch {
            throw TokenizerError.invalidJSON(file: file, reason: (error as NSError).localizedDescription)
        }
    }

    var isNull: Bool { value == nil || value is NSNull }

    func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The child at `key`, which may be absent or null.
    subscript(key: String) -> JSONNode {
        let dict = value as? [String: Any]
        return JSONNode(dict?[key], path: childPath(key))
    }

    /// The child at `key`; throws when absent or null.
    func required(_ key: String) throws -> JSONNode {
        guard let dict = value as? [String: Any] else {
            throw TokenizerError.wrongType(path: path.isEmpty ? "<root>" : path, expected: "an object")
        }
        guard let child = dict[key], !(child is NSNull) else { throw TokenizerError.missingKey(path: childPath(key)) }
        return JSONNode(child, path: childPath(key))
    }

    func string() throws -> String {
        guard let s = value as? String else { throw TokenizerError.wrongType(path: path, expected: "a string") }
        return s
    }

    func bool(default fallback: Bool) throws -> Bool {
        if isNull { return fallback }
        if let b = value as? Bool { return b }
        if let n = value as? NSNumber { return n.boolValue }
        throw TokenizerError.wrongType(path: path, expected: "a boolean")
    }

    func int() throws -> Int {
        if let n = value as? NSNumber { return n.intValue }
        if let n = value as? Int { return n }
        throw TokenizerError.wrongType(path: path, expected: "an integer")
    }

    func array() throws -> [JSONNode] {
        guard let a = value as? [Any] else { throw TokenizerError.wrongType(path: path, expected: "an array") }
        return a.enumerated().map { JSONNode($0.element, path: "\(path)[\($0.offset)]") }
    }

    func object() throws -> [String: Any] {
        guard let d = value as? [String: Any] else { throw TokenizerError.wrongType(path: path, expected: "an object") }
        return d
    }

    /// The `type` field of a component, and the path to it.
    func componentType() throws -> String { try required("type").string() }
}
