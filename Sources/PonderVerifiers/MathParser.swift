/// A recursive-descent parser from tokens to a scalar ``MathExpression``.
///
/// Grammar, loosest first: sum (`+ - \pm \mp`), product (`* \cdot \times / \div`, implicit
/// juxtaposition), unary sign, power (`^`, right side a group or one atom), postfix (`! % °`),
/// primary (numbers, mixed numbers `2\frac12`, variables with subscripts, `\frac \sqrt[n] \binom`,
/// functions, `(…) […] {…} |…|`).
struct MathParser {
    var tokens: [MathToken]
    var pos = 0
    var budget: WorkBudget
    private var absDepth = 0
    static let plusMinusCommands: Set<String> = ["pm", "mp"]
    static let timesCommands: Set<String> = ["cdot", "times", "ast"]
    static let divideCommands: Set<String> = ["div", "over"]
    static let primaryCommands: Set<String> = ["frac", "sqrt", "binom", "pi", "infty", "exp"]
    private var depth = 0
    /// Deepest nesting of sub-expressions accepted (keeps recursion far from the stack limit).
    static let maxDepth = 300

    init(tokens: [MathToken], budget: WorkBudget) {
        self.tokens = tokens
        self.budget = budget
    }

    var atEnd: Bool { pos >= tokens.count }
    var peek: MathToken? { pos < tokens.count ? tokens[pos] : nil }

    mutating func next() throws -> MathToken {
        guard pos < tokens.count else { throw MathParseError.unexpectedEnd("more input") }
        pos += 1
        return tokens[pos - 1]
    }

    mutating func expect(_ symbol: String) throws {
        let t = try next()
        guard t.kind == .symbol, t.text == symbol else {
            throw MathParseError.unexpected(t.text, expected: "'\(symbol)'")
        }
    }

    mutating func consume(_ symbol: String) -> Bool {
        if let p = peek, p.kind == .symbol, p.text == symbol {
            pos += 1
            return true
        }
        return false
    }

    mutating func consumeCommand(_ names: Set<String>) -> String? {
        if let p = peek, p.kind == .command, names.contains(p.text) {
            pos += 1
            return p.text
        }
        return nil
    }

    /// Goes one level deeper; throws past ``maxDepth`` so hostile nesting cannot exhaust the stack.
    private mutating func enter() throws {
        depth += 1
        if depth > Self.maxDepth {
            depth -= 1
            throw MathParseError.unsupported("nesting deeper than \(Self.maxDepth)")
        }
    }

    /// Parses a whole expression and requires that every token was used.
    mutating func parseComplete() throws -> MathExpression {
        let e = try parseSum()
        if let t = peek { throw MathParseError.unexpected(t.text, expected: "end of expression") }
        return e
    }

    mutating func parseSum() throws -> MathExpression {
        try budget.spend(1)
        var current = try parseProduct()
        var terms = [current]
        while true {
            if consume("+") {
                terms.append(try parseProduct())
            } else if consume("-") {
                terms.append(.negation(try parseProduct()))
            } else if let pm = consumeCommand(Self.plusMinusCommands) {
                let t = try parseProduct()
                current = .plusMinus(terms.count == 1 ? terms[0] : .sum(terms), pm == "pm" ? t : .negation(t))
                terms = [current]
            } else {
                break
            }
        }
        return terms.count == 1 ? terms[0] : .sum(terms)
    }

    mutating func parseProduct() throws -> MathExpression {
        var factors = [try parseUnary()]
        while true {
            try budget.spend(1)
            if consume("*") || consumeCommand(Self.timesCommands) != nil {
                factors.append(try parseUnary())
            } else if consume("/") || consumeCommand(Self.divideCommands) != nil {
                factors.append(.power(try parseUnary(), .integer(-1)))
            } else if let p = peek, startsPrimary(p) {
                factors.append(try parsePower())
            } else {
                break
            }
        }
        return factors.count == 1 ? factors[0] : .product(factors)
    }

    mutating func parseUnary() throws -> MathExpression {
        try budget.spend(1)
        try enter()
        defer { depth -= 1 }
        if consume("-") { return .negation(try parseUnary()) }
        if consume("+") { return try parseUnary() }
        if let pm = consumeCommand(Self.plusMinusCommands) {
            let x = try parseUnary()
            return .plusMinus(.integer(0), pm == "pm" ? x : .negation(x))
        }
        return try parsePower()
    }

