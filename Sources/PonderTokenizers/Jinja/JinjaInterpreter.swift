import Foundation

/// Variables visible to a part of a template. A `for` iteration and a macro call get their own scope, as in jinja2:
/// a `set` inside a loop body is not seen after the loop (use a `namespace` for that); `if` blocks share their scope.
final class JinjaScope {
    private var vars: [String: JValue] = [:]
    let parent: JinjaScope?

    init(parent: JinjaScope?) { self.parent = parent }

    func lookup(_ name: String) -> JValue? {
        var scope: JinjaScope? = self
        while let s = scope {
            if let v = s.vars[name] { return v }
            scope = s.parent
        }
        return nil
    }

    func set(_ name: String, _ value: JValue) { vars[name] = value }
}

/// Renders parsed statements.
final class JinjaInterpreter {
    enum Flow { case normal, breakLoop, continueLoop }

    /// The time `strftime_now` formats, in UTC; `nil` formats the current local time.
    let date: Date?

    init(date: Date?) { self.date = date }

    func render(_ nodes: [JinjaNode], scope: JinjaScope) throws -> String {
        var out = ""
        _ = try exec(nodes, scope, &out)
        return out
    }

    // MARK: Statements

    func exec(_ nodes: [JinjaNode], _ scope: JinjaScope, _ out: inout String) throws -> Flow {
        for node in nodes {
            let flow = try exec(node, scope, &out)
            if flow != .normal { return flow }
        }
        return .normal
    }

    private func exec(_ node: JinjaNode, _ scope: JinjaScope, _ out: inout String) throws -> Flow {
        switch node {
        case .text(let text):
            out += text
        case .output(let expr, let line):
            out += try at(line) { try eval(expr, scope).str }
        case .ifElse(let branches, let otherwise, let line):
            for (test, body) in branches {
                if try at(line, { try eval(test, scope).truthy }) { return try exec(body, scope, &out) }
            }
            return try exec(otherwise, scope, &out)
        case .forLoop(let loop):
            try execFor(loop, scope, &out)
        case .set(let target, let expr, let line):
            try at(line) { try assign(target, try eval(expr, scope), scope) }
        case .setBlock(let target, let body, let filters, let line):
            var value = JValue.string(try render(body, scope: scope))
            try at(line) {
                for (name, args) in filters { value = try applyFilter(name, value, args, scope) }
                try assign(target, value, scope)
            }
        case .macro(let macro):
            scope.set(macro.name, .function(makeMacro(macro, scope)))
        case .callBlock(let call, let caller, let line):
            try at(line) {
                guard case .call(let callee, let args) = call else { return }
                let function = try eval(callee, scope)
                var arguments = try evalArguments(args, scope)
                arguments.keyword.append(("caller", .function(makeMacro(caller, scope))))
                out += try callValue(function, arguments).str
            }
        case .filterBlock(let body, let filters, let line):
            var value = JValue.string(try render(body, scope: scope))
            try at(line) {
                for (name, args) in filters { value = try applyFilter(name, value, args, scope) }
            }
            out += value.str
        case .breakLoop:
            return .breakLoop
        case .continueLoop:
            return .continueLoop
        case .generation(let body):
            return try exec(body, scope, &out)
        }
        return .normal
    }

    /// Runs `body`, naming `line` in errors that name none.
    private func at<T>(_ line: Int, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as JinjaError {
            throw error.at(line: line)
        }
    }

