/// Parses a final answer (LaTeX or plain math) into a ``MathAnswer``: scalars with units, tuples,
/// sets, intervals, unions, relations, matrices, or plain text.
public struct AnswerParser: Sendable {
    /// Limits on the work one parse may do.
    public var budget: WorkBudget

    /// Makes a parser with the given budget.
    public init(budget: WorkBudget = WorkBudget()) { self.budget = budget }

    /// Parses `text`; throws ``VerifierError/unparseable(_:reason:)`` naming the text when it is not
    /// an answer this parser understands.
    public func parse(_ text: String) throws -> MathAnswer {
        var b = budget
        do { return try Self.parse(text, budget: &b) } catch let e as MathParseError {
            throw VerifierError.unparseable(text, reason: e.description)
        }
    }

    static let relationSymbols: [String: String] = [
        "=": "=", "<": "<", ">": ">", "<=": "<=", ">=": ">=", "!=": "!=",
    ]
    static let relationCommands: [String: String] = [
        "leq": "<=", "geq": ">=", "neq": "!=", "approx": "=", "equiv": "=", "lt": "<", "gt": ">", "<": "<",
        ">": ">", "leqq": "<=", "geqq": ">=",
    ]
    static let unitWords: Set<String> = [
        "cm", "m", "km", "mm", "kg", "g", "mg", "s", "sec", "min", "h", "hr", "ft", "in", "yd", "mi", "lb", "oz",
        "mph", "kph", "l", "ml", "mL", "L",
    ]

    /// Deepest bracket nesting accepted.
    static let maxNesting = 100
    static let separatorWords: Set<String> = ["or", "and", ",", "or,", "and,"]
    static let unitSymbols: Set<String> = ["^", "/", "{", "}", "*"]
    static let openers: Set<String> = ["(", "[", "{", "\\{"]
    static let closers: Set<String> = [")", "]", "}", "\\}"]

    static func relationOp(_ t: MathToken) -> String? {
        if t.kind == .symbol { return relationSymbols[t.text] }
        if t.kind == .command { return relationCommands[t.text] }
        return nil
    }

    static func normaliseText(_ s: String) -> String {
        String(s.lowercased().filter { $0.isLetter || $0.isNumber })
    }

    static func parse(_ text: String, budget: inout WorkBudget) throws -> MathAnswer {
        let raw = text.trimmedText()
        var tokens: [MathToken] = []
        for t in try MathLexer.tokenize(raw, budget: &budget) {
            guard t.kind == .text || t.kind == .word else {
                tokens.append(t)
                continue
            }
            let lower = t.text.lowercased().trimmedText()
            if Self.separatorWords.contains(lower) {
                tokens.append(MathToken(kind: .symbol, text: ","))
            } else if t.kind == .text, t.text.contains(where: \.isNumber) || lower == "e" {
                tokens += try MathLexer.tokenize(t.text, budget: &budget)
            } else if t.kind == .text, lower.isEmpty {
                continue
            } else {
                tokens.append(t)
            }
        }
        guard !tokens.isEmpty else { throw MathParseError.empty }
        var nesting = 0
        for t in tokens {
            if isOpener(t) || t.kind == .begin { nesting += 1 }
            if isCloser(t) || t.kind == .end { nesting -= 1 }
            if nesting > Self.maxNesting {
                throw MathParseError.unsupported("brackets nested deeper than \(Self.maxNesting)")
            }
        }
        let hasMath = tokens.contains { $0.kind == .number || $0.kind == .function || $0.kind == .command }
        let hasWords = tokens.contains { $0.kind == .text || ($0.kind == .word && !unitWords.contains($0.text)) }
        if hasWords && !hasMath { return .text(normaliseText(tokens.map(\.text).joined(separator: " "))) }
        // A trailing unit: `5\text{ cm}`, `12 dollars`, `3 m^2`.
        var unit: String?
        if var k = tokens.firstIndex(where: { $0.kind == .text || $0.kind == .word }), k > 0 {
            while k > 1, tokens[k - 1].isSymbol("{") { k -= 1 }
            let tail = tokens[k...]
            let unitLike = tail.allSatisfy {
                $0.kind == .text || $0.kind == .word || $0.kind == .identifier || $0.kind == .number
                    || Self.unitSymbols.contains($0.text) || $0.isCommand("cdot")
            }
            if unitLike {
                unit = tail.map(\.text).joined().trimmedText()
                tokens.removeSubrange(k...)
            }
        }
        if let u = unit, !u.isEmpty, tokens.count >= 1 {
            let inner = try parseTokens(tokens, budget: &budget)
            if case .scalar(let e, _) = inner { return .scalar(e, unit: u) }
            return inner
        }
        return try parseTokens(tokens, budget: &budget)
    }

    static func parseTokens(_ input: [MathToken], budget: inout WorkBudget) throws -> MathAnswer {
        var tokens = input
        if tokens.count >= 2, tokens[0].kind == .identifier, tokens[1].isCommand("in") { tokens.removeFirst(2) }
        guard !tokens.isEmpty else { throw MathParseError.empty }
        if tokens.count == 1, tokens[0].kind == .command, ["emptyset", "varnothing"].contains(tokens[0].text) {
            return .set([], bare: false)
        }
        let unions = try split(tokens) { $0.isCommand("cup") }
        if unions.count > 1 { return .union(try unions.map { try parsePart($0, budget: &budget) }) }
        return try parsePart(tokens, budget: &budget)
    }