    mutating func parsePower() throws -> MathExpression {
        let base = try parsePostfix()
        if consume("^") {
            let exponent = try parseExponent()
            return try applyPostfix(.power(base, exponent))
        }
        return base
    }

    mutating func parseExponent() throws -> MathExpression {
        try budget.spend(1)
        try enter()
        defer { depth -= 1 }
        if consume("-") { return .negation(try parseExponent()) }
        if consume("+") { return try parseExponent() }
        if let p = peek, p.isSymbol("{") || p.isSymbol("(") { return try parsePrimary() }
        let atom = try parsePrimary()
        if consume("^") { return .power(atom, try parseExponent()) }
        return atom
    }

    mutating func parsePostfix() throws -> MathExpression {
        try applyPostfix(try parsePrimary())
    }

    mutating func applyPostfix(_ base: MathExpression) throws -> MathExpression {
        var e = base
        while true {
            if consume("!") {
                e = .function("factorial", [e])
            } else if consume("%") {
                e = .percent(e)
            } else if consume("°") {
                e = .degrees(e)
            } else {
                return e
            }
        }
    }

    /// Whether `t` can begin a factor multiplied by juxtaposition (`2x`, `3\sqrt2`, `(a)(b)`).
    func startsPrimary(_ t: MathToken) -> Bool {
        switch t.kind {
        case .number, .identifier, .function: return true
        case .command: return Self.primaryCommands.contains(t.text)
        case .symbol: return t.text == "(" || t.text == "{" || (t.text == "|" && absDepth == 0)
        default: return false
        }
    }

    mutating func parsePrimary() throws -> MathExpression {
        try budget.spend(1)
        try enter()
        defer { depth -= 1 }
        let t = try next()
        switch t.kind {
        case .number:
            let lit = try literal(t.text)
            // Mixed number 2\frac{1}{2} = 2 + 1/2 (integer followed by a fraction of integer literals).
            if case .number(let whole, let wl) = lit, whole.isInteger, !wl.isDecimal, let p = peek,
                p.isCommand("frac")
            {
                let save = pos
                let savedTokens = tokens
                pos += 1
                if let num = try? parseArgument(), let den = try? parseArgument(),
                    case .number(let n, let nl) = num, case .number(let d, let dl) = den, !nl.isDecimal,
                    !dl.isDecimal, !d.isZero, let frac = n.divided(by: d)
                {
                    return .number(whole + frac, .computed)
                }
                pos = save
                tokens = savedTokens
            }
            return lit
        case .identifier:
            var name = t.text
            if consume("_") { name += "_" + (try subscriptText()) }
            while consume("'") { name += "'" }
            switch name {
            case "e": return .constant(.e)
            case "i": return .constant(.i)
            case "pi": return .constant(.pi)
            default: return .variable(name)
            }
        case .command:
            switch t.text {
            case "frac":
                let num = try parseArgument()
                let den = try parseArgument()
                return .product([num, .power(den, .integer(-1))])
            case "binom":
                let n = try parseArgument()
                let k = try parseArgument()
                return .function("binom", [n, k])
            case "sqrt": return try parseSqrt()
            case "pi": return .constant(.pi)
            case "infty": return .constant(.infinity)
            case "exp": return try parseFunction("exp")
            default: throw MathParseError.unsupported("\\" + t.text)
            }
        case .function:
            if t.text == "sqrt" { return try parseSqrt() }
            return try parseFunction(t.text)
        case .symbol:
            switch t.text {
            case "(":
                let e = try parseSum()
                try expect(")")
                return e
            case "[":
                let e = try parseSum()
                try expect("]")
                return e
            case "{":
                let e = try parseSum()
                try expect("}")
                return e
            case "|":
                absDepth += 1
                let e = try parseSum()
                absDepth -= 1
                try expect("|")
                return .function("abs", [e])
            default: throw MathParseError.unexpected(t.text, expected: "a number, variable or '('")
            }
        case .word, .text, .begin, .end:
            throw MathParseError.unsupported(t.text)
        }
    }