    private func execFor(_ loop: JinjaFor, _ scope: JinjaScope, _ out: inout String) throws {
        var items = try at(loop.line) { try iterate(try eval(loop.iterable, scope)) }
        if let condition = loop.condition {
            // The filter sees the loop variable but not `loop`; `loop.length` counts what passes it.
            items = try items.filter { item in
                let s = JinjaScope(parent: scope)
                return try at(loop.line) {
                    try assign(loop.target, item, s)
                    return try eval(condition, s).truthy
                }
            }
        }
        if items.isEmpty {
            _ = try exec(loop.otherwise, scope, &out)
            return
        }
        let n = items.count
        for (index, item) in items.enumerated() {
            let s = JinjaScope(parent: scope)
            try at(loop.line) { try assign(loop.target, item, s) }
            var info = JinjaDict()
            info["index"] = .int(index + 1)
            info["index0"] = .int(index)
            info["revindex"] = .int(n - index)
            info["revindex0"] = .int(n - index - 1)
            info["first"] = .bool(index == 0)
            info["last"] = .bool(index == n - 1)
            info["length"] = .int(n)
            info["depth"] = .int(1)
            info["depth0"] = .int(0)
            info["previtem"] = index > 0 ? items[index - 1] : .undefined("there is no previous item")
            info["nextitem"] = index < n - 1 ? items[index + 1] : .undefined("there is no next item")
            info["cycle"] = .function(
                JinjaFunction("loop.cycle") { args in
                    guard !args.positional.isEmpty else { throw JinjaError(.runtime, "no items for cycling given") }
                    return args.positional[index % args.positional.count]
                })
            s.set("loop", .dict(info))
            if try exec(loop.body, s, &out) == .breakLoop { break }
        }
    }

    private func assign(_ target: JinjaTarget, _ value: JValue, _ scope: JinjaScope) throws {
        switch target {
        case .name(let name):
            scope.set(name, value)
        case .attribute(let name, let attribute):
            guard case .namespace(let ns)? = scope.lookup(name) else {
                throw JinjaError(.runtime, "cannot assign attribute on non-namespace object")
            }
            ns.members[attribute] = value
        case .tuple(let targets):
            let items = try iterate(value)
            guard items.count == targets.count else {
                throw JinjaError(
                    .runtime,
                    items.count > targets.count
                        ? "too many values to unpack (expected \(targets.count))"
                        : "not enough values to unpack (expected \(targets.count), got \(items.count))")
            }
            for (t, v) in zip(targets, items) { try assign(t, v, scope) }
        }
    }

    private func makeMacro(_ macro: JinjaMacro, _ definingScope: JinjaScope) -> JinjaFunction {
        JinjaFunction(macro.name) { [unowned self] args in
            let s = JinjaScope(parent: definingScope)
            var keyword = args.keyword
            for (index, (name, defaultValue)) in macro.parameters.enumerated() {
                if index < args.positional.count {
                    s.set(name, args.positional[index])
                } else if let k = keyword.firstIndex(where: { $0.0 == name }) {
                    s.set(name, keyword.remove(at: k).1)
                } else if let defaultValue {
                    s.set(name, try self.eval(defaultValue, s))
                } else {
                    s.set(name, .undefined("parameter '\(name)' was not provided"))
                }
            }
            s.set("varargs", .list(Array(args.positional.dropFirst(macro.parameters.count))))
            if let k = keyword.firstIndex(where: { $0.0 == "caller" }) { s.set("caller", keyword.remove(at: k).1) }
            s.set("kwargs", .dict(JinjaDict(keyword)))
            return .string(try self.render(macro.body, scope: s))
        }
    }

    // MARK: Expressions

