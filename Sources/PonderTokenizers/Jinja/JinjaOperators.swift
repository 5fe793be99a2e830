import Foundation

/// Python's arithmetic, concatenation and comparison operators on template values.
enum JinjaOperators {
    static func undefinedCheck(_ values: JValue...) throws {
        for v in values { if case .undefined(let message) = v { throw JinjaError(.undefined, message) } }
    }

    private static func unsupported(_ op: String, _ a: JValue, _ b: JValue) -> JinjaError {
        JinjaError(.runtime, "unsupported operand type(s) for \(op): '\(a.typeName)' and '\(b.typeName)'")
    }

    static func binary(_ op: String, _ a: JValue, _ b: JValue) throws -> JValue {
        if op == "~" { return .string(a.str + b.str) }
        try undefinedCheck(a, b)
        switch op {
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.list(let x), .list(let y)): return .list(x + y)
            case (.tuple(let x), .tuple(let y)): return .tuple(x + y)
            case (.string, _):
                throw JinjaError(.runtime, "can only concatenate str (not \"\(b.typeName)\") to str")
            case (.list, _):
                throw JinjaError(.runtime, "can only concatenate list (not \"\(b.typeName)\") to list")
            default: return try arithmetic(op, a, b)
            }
        case "*":
            if case .string(let s) = a, let n = b.integer, b.number != nil, !isFloat(b) {
                return .string(String(repeating: s, count: max(0, n)))
            }
            if case .string(let s) = b, let n = a.integer, !isFloat(a) {
                return .string(String(repeating: s, count: max(0, n)))
            }
            if case .list(let items) = a, let n = b.integer {
                return .list(Array(repeating: items, count: max(0, n)).flatMap { $0 })
            }
            return try arithmetic(op, a, b)
        case "%":
            if case .string(let format) = a { return .string(try printf(format, b)) }
            return try arithmetic(op, a, b)
        default:
            return try arithmetic(op, a, b)
        }
    }

    private static func isFloat(_ v: JValue) -> Bool {
        if case .double = v { return true }
        return false
    }

    private static func arithmetic(_ op: String, _ a: JValue, _ b: JValue) throws -> JValue {
        guard let x = a.number, let y = b.number else { throw unsupported(op, a, b) }
        if let i = a.integer, let j = b.integer {
            switch op {
            case "+", "-", "*":
                let (r, overflow) =
                    op == "+"
                    ? i.addingReportingOverflow(j) : op == "-" ? i.subtractingReportingOverflow(j) : i.multipliedReportingOverflow(by: j)
                if overflow { throw JinjaError(.runtime, "integer overflow in \(op)") }
                return .int(r)
            case "/":
                if j == 0 { throw JinjaError(.runtime, "division by zero") }
                return .double(Double(i) / Double(j))
            case "//":
                if j == 0 { throw JinjaError(.runtime, "integer division or modulo by zero") }
                let q = i / j
                return .int((i % j != 0) && ((i < 0) != (j < 0)) ? q - 1 : q)
            case "%":
                if j == 0 { throw JinjaError(.runtime, "integer division or modulo by zero") }
                let r = i % j
                return .int(r != 0 && (r < 0) != (j < 0) ? r + j : r)
            case "**":
                if j < 0 { return .double(pow(Double(i), Double(j))) }
                var result = 1
                for _ in 0..<j {
                    let (r, overflow) = result.multipliedReportingOverflow(by: i)
                    if overflow { throw JinjaError(.runtime, "integer overflow in **") }
                    result = r
                }
                return .int(result)
            default: break
            }
        }
        switch op {
        case "+": return .double(x + y)
        case "-": return .double(x - y)
        case "*": return .double(x * y)
        case "/":
            if y == 0 { throw JinjaError(.runtime, "float division by zero") }
            return .double(x / y)
        case "//":
            if y == 0 { throw JinjaError(.runtime, "float floor division by zero") }
            return .double((x / y).rounded(.down))
        case "%":
            if y == 0 { throw JinjaError(.runtime, "float modulo") }
            let r = fmod(x, y)
            return .double(r != 0 && (r < 0) != (y < 0) ? r + y : r)
        case "**": return .double(pow(x, y))
        default: throw unsupported(op, a, b)
        }
    }

    /// Python `%` formatting with `%s`, `%r`, `%d`, `%i`, `%f` and `%%`.
    private static func printf(_ format: String, _ args: JValue) throws -> String {
        var values: [JValue]
        if case .tuple(let items) = args { values = items } else { values = [args] }
        var out = ""
        var it = format.makeIterator()
        while let c = it.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            guard let spec = it.next() else { throw JinjaError(.runtime, "incomplete format") }
            if spec == "%" {
                out += "%"
                continue
            }
            guard !values.isEmpty else { throw JinjaError(.runtime, "not enough arguments for format string") }
            let v = values.removeFirst()
            switch spec {
            case "s": out += v.str
            case "r": out += v.repr
            case "d", "i":
                guard let n = v.number else { throw JinjaError(.runtime, "%d format: a real number is required") }
                out += String(Int(n))
            case "f": out += String(format: "%f", v.number ?? 0)
            default: throw JinjaError(.runtime, "unsupported format character '\(spec)'")
            }
        }
        return out
    }

    static func compare(_ op: String, _ a: JValue, _ b: JValue) throws -> Bool {
        switch op {
        case "==": return a.equals(b)
        case "!=": return !a.equals(b)
        case "in": return try contains(b, a)
        case "notin": return !(try contains(b, a))
        default:
            try undefinedCheck(a, b)
            guard let order = try ordering(a, b) else {
                throw JinjaError(.runtime, "'\(op)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'")
            }
            switch op {
            case "<": return order < 0
            case "<=": return order <= 0
            case ">": return order > 0
            default: return order >= 0
            }
        }
    }

    /// -1, 0 or 1 as Python orders numbers, strings (by code point) and sequences; `nil` when not comparable.
    static func ordering(_ a: JValue, _ b: JValue) throws -> Int? {
        if let x = a.number, let y = b.number { return x < y ? -1 : x > y ? 1 : 0 }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
                ? -1 : x.unicodeScalars.elementsEqual(y.unicodeScalars) ? 0 : 1
        case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
            for (p, q) in zip(x, y) where !p.equals(q) {
                return try ordering(p, q)
            }
            return x.count < y.count ? -1 : x.count > y.count ? 1 : 0
        default:
            return nil
        }
    }

    /// Python `item in container`.
    static func contains(_ container: JValue, _ item: JValue) throws -> Bool {
        switch container {
        case .undefined: return false
        case .string(let s):
            guard case .string(let needle) = item else {
                if case .undefined(let message) = item { throw JinjaError(.undefined, message) }
                throw JinjaError(.runtime, "'in <string>' requires string as left operand, not \(item.typeName)")
            }
            return JinjaStrings.find(Array(s.unicodeScalars), Array(needle.unicodeScalars), from: 0) != nil
        case .list(let items), .tuple(let items): return items.contains { $0.equals(item) }
        case .dict(let d):
            if case .string(let k) = item { return d[k] != nil }
            return false
        case .namespace(let ns):
            if case .string(let k) = item { return ns.members[k] != nil }
            return false
        default:
            throw JinjaError(.runtime, "argument of type '\(container.typeName)' is not iterable")
        }
    }
}
