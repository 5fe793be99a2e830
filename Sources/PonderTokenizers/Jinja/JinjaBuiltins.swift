import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The filters, tests and globals templates may use, with jinja2's semantics (and transformers' `tojson`,
/// `raise_exception` and `strftime_now`).
enum JinjaBuiltins {
    static let filterNames: Set<String> = [
        "abs", "attr", "capitalize", "count", "d", "default", "dictsort", "e", "escape", "first", "float", "forceescape",
        "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map", "max", "min", "reject",
        "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort", "string", "sum", "title",
        "tojson", "trim", "unique", "upper", "wordcount",
    ]

    static let testNames: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter",
        "float", "ge", ">=", "gt", "greaterthan", ">", "in", "integer", "iterable", "le", "<=", "lower", "lt", "lessthan",
        "<", "mapping", "ne", "!=", "none", "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined",
        "upper",
    ]

    /// Globals: `range`, `namespace`, `dict`, `raise_exception`, `strftime_now`.
    static func globals(date: Date?) -> [String: JValue] {
        var g: [String: JValue] = [:]
        g["range"] = .function(
            JinjaFunction("range") { args in
                let ints = try args.positional.map { v -> Int in
                    guard let n = v.integer else {
                        throw JinjaError(.runtime, "'\(v.typeName)' object cannot be interpreted as an integer")
                    }
                    return n
                }
                let (start, stop, step): (Int, Int, Int)
                switch ints.count {
                case 1: (start, stop, step) = (0, ints[0], 1)
                case 2: (start, stop, step) = (ints[0], ints[1], 1)
                case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
                default: throw JinjaError(.runtime, "range expected 1 to 3 arguments, got \(ints.count)")
                }
                if step == 0 { throw JinjaError(.runtime, "range() arg 3 must not be zero") }
                let count = step > 0 ? max(0, (stop - start + step - 1) / step) : max(0, (start - stop - step - 1) / -step)
                if count > 100_000 {
                    throw JinjaError(.runtime, "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).")
                }
                return .list((0..<count).map { .int(start + $0 * step) })
            })
        let makeDict: (JinjaCallArguments) throws -> JinjaDict = { args in
            var d = JinjaDict()
            for p in args.positional {
                guard case .dict(let other) = p else { throw JinjaError(.runtime, "expected a dict, got \(p.typeName)") }
                for (k, v) in other.pairs { d[k] = v }
            }
            for (k, v) in args.keyword { d[k] = v }
            return d
        }
        g["namespace"] = .function(JinjaFunction("namespace") { args in .namespace(JinjaNamespace(try makeDict(args))) })
        g["dict"] = .function(JinjaFunction("dict") { args in .dict(try makeDict(args)) })
        g["raise_exception"] = .function(
            JinjaFunction("raise_exception") { args in
                throw JinjaError(.raised, args.get(0, "message")?.str ?? "")
            })
        g["strftime_now"] = .function(
            JinjaFunction("strftime_now") { args in
                guard case .string(let format)? = args.get(0, "format") else {
                    throw JinjaError(.runtime, "strftime_now() argument must be str")
                }
                return .string(strftime(format, date: date))
            })
        return g
    }

    /// C `strftime` of `date` in UTC, or of `SOURCE_DATE_EPOCH` in UTC when set, or of the current local time (as
    /// Python's `datetime.now().strftime`).
    static func strftime(_ format: String, date: Date?) -> String {
        var seconds: time_t
        var utc = true
        if let date {
            seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        } else if let epoch = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap({ Int($0) }) {
            seconds = time_t(epoch)
        } else {
            seconds = time(nil)
            utc = false
        }
        var parts = tm()
        if utc { gmtime_r(&seconds, &parts) } else { localtime_r(&seconds, &parts) }
        var buffer = [CChar](repeating: 0, count: 512)
        let n = buffer.withUnsafeMutableBufferPointer { buf in
            #if canImport(Glibc)
                Glibc.strftime(buf.baseAddress, buf.count, format, &parts)
            #else
                Darwin.strftime(buf.baseAddress, buf.count, format, &parts)
            #endif
        }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

// MARK: Filters

extension JinjaInterpreter {
    func applyFilter(_ name: String, _ value: JValue, _ argExprs: JinjaArguments, _ scope: JinjaScope) throws -> JValue {
        let args = try evalArguments(argExprs, scope)
        return try applyFilter(name, value, args)
    }

    private func requireString(_ v: JValue) throws -> String {
        if case .undefined(let message) = v { throw JinjaError(.undefined, message) }
        return v.str
    }

    private func bool(_ v: JValue?) -> Bool { v?.truthy ?? false }

    func applyFilter(_ name: String, _ value: JValue, _ args: JinjaCallArguments) throws -> JValue {
        switch name {
        case "safe":
            return value
        case "string":
            return .string(value.str)
        case "trim":
            return .string(JinjaStrings.strip(value.str, try JinjaMethods.string(args.get(0, "chars"), "chars")))
        case "upper":
            return .string(JinjaStrings.upper(value.str))
        case "lower":
            return .string(JinjaStrings.lower(value.str))
        case "title":
            return .string(JinjaStrings.jinjaTitle(value.str))
        case "capitalize":
            return .string(JinjaStrings.capitalize(value.str))
        case "replace":
            guard let old = args.get(0, "old"), let new = args.get(1, "new") else {
                throw JinjaError(.runtime, "replace filter needs old and new")
            }
            return .string(JinjaStrings.replace(value.str, old.str, new.str, try JinjaMethods.int(args.get(2, "count"), -1)))
        case "length", "count":
            switch value {
            case .undefined: return .int(0)
            case .string(let s): return .int(s.unicodeScalars.count)
            case .list(let items), .tuple(let items): return .int(items.count)
            case .dict(let d): return .int(d.count)
            default: throw JinjaError(.runtime, "object of type '\(value.typeName)' has no len()")
            }
        case "wordcount":
            return .int(try JinjaStrings.split(value.str, nil, -1).count)
        case "default", "d":
            let fallback = args.get(0, "default_value") ?? .string("")
            if value.isUndefined || (bool(args.get(1, "boolean")) && !value.truthy) { return fallback }
            return value
        case "first":
            return try iterate(value).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .undefined(let message) = value { throw JinjaError(.undefined, message) }
            return try iterate(value).last ?? .undefined("No last item, sequence was empty.")
        case "list":
            return .list(try iterate(value))
        case "reverse":
            if case .string(let s) = value { return .string(JinjaStrings.string(s.unicodeScalars.reversed())) }
            return .list(try iterate(value).reversed())
        case "join":
            var items = try iterate(value)
            if let attribute = args.get(1, "attribute") { items = try items.map { try self.item($0, attribute) } }
            return .string(items.map(\.str).joined(separator: args.get(0, "d")?.str ?? ""))
        case "items":
            switch value {
            case .undefined: return .list([])
            case .dict(let d): return .list(d.pairs.map { .tuple([.string($0), $1]) })
            default: throw JinjaError(.runtime, "Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .dict(let d) = value else { throw JinjaError(.runtime, "dictsort filter needs a dict") }
            let byValue = args.get(1, "by")?.str == "value"
            let caseSensitive = bool(args.get(0, "case_sensitive"))
            var pairs = d.pairs
            try sortValues(&pairs, key: { byValue ? $0.1 : .string($0.0) }, caseSensitive: caseSensitive)
            if bool(args.get(2, "reverse")) { pairs.reverse() }
            return .list(pairs.map { .tuple([.string($0), $1]) })
        case "sort":
            var items = try iterate(value)
            let attribute = args.get(2, "attribute")
            try sortValues(
                &items, key: { attribute == nil ? $0 : try self.item($0, attribute!) },
                caseSensitive: bool(args.get(1, "case_sensitive")))
            if bool(args.get(0, "reverse")) { items.reverse() }
            return .list(items)
        case "unique":
            let caseSensitive = bool(args.get(0, "case_sensitive"))
            let attribute = args.get(1, "attribute")
            var seen: [JValue] = []
            var out: [JValue] = []
            for item in try iterate(value) {
                var key = attribute == nil ? item : try self.item(item, attribute!)
                if !caseSensitive, case .string(let s) = key { key = .string(s.lowercased()) }
                if !seen.contains(where: { $0.equals(key) }) {
                    seen.append(key)
                    out.append(item)
                }
            }
            return .list(out)
        case "min", "max":
            var items = try iterate(value)
            let attribute = args.get(1, "attribute")
            try sortValues(
                &items, key: { attribute == nil ? $0 : try self.item($0, attribute!) },
                caseSensitive: bool(args.get(0, "case_sensitive")))
            return (name == "min" ? items.first : items.last) ?? .undefined("No aggregated item, sequence was empty.")
        case "sum":
            var total = args.get(1, "start") ?? .int(0)
            let attribute = args.get(0, "attribute")
            for item in try iterate(value) {
                total = try JinjaOperators.binary("+", total, attribute == nil ? item : try self.item(item, attribute!))
            }
            return total
        case "map":
            let items = try iterate(value)
            if let attribute = args.keyword.last(where: { $0.0 == "attribute" })?.1 {
                let fallback = args.keyword.last { $0.0 == "default" }?.1
                return .list(
                    try items.map { item in
                        let v = try self.lookupPath(item, attribute)
                        if v.isUndefined, let fallback { return fallback }
                        return v
                    })
            }
            guard case .string(let filter)? = args.positional.first else { throw JinjaError(.runtime, "map requires a filter argument") }
            guard JinjaBuiltins.filterNames.contains(filter) else { throw JinjaError(.runtime, "No filter named '\(filter)'.") }
            let rest = JinjaCallArguments(positional: Array(args.positional.dropFirst()), keyword: args.keyword)
            return .list(try items.map { try applyFilter(filter, $0, rest) })
        case "select", "reject", "selectattr", "rejectattr":
            let byAttribute = name.hasSuffix("attr")
            var positional = args.positional
            var attribute: JValue? = nil
            if byAttribute {
                guard !positional.isEmpty else { throw JinjaError(.runtime, "\(name) needs an attribute") }
                attribute = positional.removeFirst()
            }
            let test: String? = positional.isEmpty ? nil : positional.removeFirst().str
            let keep = name.hasPrefix("select")
            return .list(
                try iterate(value).filter { item in
                    let subject = attribute == nil ? item : try self.lookupPath(item, attribute!)
                    let passed = try test.map { try applyTest($0, subject, positional, nil) } ?? subject.truthy
                    return passed == keep
                })
        case "attr":
            guard let attribute = args.get(0, "name") else { throw JinjaError(.runtime, "attr filter needs a name") }
            return try self.attribute(value, attribute.str)
        case "tojson":
            return .string(try JinjaJSON.dumps(value, args))
        case "indent":
            return .string(try indent(try requireString(value), args))
        case "int":
            let fallback = args.get(0, "default") ?? .int(0)
            switch value {
            case .int, .bool: return .int(value.integer!)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let t = JinjaStrings.strip(s, nil).replacingOccurrences(of: "_", with: "")
                let base = try JinjaMethods.int(args.get(1, "base"), 10)
                if let n = Int(t, radix: base) { return .int(n) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = args.get(0, "default") ?? .double(0)
            switch value {
            case .int, .bool, .double: return .double(value.number!)
            case .string(let s): return Double(JinjaStrings.strip(s, nil)).map(JValue.double) ?? fallback
            default: return fallback
            }
        case "abs":
            switch value {
            case .int(let n): return .int(abs(n))
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return .double(abs(d))
            default: throw JinjaError(.runtime, "bad operand type for abs(): '\(value.typeName)'")
            }
        case "round":
            let precision = try JinjaMethods.int(args.get(0, "precision"), 0)
            let method = args.get(1, "method")?.str ?? "common"
            guard let x = value.number else { throw JinjaError(.runtime, "type \(value.typeName) doesn't define __round__ method") }
            let scale = pow(10, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
            if method != "common" && method != "ceil" && method != "floor" {
                throw JinjaError(.runtime, "method must be 'common', 'ceil' or 'floor'")
            }
            if case .int(let n) = value, method == "common", precision >= 0 { return .int(n) }
            return .double((x * scale).rounded(rule) / scale)
        case "escape", "e", "forceescape":
            var out = ""
            for c in value.str.unicodeScalars {
                switch c {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case "\"": out += "&#34;"
                case "'": out += "&#39;"
                default: out.unicodeScalars.append(c)
                }
            }
            return .string(out)
        case "format":
            let rest: JValue = args.positional.count == 1 ? args.positional[0] : .tuple(args.positional)
            return try JinjaOperators.binary("%", .string(value.str), rest)
        default:
            throw JinjaError(.runtime, "No filter named '\(name)'.")
        }
    }

    /// `map(attribute='a.b')`, `selectattr('a.b')`: a dotted path of items (integers index lists).
    private func lookupPath(_ value: JValue, _ path: JValue) throws -> JValue {
        guard case .string(let p) = path else { return try item(value, path) }
        var v = value
        for part in p.split(separator: ".", omittingEmptySubsequences: false) {
            if v.isUndefined { return v }
            v = try item(v, Int(part).map(JValue.int) ?? .string(String(part)))
        }
        return v
    }

    private func sortValues<T>(_ items: inout [T], key: (T) throws -> JValue, caseSensitive: Bool) throws {
        var keyed = try items.map { item -> (JValue, T) in
            var k = try key(item)
            if !caseSensitive, case .string(let s) = k { k = .string(s.lowercased()) }
            return (k, item)
        }
        var failure: Error? = nil
        keyed.sort { a, b in
            do {
                guard let order = try JinjaOperators.ordering(a.0, b.0) else {
                    throw JinjaError(.runtime, "'<' not supported between instances of '\(b.0.typeName)' and '\(a.0.typeName)'")
                }
                return order < 0
            } catch {
                failure = failure ?? error
                return false
            }
        }
        if let failure { throw failure }
        items = keyed.map(\.1)
    }

    /// jinja2's `indent(width=4, first=False, blank=False)`.
    private func indent(_ s: String, _ args: JinjaCallArguments) throws -> String {
        let width = args.get(0, "width") ?? .int(4)
        let indentation: String
        if case .string(let w) = width {
            indentation = w
        } else {
            indentation = String(repeating: " ", count: try JinjaMethods.int(width, 4))
        }
        let first = bool(args.get(1, "first"))
        let blank = bool(args.get(2, "blank"))
        var lines =
            try JinjaMethods.method(.string(s + "\n"), "splitlines", self).map { try callValue($0, JinjaCallArguments()) }
            .flatMap { v -> [String]? in
                if case .list(let items) = v { return items.map(\.str) }
                return nil
            } ?? []
        var out: String
        if blank {
            out = lines.joined(separator: "\n" + indentation)
        } else {
            out = lines.isEmpty ? "" : lines.removeFirst()
            if !lines.isEmpty { out += "\n" + lines.map { $0.isEmpty ? $0 : indentation + $0 }.joined(separator: "\n") }
        }
        if first { out = indentation + out }
        return out
    }
}

// MARK: Tests

extension JinjaInterpreter {
    func applyTest(_ name: String, _ value: JValue, _ args: [JValue], _ scope: JinjaScope?) throws -> Bool {
        func arg() throws -> JValue {
            guard let a = args.first else { throw JinjaError(.runtime, "test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none":
            if case .none = value { return true }
            return false
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true":
            if case .bool(true) = value { return true }
            return false
        case "false":
            if case .bool(false) = value { return true }
            return false
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "number": return value.number != nil
        case "string":
            if case .string = value { return true }
            return false
        case "mapping":
            if case .dict = value { return true }
            return false
        case "iterable":
            switch value {
            case .undefined, .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .string, .list, .tuple, .dict: return true
            default: return false
            }
        case "callable":
            if case .function = value { return true }
            return false
        case "odd", "even":
            guard let n = value.integer else { throw JinjaError(.runtime, "\(name) test needs an integer, got \(value.typeName)") }
            return (n % 2 != 0) == (name == "odd")
        case "divisibleby":
            guard let n = value.integer, let d = try arg().integer, d != 0 else { throw JinjaError(.runtime, "divisibleby needs integers") }
            return n % d == 0
        case "eq", "equalto", "==": return value.equals(try arg())
        case "ne", "!=": return !value.equals(try arg())
        case "lt", "lessthan", "<": return try JinjaOperators.compare("<", value, try arg())
        case "le", "<=": return try JinjaOperators.compare("<=", value, try arg())
        case "gt", "greaterthan", ">": return try JinjaOperators.compare(">", value, try arg())
        case "ge", ">=": return try JinjaOperators.compare(">=", value, try arg())
        case "in": return try JinjaOperators.contains(try arg(), value)
        case "sameas":
            let other = try arg()
            switch (value, other) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            // CPython shares the objects of small integers (and of equal short strings, in practice).
            case (.int(let a), .int(let b)): return a == b && (-5...256).contains(a)
            case (.string(let a), .string(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a === b
            default: return false
            }
        case "lower":
            if case .string(let s) = value { return s == s.lowercased() }
            return false
        case "upper":
            if case .string(let s) = value { return s == s.uppercased() }
            return false
        case "escaped": return false
        case "filter": return JinjaBuiltins.filterNames.contains(value.str)
        case "test": return JinjaBuiltins.testNames.contains(value.str)
        default: throw JinjaError(.runtime, "No test named '\(name)'.")
        }
    }
}

// MARK: tojson

/// transformers' `tojson` filter: `json.dumps(x, ensure_ascii=False, indent=indent, separators=separators,
/// sort_keys=sort_keys)` (not jinja2's, which escapes HTML characters and sorts keys).
enum JinjaJSON {
    static func dumps(_ value: JValue, _ args: JinjaCallArguments) throws -> String {
        var indent: String? = nil
        switch args.get(1, "indent") {
        case .int(let n)?: indent = String(repeating: " ", count: max(0, n))
        case .string(let s)?: indent = s
        case .none?, nil: indent = nil
        case let other?: throw JinjaError(.runtime, "tojson indent must be an int or a string, not \(other.typeName)")
        }
        var itemSeparator = indent == nil ? ", " : ","
        var keySeparator = ": "
        if let separators = args.get(2, "separators") {
            switch separators {
            case .none: break
            case .list(let pair), .tuple(let pair):
                guard pair.count == 2 else { throw JinjaError(.runtime, "separators must be a pair") }
                itemSeparator = pair[0].str
                keySeparator = pair[1].str
            default: throw JinjaError(.runtime, "separators must be a pair")
            }
        }
        if let ensureASCII = args.get(0, "ensure_ascii"), ensureASCII.truthy {
            var out = ""
            try write(value, &out, indent, itemSeparator, keySeparator, args.get(3, "sort_keys")?.truthy ?? false, 0, ascii: true)
            return out
        }
        var out = ""
        try write(value, &out, indent, itemSeparator, keySeparator, args.get(3, "sort_keys")?.truthy ?? false, 0, ascii: false)
        return out
    }

    private static func write(
        _ value: JValue, _ out: inout String, _ indent: String?, _ itemSep: String, _ keySep: String, _ sortKeys: Bool,
        _ level: Int, ascii: Bool
    ) throws {
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let n): out += String(n)
        case .double(let d):
            out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : JValue.pythonFloat(d)
        case .string(let s): writeString(s, &out, ascii: ascii)
        case .list(let items), .tuple(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "["
            let newline = indent.map { "\n" + String(repeating: $0, count: level + 1) }
            if let newline { out += newline }
            for (i, item) in items.enumerated() {
                if i > 0 { out += itemSep + (newline ?? "") }
                try write(item, &out, indent, itemSep, keySep, sortKeys, level + 1, ascii: ascii)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case .dict(let d):
            try writeObject(d.pairs, &out, indent, itemSep, keySep, sortKeys, level, ascii: ascii)
        case .namespace, .function, .undefined:
            let type = value.isUndefined ? "Undefined" : value.typeName
            throw JinjaError(.runtime, "Object of type \(type) is not JSON serializable")
        }
    }

    private static func writeObject(
        _ members: [(String, JValue)], _ out: inout String, _ indent: String?, _ itemSep: String, _ keySep: String,
        _ sortKeys: Bool, _ level: Int, ascii: Bool
    ) throws {
        if members.isEmpty {
            out += "{}"
            return
        }
        var pairs = members
        if sortKeys {
            pairs.sort { $0.0.unicodeScalars.lexicographicallyPrecedes($1.0.unicodeScalars) }
        }
        out += "{"
        let newline = indent.map { "\n" + String(repeating: $0, count: level + 1) }
        if let newline { out += newline }
        for (i, (k, v)) in pairs.enumerated() {
            if i > 0 { out += itemSep + (newline ?? "") }
            writeString(k, &out, ascii: ascii)
            out += keySep
            try write(v, &out, indent, itemSep, keySep, sortKeys, level + 1, ascii: ascii)
        }
        if let indent { out += "\n" + String(repeating: indent, count: level) }
        out += "}"
    }

    private static func writeString(_ s: String, _ out: inout String, ascii: Bool) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || (ascii && u.value > 0x7E) {
                    if u.value > 0xFFFF {
                        let v = u.value - 0x10000
                        out += hex4(0xD800 + (v >> 10)) + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += hex4(u.value)
                    }
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - h.count) + h
    }
}