    func eval(_ expr: JinjaExpr, _ scope: JinjaScope) throws -> JValue {
        switch expr {
        case .literal(let literal):
            switch literal {
            case .none: return .none
            case .bool(let b): return .bool(b)
            case .int(let n): return .int(n)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            }
        case .name(let name):
            return scope.lookup(name) ?? .undefinedName(name)
        case .list(let items):
            return .list(try items.map { try eval($0, scope) })
        case .tuple(let items):
            return .tuple(try items.map { try eval($0, scope) })
        case .dict(let pairs):
            var d = JinjaDict()
            for (k, v) in pairs {
                let key = try eval(k, scope)
                guard case .string(let ks) = key else {
                    throw JinjaError(.runtime, "only string keys are supported in dict literals, got \(key.typeName)")
                }
                d[ks] = try eval(v, scope)
            }
            return .dict(d)
        case .attribute(let base, let name):
            return try attribute(try eval(base, scope), name)
        case .item(let base, let index):
            return try item(try eval(base, scope), try eval(index, scope))
        case .slice(let base, let start, let stop, let step):
            let value = try eval(base, scope)
            return try slice(
                value, start.map { try eval($0, scope) } ?? .none, stop.map { try eval($0, scope) } ?? .none,
                step.map { try eval($0, scope) } ?? .none)
        case .call(let callee, let args):
            let function = try eval(callee, scope)
            return try callValue(function, try evalArguments(args, scope))
        case .filter(let base, let name, let args):
            return try applyFilter(name, try eval(base, scope), args, scope)
        case .test(let base, let name, let args, let negated):
            let result = try applyTest(name, try eval(base, scope), try evalArguments(args, scope).positional, scope)
            return .bool(result != negated)
        case .not(let e):
            return .bool(!(try eval(e, scope).truthy))
        case .negative(let e):
            let v = try eval(e, scope)
            switch v {
            case .int(let n): return .int(-n)
            case .bool(let b): return .int(b ? -1 : 0)
            case .double(let d): return .double(-d)
            case .undefined(let message): throw JinjaError(.undefined, message)
            default: throw JinjaError(.runtime, "bad operand type for unary -: '\(v.typeName)'")
            }
        case .positive(let e):
            let v = try eval(e, scope)
            if case .undefined(let message) = v { throw JinjaError(.undefined, message) }
            guard v.number != nil else { throw JinjaError(.runtime, "bad operand type for unary +: '\(v.typeName)'") }
            return v
        case .and(let a, let b):
            let left = try eval(a, scope)
            return left.truthy ? try eval(b, scope) : left
        case .or(let a, let b):
            let left = try eval(a, scope)
            return left.truthy ? left : try eval(b, scope)
        case .binary(let op, let a, let b):
            return try JinjaOperators.binary(op, try eval(a, scope), try eval(b, scope))
        case .compare(let first, let rest):
            var left = try eval(first, scope)
            for (op, e) in rest {
                let right = try eval(e, scope)
                if !(try JinjaOperators.compare(op, left, right)) { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let test, let then, let otherwise):
            if try eval(test, scope).truthy { return try eval(then, scope) }
            return try otherwise.map { try eval($0, scope) }
                ?? .undefined("the inline if-expression evaluated to false and no else section was defined.")
        }
    }

    func evalArguments(_ args: JinjaArguments, _ scope: JinjaScope) throws -> JinjaCallArguments {
        JinjaCallArguments(
            positional: try args.positional.map { try eval($0, scope) },
            keyword: try args.keyword.map { ($0, try eval($1, scope)) })
    }

    func callValue(_ value: JValue, _ args: JinjaCallArguments) throws -> JValue {
        switch value {
        case .function(let f): return try f.call(args)
        case .undefined(let message): throw JinjaError(.undefined, message)
        default: throw JinjaError(.runtime, "'\(value.typeName)' object is not callable")
        }
    }

    // MARK: Access

    /// The text jinja2's `Undefined` gives for a missing attribute or item of `obj`.
    static func missing(_ obj: JValue, attribute name: JValue) -> JValue {
        let owner: String
        switch obj {
        case .none: owner = "'None'"
        case .namespace: owner = "'jinja2.utils.Namespace object'"
        default: owner = "'\(obj.typeName) object'"
        }
        if case .string(let s) = name { return .undefined("\(owner) has no attribute \(JValue.pythonRepr(s))") }
        return .undefined("\(owner) has no element \(name.repr)")
    }

    /// `obj.name`: jinja2 tries the Python attribute (a method) first, then the item.
    func attribute(_ obj: JValue, _ name: String) throws -> JValue {
        if case .undefined(let message) = obj { throw JinjaError(.undefined, message) }
        if let method = JinjaMethods.method(obj, name, self) { return method }
        switch obj {
        case .dict(let d): return d[name] ?? Self.missing(obj, attribute: .string(name))
        case .namespace(let ns): return ns.members[name] ?? Self.missing(obj, attribute: .string(name))
        default: return Self.missing(obj, attribute: .string(name))
        }
    }

    /// `obj[key]`: jinja2 tries the item first, then (for a string key) the Python attribute.
    func item(_ obj: JValue, _ key: JValue) throws -> JValue {
        if case .undefined(let message) = obj { throw JinjaError(.undefined, message) }
        switch (obj, key) {
        case (.dict(let d), .string(let k)):
            if let v = d[k] { return v }
        case (.list(let items), _), (.tuple(let items), _):
            if let i = key.integer {
                let index = i < 0 ? items.count + i : i
                if items.indices.contains(index) { return items[index] }
            }
        case (.string(let s), _):
            if let i = key.integer {
                let scalars = Array(s.unicodeScalars)
                let index = i < 0 ? scalars.count + i : i
                if scalars.indices.contains(index) { return .string(String(scalars[index])) }
            }
        default:
            break
        }
        if case .string(let name) = key {
            if let method = JinjaMethods.method(obj, name, self) { return method }
            if case .namespace(let ns) = obj, let v = ns.members[name] { return v }
        }
        return Self.missing(obj, attribute: key)
    }

    func slice(_ obj: JValue, _ start: JValue, _ stop: JValue, _ step: JValue) throws -> JValue {
        func bound(_ v: JValue) throws -> Int? {
            if case .none = v { return nil }
            guard let n = v.integer else { throw JinjaError(.runtime, "slice indices must be integers or None") }
            return n
        }
        let (a, b, c) = (try bound(start), try bound(stop), try bound(step))
        switch obj {
        case .list(let items): return .list(Self.slice(items, a, b, c ?? 1))
        case .tuple(let items): return .tuple(Self.slice(items, a, b, c ?? 1))
        case .string(let s):
            var out = String.UnicodeScalarView()
            out.append(contentsOf: Self.slice(Array(s.unicodeScalars), a, b, c ?? 1))
            return .string(String(out))
        case .undefined(let message): throw JinjaError(.undefined, message)
        default: throw JinjaError(.runtime, "'\(obj.typeName)' object is not subscriptable")
        }
    }

    /// Python's slice semantics (negative indices, clamping, negative steps).
    static func slice<T>(_ items: [T], _ start: Int?, _ stop: Int?, _ step: Int) -> [T] {
        let n = items.count
        guard step != 0 else { return [] }
        func adjust(_ v: Int?, _ defaultValue: Int, low: Int, high: Int) -> Int {
            guard var v else { return defaultValue }
            if v < 0 { v += n }
            return min(max(v, low), high)
        }
        var out: [T] = []
        if step > 0 {
            let lo = adjust(start, 0, low: 0, high: n)
            let hi = adjust(stop, n, low: 0, high: n)
            var i = lo
            while i < hi {
                out.append(items[i])
                i += step
            }
        } else {
            let hi = adjust(start, n - 1, low: -1, high: n - 1)
            let lo = adjust(stop, -1, low: -1, high: n - 1)
            var i = hi
            while i > lo {
                out.append(items[i])
                i += step
            }
        }
        return out
    }

    /// The items a `for` loop (or `list`, `join`...) sees: a dict's keys, a string's characters; undefined is empty.
    func iterate(_ value: JValue) throws -> [JValue] {
        switch value {
        case .undefined: return []
        case .list(let items), .tuple(let items): return items
        case .dict(let d): return d.keys.map(JValue.string)
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        default: throw JinjaError(.runtime, "'\(value.typeName)' object is not iterable")
        }
    }
}
