/// Parses tokens into statements, following jinja2's parser (operator precedence, filters binding tighter than
/// arithmetic, tests after `is`, loop filters, assignment targets).
struct JinjaParser {
    private let tokens: [JinjaToken]
    private var i = 0

    init(tokens: [JinjaToken]) {
        self.tokens = tokens + [JinjaToken(kind: .eof, value: "", line: tokens.last?.line ?? 1)]
    }

    static func parse(_ source: String) throws -> [JinjaNode] {
        var parser = JinjaParser(tokens: try JinjaLexer.tokenize(source))
        let (nodes, end) = try parser.subparse(until: [])
        if let end { throw JinjaError(.syntax, "Encountered unknown tag '\(end)'.", line: parser.current.line) }
        return nodes
    }

    // MARK: Token stream

    private var current: JinjaToken { tokens[i] }
    private var next: JinjaToken { tokens[min(i + 1, tokens.count - 1)] }

    private mutating func advance() -> JinjaToken {
        let t = tokens[i]
        if i < tokens.count - 1 { i += 1 }
        return t
    }

    private func isOp(_ op: String) -> Bool { current.kind == .op && current.value == op }
    private func isName(_ name: String) -> Bool { current.kind == .name && current.value == name }

    private mutating func skipOp(_ op: String) -> Bool {
        guard isOp(op) else { return false }
        i += 1
        return true
    }