    /// An argument of `\frac`, `\binom`, `\sqrt`: a `{…}` group or a single token (`\frac12` = 1/2).
    mutating func parseArgument() throws -> MathExpression {
        guard let t = peek else { throw MathParseError.unexpectedEnd("an argument") }
        if t.isSymbol("{") {
            pos += 1
            let e = try parseSum()
            try expect("}")
            return e
        }
        if t.kind == .number, t.text.count > 1, t.text.allSatisfy(\.isASCIIDigitCharacter) {
            // LaTeX takes one digit: \frac12 → 1 over 2.
            tokens[pos].text = String(t.text.dropFirst())
            return try literal(String(t.text.first!))
        }
        return try parsePrimary()
    }

    mutating func parseSqrt() throws -> MathExpression {
        if consume("[") {
            let index = try parseSum()
            try expect("]")
            return .function("root", [index, try parseArgument()])
        }
        if let p = peek, p.isSymbol("(") { return .function("sqrt", [try parsePrimary()]) }
        return .function("sqrt", [try parseArgument()])
    }

    mutating func parseFunction(_ name: String) throws -> MathExpression {
        var base: MathExpression?
        var power: MathExpression?
        if name == "log" || name == "lg", consume("_") { base = try parseArgument() }
        if consume("^") { power = try parseExponent() }
        if base == nil, name == "log", consume("_") { base = try parseArgument() }
        let arg: MathExpression
        if let p = peek, p.isSymbol("(") {
            pos += 1
            arg = try parseSum()
            try expect(")")
        } else if let p = peek, p.isSymbol("{") {
            arg = try parsePrimary()
        } else {
            // \sin 2x = sin(2x): juxtaposed factors without explicit operators.
            var factors = [try parsePower()]
            while let p = peek, startsPrimary(p), p.kind != .function { factors.append(try parsePower()) }
            arg = factors.count == 1 ? factors[0] : .product(factors)
        }
        var f: MathExpression
        if let b = base { f = .function("log", [b, arg]) } else { f = .function(name == "lg" ? "log" : name, [arg]) }
        if let p = power {
            // \sin^{-1} x is arcsin x; \sin^2 x is (sin x)^2.
            if case .negation(let one) = p, case .number(let r, _) = one, r == .one,
                ["sin", "cos", "tan"].contains(name)
            {
                f = .function("arc" + name, [arg])
            } else {
                f = .power(f, p)
            }
        }
        return f
    }

    mutating func subscriptText() throws -> String {
        let t = try next()
        if t.isSymbol("{") {
            var parts: [String] = []
            while let p = peek, !p.isSymbol("}") {
                parts.append(p.text)
                pos += 1
            }
            try expect("}")
            return parts.joined()
        }
        if t.kind == .number { return String(t.text.prefix(1)) }
        return t.text
    }

    func literal(_ text: String) throws -> MathExpression {
        let bytes = Array(text.utf8)
        // Fast path: plain integers that fit in 64 bits.
        if bytes.count <= 18, bytes.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(text) {
            let significant = bytes.drop(while: { $0 == 48 }).count
            return .number(
                Rational(n), .init(text: text, decimals: 0, significantDigits: max(significant, 1), isDecimal: false))
        }
        let e = bytes.firstIndex(where: { $0 == 101 || $0 == 69 })  // e, E
        let exponent = e.flatMap { Int(String(decoding: bytes[($0 + 1)...], as: UTF8.self)) } ?? 0
        // A written exponent is a power of ten: it obeys the same bound as `^` (10^77777 would be computed exactly).
        if exponent.magnitude > budget.maxExponent { throw MathParseError.budgetExhausted }
        guard let value = Rational(decimal: text) else { throw MathParseError.unexpected(text, expected: "a number") }
        let mantissa = e.map { bytes[..<$0] } ?? bytes[...]
        let dot = mantissa.firstIndex(of: 46)
        // Decimal places of the value as written: 1.25 → 2, 1.5e3 → -2 (precision of hundreds).
        let decimals = (dot.map { mantissa.endIndex - $0 - 1 } ?? 0) - exponent
        let significant = mantissa.filter { $0 != 46 }.drop(while: { $0 == 48 }).count
        return .number(
            value,
            .init(
                text: text, decimals: decimals, significantDigits: max(significant, 1),
                isDecimal: (dot != nil || e != nil) && !bytes.contains(40)))  // "(": repeating decimals are exact
    }
}