    static func isOpener(_ t: MathToken) -> Bool {
        guard t.kind == .symbol else { return false }
        switch t.text {
        case "(", "[", "{", "\\{": return true  // ``openers``, without hashing
        default: return false
        }
    }
    static func isCloser(_ t: MathToken) -> Bool {
        guard t.kind == .symbol else { return false }
        switch t.text {
        case ")", "]", "}", "\\}": return true  // ``closers``
        default: return false
        }
    }

    /// Splits at top-level tokens matching `isSeparator`; throws on unbalanced brackets.
    static func split(_ tokens: [MathToken], _ isSeparator: (MathToken) -> Bool) throws -> [[MathToken]] {
        var parts: [[MathToken]] = [[]]
        var depth = 0
        for t in tokens {
            if t.kind == .begin { depth += 1 }
            if t.kind == .end { depth -= 1 }
            if isOpener(t) { depth += 1 }
            if isCloser(t) { depth -= 1 }
            if depth < 0 { throw MathParseError.unbalanced(t.text) }
            if depth == 0, isSeparator(t) { parts.append([]) } else { parts[parts.count - 1].append(t) }
        }
        if depth != 0 { throw MathParseError.unbalanced("bracket") }
        return parts
    }

    /// Index of the closer matching the opener at 0, or nil.
    static func matchingCloser(_ tokens: [MathToken]) -> Int? {
        var depth = 0
        for (i, t) in tokens.enumerated() {
            if isOpener(t) { depth += 1 }
            if isCloser(t) {
                depth -= 1
                if depth == 0 { return i }
            }
        }
        return nil
    }

    static func parsePart(_ tokens: [MathToken], budget: inout WorkBudget) throws -> MathAnswer {
        try budget.spend(tokens.count)
        guard let first = tokens.first, let last = tokens.last else { throw MathParseError.empty }
        if first.kind == .begin { return try parseMatrix(tokens, budget: &budget) }
        if isOpener(first), matchingCloser(tokens) == tokens.count - 1 {
            let inner = Array(tokens.dropFirst().dropLast())
            let parts = try split(inner) { $0.isSymbol(",") || $0.isSymbol(";") }
            if first.text == "\\{" || (first.text == "{" && parts.count > 1) {
                if inner.isEmpty { return .set([], bare: false) }
                return .set(try parts.map { try parsePart($0, budget: &budget) }, bare: false)
            }
            if parts.count > 1 {
                let elements = try parts.map { try parsePart($0, budget: &budget) }
                let intervalShape = first.text == "[" || last.text == "]" || first.text == "("
                if parts.count == 2, intervalShape, first.text != "{", case .scalar(let a, nil) = elements[0],
                    case .scalar(let b, nil) = elements[1], first.text != "(" || last.text != ")"
                {
                    return .interval(lower: a, upper: b, lowerClosed: first.text == "[", upperClosed: last.text == "]")
                }
                return .tuple(elements)
            }
            if first.text == "{" { return try parsePart(inner, budget: &budget) }
        }
        let commaParts = try split(tokens) { $0.isSymbol(",") || $0.isSymbol(";") }
        if commaParts.count > 1 {
            let nonEmpty = commaParts.filter { !$0.isEmpty }
            return .set(try nonEmpty.map { try parsePart($0, budget: &budget) }, bare: true)
        }
        var ops: [String] = []
        let segments = try split(tokens) { t in
            if let op = relationOp(t) {
                ops.append(op)
                return true
            }
            return false
        }
        if segments.count > 1 {
            let exprs = try segments.map { try parseScalar($0, budget: &budget) }
            if exprs.contains(where: \.containsPlusMinus), ops == ["="] {
                let values = exprs[1].expandingPlusMinus()
                return .set(values.map { .relation([exprs[0], $0], ops) }, bare: false)
            }
            return .relation(exprs, ops)
        }
        let e = try parseScalar(tokens, budget: &budget)
        if e.containsPlusMinus { return .set(e.expandingPlusMinus().map { .scalar($0, unit: nil) }, bare: false) }
        return .scalar(e, unit: nil)
    }

    static func parseScalar(_ tokens: [MathToken], budget: inout WorkBudget) throws -> MathExpression {
        guard !tokens.isEmpty else { throw MathParseError.empty }
        var parser = MathParser(tokens: tokens, budget: budget)
        let e = try parser.parseComplete()
        budget = parser.budget
        return e
    }

    /// `\begin{pmatrix} a & b \\ c & d \end{pmatrix}` (also bmatrix, matrix, array...).
    static func parseMatrix(_ tokens: [MathToken], budget: inout WorkBudget) throws -> MathAnswer {
        guard let last = tokens.last, last.kind == .end else { throw MathParseError.unbalanced("\\begin") }
        let inner = Array(tokens.dropFirst().dropLast())
        var rows: [[MathExpression]] = []
        for rowTokens in try split(inner, { $0.isSymbol("\\\\") }) where !rowTokens.isEmpty {
            rows.append(try split(rowTokens, { $0.isSymbol("&") }).map { try parseScalar($0, budget: &budget) })
        }
        guard let width = rows.first?.count, rows.allSatisfy({ $0.count == width }) else {
            throw MathParseError.unsupported("ragged matrix")
        }
        return .matrix(rows)
    }
}