    private mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        i += 1
        return true
    }

    private func describe(_ t: JinjaToken) -> String {
        switch t.kind {
        case .eof: return "end of template"
        case .blockEnd: return "end of statement block"
        case .variableEnd: return "end of print statement"
        case .string: return "string"
        case .integer, .float: return "number"
        default: return "'\(t.value)'"
        }
    }

    private func fail(_ message: String) -> JinjaError { JinjaError(.syntax, message, line: current.line) }

    private mutating func expectOp(_ op: String) throws {
        guard skipOp(op) else { throw fail("expected token '\(op)', got \(describe(current))") }
    }

    private mutating func expectName() throws -> String {
        guard current.kind == .name else { throw fail("expected name, got \(describe(current))") }
        return advance().value
    }

    private mutating func expectBlockEnd() throws {
        guard current.kind == .blockEnd else { throw fail("expected token 'end of statement block', got \(describe(current))") }
        i += 1
    }

    // MARK: Statements

    /// Parses nodes until `{% name %}` with `name` in `ends` (consuming `{%` and the name) or the end of the template.
    private mutating func subparse(until ends: Set<String>) throws -> ([JinjaNode], String?) {
        var nodes: [JinjaNode] = []
        while true {
            switch current.kind {
            case .eof:
                return (nodes, nil)
            case .text:
                nodes.append(.text(advance().value))
            case .variableBegin:
                let line = advance().line
                let expr = try parseTuple(withConditional: true)
                guard current.kind == .variableEnd else {
                    throw fail("expected token 'end of print statement', got \(describe(current))")
                }
                i += 1
                nodes.append(.output(expr, line: line))
            case .blockBegin:
                i += 1
                guard current.kind == .name else { throw fail("tag name expected") }
                if ends.contains(current.value) { return (nodes, advance().value) }
                nodes.append(try parseStatement())
            default:
                throw fail("unexpected \(describe(current))")
            }
        }
    }

    /// Parses a body ended by one of `ends`; throws naming the opening tag when the template ends first.
    private mutating func parseBody(until ends: Set<String>, of tag: String, line: Int) throws -> ([JinjaNode], String) {
        let (nodes, end) = try subparse(until: ends)
        guard let end else {
            let expected = ends.sorted().map { "'\($0)'" }.joined(separator: " or ")
            throw JinjaError(
                .syntax,
                "Unexpected end of template. Jinja was looking for the following tags: \(expected). "
                    + "The innermost block that needs to be closed is '\(tag)'.", line: line)
        }
        return (nodes, end)
    }

    private mutating func parseStatement() throws -> JinjaNode {
        let token = advance()
        let line = token.line
        switch token.value {
        case "if": return try parseIf(line: line)
        case "for": return try parseFor(line: line)
        case "set": return try parseSet(line: line)
        case "macro":
            let name = try expectName()
            let parameters = try parseSignature()
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endmacro"], of: "macro", line: line)
            try skipEndName(name)
            return .macro(JinjaMacro(name: name, parameters: parameters, body: body, line: line))
        case "call":
            let parameters = isOp("(") ? try parseSignature() : []
            let call = try parseExpression()
            guard case .call = call else { throw JinjaError(.syntax, "expected call", line: line) }
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endcall"], of: "call", line: line)
            try expectBlockEnd()
            return .callBlock(call, caller: JinjaMacro(name: "caller", parameters: parameters, body: body, line: line), line: line)
        case "filter":
            let filters = try parseFilterChain(first: true)
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endfilter"], of: "filter", line: line)
            try expectBlockEnd()
            return .filterBlock(body: body, filters: filters, line: line)
        case "break":
            try expectBlockEnd()
            return .breakLoop(line: line)
        case "continue":
            try expectBlockEnd()
            return .continueLoop(line: line)
        case "generation":
            try expectBlockEnd()
            let (body, _) = try parseBody(until: ["endgeneration"], of: "generation", line: line)
            try expectBlockEnd()
            return .generation(body)
        default:
            throw JinjaError(.syntax, "Encountered unknown tag '\(token.value)'.", line: line)
        }
    }

    private mutating func skipEndName(_ name: String) throws {
        if current.kind == .name { _ = skipName(name) }
        try expectBlockEnd()
    }

    private mutating func parseIf(line: Int) throws -> JinjaNode {
        var branches: [(JinjaExpr, [JinjaNode])] = []
        var test = try parseTuple(withConditional: false)
        while true {
            try expectBlockEnd()
            let (nodes, end) = try parseBody(until: ["elif", "else", "endif"], of: "if", line: line)
            branches.append((test, nodes))
            switch end {
            case "elif":
                test = try parseTuple(withConditional: false)
            case "else":
                try expectBlockEnd()
                let (otherwise, _) = try parseBody(until: ["endif"], of: "if", line: line)
                try expectBlockEnd()
                return .ifElse(branches: branches, otherwise: otherwise, line: line)
            default:
                try expectBlockEnd()
                return .ifElse(branches: branches, otherwise: [], line: line)
            }
        }
    }

    private mutating func parseFor(line: Int) throws -> JinjaNode {
        let target = try parseAssignTarget(namespaces: false)
        guard skipName("in") else { throw fail("expected 'in', got \(describe(current))") }
        let iterable = try parseTuple(withConditional: false, extraEnds: ["recursive"])
        var condition: JinjaExpr? = nil
        if skipName("if") { condition = try parseExpression() }
        if skipName("recursive") { throw JinjaError(.syntax, "recursive loops are not supported", line: line) }
        try expectBlockEnd()
        let (body, end) = try parseBody(until: ["endfor", "else"], of: "for", line: line)
        var otherwise: [JinjaNode] = []
        if end == "else" {
            try expectBlockEnd()
            otherwise = try self.parseBody(until: ["endfor"], of: "for", line: line).0
        }
        try expectBlockEnd()
        return .forLoop(JinjaFor(target: target, iterable: iterable, condition: condition, body: body, otherwise: otherwise, line: line))
    }

    private mutating func parseSet(line: Int) throws -> JinjaNode {
        let target = try parseAssignTarget(namespaces: true)
        if skipOp("=") {
            let value = try parseTuple(withConditional: true)
            try expectBlockEnd()
            return .set(target, value, line: line)
        }
        let filters = isOp("|") ? try parseFilterChain(first: false) : []
        try expectBlockEnd()
        let (body, _) = try parseBody(until: ["endset"], of: "set", line: line)
        try expectBlockEnd()
        return .setBlock(target, body: body, filters: filters, line: line)
    }

    private mutating func parseAssignTarget(namespaces: Bool) throws -> JinjaTarget {
        var targets: [JinjaTarget] = []
        var sawComma = false
        repeat {
            if !targets.isEmpty && (isName("in") || isOp("=") || current.kind == .blockEnd) { break }
            if skipOp("(") {
                targets.append(try parseAssignTarget(namespaces: false))
                try expectOp(")")
            } else {
                let name = try expectName()
                if namespaces && skipOp(".") {
                    targets.append(.attribute(name, try expectName()))
                } else {
                    targets.append(.name(name))
                }
            }
            if isOp(",") { sawComma = true }
        } while skipOp(",")
        return targets.count == 1 && !sawComma ? targets[0] : .tuple(targets)
    }

    private mutating func parseSignature() throws -> [(String, JinjaExpr?)] {
        try expectOp("(")
        var parameters: [(String, JinjaExpr?)] = []
        while !isOp(")") {
            if !parameters.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            let name = try expectName()
            parameters.append((name, skipOp("=") ? try parseExpression() : nil))
        }
        try expectOp(")")
        return parameters
    }

    // MARK: Expressions

    /// jinja2's `parse_tuple`: an expression, or a tuple of them when separated by commas.
    private mutating func parseTuple(withConditional: Bool, extraEnds: Set<String> = [], explicitParentheses: Bool = false) throws
        -> JinjaExpr
    {
        var items: [JinjaExpr] = []
        var isTuple = false
        while true {
            if !items.isEmpty { try expectOp(",") }
            if current.kind == .variableEnd || current.kind == .blockEnd || isOp(")") || isOp("]") || isOp("}")
                || (current.kind == .name && extraEnds.contains(current.value))
            {
                break
            }
            items.append(withConditional ? try parseExpression() : try parseOr())
            if isOp(",") { isTuple = true } else { break }
        }
        if !isTuple {
            if let only = items.first { return only }
            if !explicitParentheses { throw fail("Expected an expression, got \(describe(current))") }
        }
        return .tuple(items)
    }

    mutating func parseExpression() throws -> JinjaExpr {
        var expr = try parseOr()
        while skipName("if") {
            let test = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expr = .conditional(test: test, then: expr, otherwise: otherwise)
        }
        return expr
    }

    private mutating func parseOr() throws -> JinjaExpr {
        var left = try parseAnd()
        while skipName("or") { left = .or(left, try parseAnd()) }
        return left
    }

    private mutating func parseAnd() throws -> JinjaExpr {
        var left = try parseNot()
        while skipName("and") { left = .and(left, try parseNot()) }
        return left
    }

    private mutating func parseNot() throws -> JinjaExpr {
        if skipName("not") { return .not(try parseNot()) }
        return try parseCompare()
    }

    private mutating func parseCompare() throws -> JinjaExpr {
        let first = try parseMath1()
        var ops: [(String, JinjaExpr)] = []
        while true {
            if current.kind == .op, ["==", "!=", "<", ">", "<=", ">="].contains(current.value) {
                let op = advance().value
                ops.append((op, try parseMath1()))
            } else if skipName("in") {
                ops.append(("in", try parseMath1()))
            } else if isName("not") && next.kind == .name && next.value == "in" {
                i += 2
                ops.append(("notin", try parseMath1()))
            } else {
                break
            }
        }
        return ops.isEmpty ? first : .compare(first, ops)
    }

    private mutating func parseMath1() throws -> JinjaExpr {
        var left = try parseConcat()
        while current.kind == .op && (current.value == "+" || current.value == "-") {
            let op = advance().value
            left = .binary(op, left, try parseConcat())
        }
        return left
    }

    private mutating func parseConcat() throws -> JinjaExpr {
        var left = try parseMath2()
        while skipOp("~") { left = .binary("~", left, try parseMath2()) }
        return left
    }

    private mutating func parseMath2() throws -> JinjaExpr {
        var left = try parsePow()
        while current.kind == .op && ["*", "/", "//", "%"].contains(current.value) {
            let op = advance().value
            left = .binary(op, left, try parsePow())
        }
        return left
    }

    private mutating func parsePow() throws -> JinjaExpr {
        var left = try parseUnary(withFilter: true)
        while skipOp("**") { left = .binary("**", left, try parseUnary(withFilter: true)) }
        return left
    }

    private mutating func parseUnary(withFilter: Bool) throws -> JinjaExpr {
        var expr: JinjaExpr
        if skipOp("-") {
            expr = .negative(try parseUnary(withFilter: false))
        } else if skipOp("+") {
            expr = .positive(try parseUnary(withFilter: false))
        } else {
            expr = try parsePrimary()
        }
        expr = try parsePostfix(expr)
        if withFilter { expr = try parseFilterExpr(expr) }
        return expr
    }

    private mutating func parsePrimary() throws -> JinjaExpr {
        let t = current
        switch t.kind {
        case .name:
            i += 1
            switch t.value {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(t.value)
            }
        case .string:
            var text = advance().value
            while current.kind == .string { text += advance().value }
            return .literal(.string(text))
        case .integer:
            i += 1
            guard let n = Int(t.value) else { throw JinjaError(.syntax, "integer literal \(t.value) is too large", line: t.line) }
            return .literal(.int(n))
        case .float:
            i += 1
            return .literal(.double(Double(t.value) ?? .nan))
        case .op where t.value == "(":
            i += 1
            let expr = try parseTuple(withConditional: true, explicitParentheses: true)
            try expectOp(")")
            return expr
        case .op where t.value == "[":
            i += 1
            var items: [JinjaExpr] = []
            while !isOp("]") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("]") { break }
                items.append(try parseExpression())
            }
            try expectOp("]")
            return .list(items)
        case .op where t.value == "{":
            i += 1
            var items: [(JinjaExpr, JinjaExpr)] = []
            while !isOp("}") {
                if !items.isEmpty { try expectOp(",") }
                if isOp("}") { break }
                let key = try parseExpression()
                try expectOp(":")
                items.append((key, try parseExpression()))
            }
            try expectOp("}")
            return .dict(items)
        default:
            throw fail("unexpected \(describe(t))")
        }
    }

    private mutating func parsePostfix(_ start: JinjaExpr) throws -> JinjaExpr {
        var expr = start
        while true {
            if skipOp(".") {
                if current.kind == .name {
                    expr = .attribute(expr, advance().value)
                } else if current.kind == .integer, let n = Int(current.value) {
                    i += 1
                    expr = .item(expr, .literal(.int(n)))
                } else {
                    throw fail("expected name or number")
                }
            } else if skipOp("[") {
                var subscripts: [JinjaExpr] = []
                while !isOp("]") {
                    if !subscripts.isEmpty { try expectOp(",") }
                    subscripts.append(try parseSubscribed(expr))
                }
                try expectOp("]")
                if subscripts.count == 1, case .slice = subscripts[0] {
                    expr = subscripts[0]
                } else {
                    expr = .item(expr, subscripts.count == 1 ? subscripts[0] : .tuple(subscripts))
                }
            } else if isOp("(") {
                expr = .call(expr, try parseCallArguments())
            } else {
                return expr
            }
        }
    }

    /// One subscript: an expression, or a slice `start:stop:step` of `base`.
    private mutating func parseSubscribed(_ base: JinjaExpr) throws -> JinjaExpr {
        var start: JinjaExpr? = nil
        if !isOp(":") {
            let e = try parseExpression()
            if !isOp(":") { return e }
            start = e
        }
        try expectOp(":")
        let stop = isOp("]") || isOp(",") || isOp(":") ? nil : try parseExpression()
        var step: JinjaExpr? = nil
        if skipOp(":") { step = isOp("]") || isOp(",") ? nil : try parseExpression() }
        return .slice(base, start: start, stop: stop, step: step)
    }

    private mutating func parseCallArguments() throws -> JinjaArguments {
        try expectOp("(")
        var args = JinjaArguments()
        while !isOp(")") {
            if !args.positional.isEmpty || !args.keyword.isEmpty { try expectOp(",") }
            if isOp(")") { break }
            if current.kind == .name && next.kind == .op && next.value == "=" {
                let key = advance().value
                i += 1
                args.keyword.append((key, try parseExpression()))
            } else {
                if !args.keyword.isEmpty { throw fail("positional argument follows keyword argument") }
                args.positional.append(try parseExpression())
            }
        }
        try expectOp(")")
        return args
    }

    private mutating func parseFilterExpr(_ start: JinjaExpr) throws -> JinjaExpr {
        var expr = start
        while true {
            if isOp("|") {
                for (name, args) in try parseFilterChain(first: false) { expr = .filter(expr, name: name, args) }
            } else if isName("is") {
                expr = try parseTest(expr)
            } else if isOp("(") {
                expr = .call(expr, try parseCallArguments())
            } else {
                return expr
            }
        }
    }

    /// `| name(args) | name ...`; with `first`, the first filter has no leading pipe (`{% filter upper %}`).
    private mutating func parseFilterChain(first: Bool) throws -> [(String, JinjaArguments)] {
        var filters: [(String, JinjaArguments)] = []
        var needPipe = !first
        while true {
            if needPipe && !skipOp("|") { return filters }
            needPipe = true
            let line = current.line
            var name = try expectName()
            while skipOp(".") { name += "." + (try expectName()) }
            guard JinjaBuiltins.filterNames.contains(name) else { throw JinjaError(.syntax, "No filter named '\(name)'.", line: line) }
            filters.append((name, isOp("(") ? try parseCallArguments() : JinjaArguments()))
        }
    }

    private mutating func parseTest(_ subject: JinjaExpr) throws -> JinjaExpr {
        i += 1  // `is`
        let negated = skipName("not")
        let line = current.line
        var name = try expectName()
        while skipOp(".") { name += "." + (try expectName()) }
        guard JinjaBuiltins.testNames.contains(name) else { throw JinjaError(.syntax, "No test named '\(name)'.", line: line) }
        var args = JinjaArguments()
        if isOp("(") {
            args = try parseCallArguments()
        } else if [.name, .string, .integer, .float].contains(current.kind) || isOp("(") || isOp("[") || isOp("{"),
            !(isName("else") || isName("or") || isName("and"))
        {
            if isName("is") { throw fail("You cannot chain multiple tests with is") }
            args.positional = [try parsePostfix(try parsePrimary())]
        }
        return .test(subject, name: name, args, negated: negated)
    }
}
