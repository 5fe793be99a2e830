import Foundation

/// A JSON value passed to a template: messages, tools and template arguments such as `enable_thinking`.
///
/// Objects keep their members in order (templates that iterate a dict or render it with `tojson` see that order, as
/// with Python dicts).
public enum JinjaValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    /// Members in order; a repeated key keeps its first position and its last value.
    case object([(String, JinjaValue)])

    public static func == (a: JinjaValue, b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.int(let x), .int(let y)): return x == y
        case (.double(let x), .double(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// The member `key` of an object (the last one when repeated), or `nil`.
    public subscript(key: String) -> JinjaValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.0 == key }?.1
    }

    /// Parses JSON text, keeping object members in order.
    public static func parse(json: String) throws -> JinjaValue {
        JinjaValue(try JSONValue.parse(Array(json.utf8), file: "<json>"))
    }

    init(_ json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let n): self = .int(n)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(JinjaValue.init))
        case .object(let keys, let values): self = .object(zip(keys, values.map(JinjaValue.init)).map { ($0, $1) })
        }
    }
}

extension JinjaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(elements) }
}

// MARK: Runtime values

/// A dict with string keys in insertion order, as Python's.
struct JinjaDict {
    private(set) var keys: [String] = []
    private var storage: [String: JValue] = [:]

    init() {}

    init(_ pairs: [(String, JValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    var count: Int { keys.count }
    var values: [JValue] { keys.map { storage[$0]! } }
    var pairs: [(String, JValue)] { keys.map { ($0, storage[$0]!) } }

    subscript(key: String) -> JValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }
}

/// jinja2's `namespace(...)`: the one mutable object templates have (`{% set ns.x = ... %}`).
final class JinjaNamespace {
    var members: JinjaDict
    init(_ members: JinjaDict) { self.members = members }
}

/// Arguments of a call: positional, then keyword.
struct JinjaCallArguments {
    var positional: [JValue] = []
    var keyword: [(String, JValue)] = []

    /// The argument at `index` or named `name`, or `nil`.
    func get(_ index: Int, _ name: String) -> JValue? {
        if let kw = keyword.last(where: { $0.0 == name }) { return kw.1 }
        return index < positional.count ? positional[index] : nil
    }
}

/// A callable: a global function, a bound method, a macro.
final class JinjaFunction {
    let name: String
    let call: (JinjaCallArguments) throws -> JValue
    init(_ name: String, _ call: @escaping (JinjaCallArguments) throws -> JValue) {
        self.name = name
        self.call = call
    }
}

/// A value while rendering, with Python's semantics for truth, equality and `str()`.
enum JValue {
    /// jinja2's `Undefined`: renders as "", is falsy, iterates as empty; `message` is the error raised when it is
    /// used as a value (`'dict object' has no attribute 'content'`).
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case list([JValue])
    case tuple([JValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case function(JinjaFunction)

    init(_ v: JinjaValue) {
        switch v {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let n): self = .int(n)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .array(let items): self = .list(items.map(JValue.init))
        case .object(let members): self = .dict(JinjaDict(members.map { ($0, JValue($1)) }))
        }
    }

    static func undefinedName(_ name: String) -> JValue { .undefined("'\(name)' is undefined") }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python's type name, as in jinja2's messages (`'dict object' has no attribute ...`).
    var typeName: String {
        switch self {
        case .undefined: return "Undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }

    /// Python truthiness.
    var truthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let n): return n != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .list(let items), .tuple(let items): return !items.isEmpty
        case .dict(let d): return d.count > 0
        case .namespace, .function: return true
        }
    }

    /// A number as Python sees it (`bool` is an `int`).
    var number: Double? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let n): return Double(n)
        case .double(let d): return d
        default: return nil
        }
    }

    var integer: Int? {
        switch self {
        case .bool(let b): return b ? 1 : 0
        case .int(let n): return n
        default: return nil
        }
    }

    /// Python `==`.
    func equals(_ other: JValue) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && a.pairs.allSatisfy { k, v in b[k].map { v.equals($0) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.function(let a), .function(let b)): return a === b
        default:
            if let x = integer, let y = other.integer { return x == y }
            if let x = number, let y = other.number { return x == y }
            return false
        }
    }

    /// Python `str()`; undefined renders as "".
    var str: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return repr
        }
    }

    /// Python `repr()`.
    var repr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let n): return String(n)
        case .double(let d): return Self.pythonFloat(d)
        case .string(let s): return Self.pythonRepr(s)
        case .list(let items): return "[" + items.map(\.repr).joined(separator: ", ") + "]"
        case .tuple(let items): return "(" + items.map(\.repr).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .dict(let d): return "{" + d.pairs.map { Self.pythonRepr($0) + ": " + $1.repr }.joined(separator: ", ") + "}"
        case .namespace(let ns):
            return "<Namespace " + ns.members.pairs.map { Self.pythonRepr($0) + ": " + $1.repr }.joined(separator: ", ") + ">"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    /// Python's `repr(float)`: Swift's description has the same shortest round-trip digits and the same layout
    /// (positional within [1e-4, 1e16), `1e-05` and `1e+16` outside).
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return d.description
    }

    /// Python's `repr(str)`.
    static func pythonRepr(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u == quote {
                    out += "\\" + String(u)
                } else if u.value < 0x20 || u.value == 0x7F || (0x80..<0xA0).contains(u.value) {
                    out += "\\x" + hex(u.value, 2)
                } else if !isPrintable(u) {
                    out += u.value < 0x10000 ? "\\u" + hex(u.value, 4) : "\\U" + hex(u.value, 8)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    /// Python's `str.isprintable` for one character: not a control, format, surrogate, unassigned, private-use or
    /// separator other than the space.
    private static func isPrintable(_ u: Unicode.Scalar) -> Bool {
        if u == " " { return true }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .unassigned, .privateUse, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return false
        default:
            return true
        }
    }
}
