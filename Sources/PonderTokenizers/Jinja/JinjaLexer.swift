/// One token of a Jinja template.
struct JinjaToken: Sendable {
    enum Kind: Sendable, Equatable {
        case text, variableBegin, variableEnd, blockBegin, blockEnd, name, string, integer, float, op, eof
    }

    var kind: Kind
    /// The text of a `text` token, a name, a string's decoded contents, a number's digits or an operator.
    var value: String
    var line: Int
}

/// Splits a template into tokens as jinja2's lexer does with the settings transformers uses for chat templates:
/// `trim_blocks=True` (the first newline after a block or comment tag is dropped), `lstrip_blocks=True` (spaces and
/// tabs before a block or comment tag at the start of a line are dropped), `keep_trailing_newline=False` (one newline
/// at the end of the template is dropped), and `-`/`+` whitespace control on either side of a tag.
struct JinjaLexer {
    private let s: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var tokens: [JinjaToken] = []

    init(_ source: String) {
        // Newlines normalised to "\n", then one trailing newline dropped (jinja2's tokeniter).
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(source.unicodeScalars.count)
        var previousCR = false
        for u in source.unicodeScalars {
            if u == "\r" {
                scalars.append("\n")
                previousCR = true
                continue
            }
            if u == "\n" && previousCR {
                previousCR = false
                continue
            }
            previousCR = false
            scalars.append(u)
        }
        if scalars.last == "\n" { scalars.removeLast() }
        s = scalars
    }

    static func tokenize(_ source: String) throws -> [JinjaToken] {
        var lexer = JinjaLexer(source)
        try lexer.run()
        return lexer.tokens
    }

    private func at(_ i: Int) -> Unicode.Scalar? { i < s.count ? s[i] : nil }

    private func matches(_ literal: String, at i: Int) -> Bool {
        var k = i
        for u in literal.unicodeScalars {
            guard k < s.count, s[k] == u else { return false }
            k += 1
        }
        return true
    }

    private mutating func emit(_ kind: JinjaToken.Kind, _ value: String, line: Int) {
        tokens.append(JinjaToken(kind: kind, value: value, line: line))
    }

    private static func string(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    private mutating func run() throws {
        var lineStarting = true
        while pos < s.count {
            // The next tag opening: `{{`, `{%` or `{#`.
            var i = pos
            var kind: Unicode.Scalar? = nil
            while i + 1 < s.count {
                if s[i] == "{", s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#" {
                    kind = s[i + 1]
                    break
                }
                i += 1
            }
            guard let kind else {
                emit(.text, Self.string(s[pos...]), line: line)
                return
            }
            var text = s[pos..<i]
            let textLine = line
            for u in text where u == "\n" { line += 1 }
            let sign = at(i + 2).flatMap { $0 == "-" || $0 == "+" ? $0 : nil }
            if sign == "-" {
                while let last = text.last, JinjaText.isSpace(last) { text = text.dropLast() }
            } else if sign != "+" && kind != "{" {
                // lstrip_blocks: drop the spaces before a block or comment tag that starts its line.
                let lineStart = text.lastIndex(of: "\n").map { $0 + 1 } ?? text.startIndex
                if lineStart > text.startIndex || lineStarting {
                    let tail = text[lineStart...]
                    if !tail.isEmpty && tail.allSatisfy(JinjaText.isSpace) { text = text[..<lineStart] }
                }
            }
            if !text.isEmpty { emit(.text, Self.string(text), line: textLine) }
            pos = i + 2 + (sign == nil ? 0 : 1)
            switch kind {
            case "#":
                lineStarting = try skipComment()
            case "{":
                emit(.variableBegin, "{{", line: line)
                lineStarting = try lexInside(block: false)
            default:
                emit(.blockBegin, "{%", line: line)
                lineStarting = try lexInside(block: true)
            }
        }
    }

    /// Skips a comment's text and its closing tag; returns whether what was consumed ended with a newline.
    private mutating func skipComment() throws -> Bool {
        let startLine = line
        var i = pos
        while i < s.count {
            if matches("+#}", at: i) {
                advance(to: i + 3)
                return false
            }
            if matches("-#}", at: i) {
                var j = i + 3
                while j < s.count, JinjaText.isSpace(s[j]) { j += 1 }
                advance(to: j)
                return s[j - 1] == "\n"
            }
            if matches("#}", at: i) {
                var j = i + 2
                if at(j) == "\n" { j += 1 }
                advance(to: j)
                return s[j - 1] == "\n"
            }
            i += 1
        }
        throw JinjaError(.syntax, "Missing end of comment tag", line: startLine)
    }

    private mutating func advance(to j: Int) {
        for k in pos..<j where s[k] == "\n" { line += 1 }
        pos = j
    }

    /// Lexes the expression tokens of a `{{ }}` or `{% %}` tag and its closing; returns whether what was consumed
    /// last ended with a newline.
    private mutating func lexInside(block: Bool) throws -> Bool {
        let startLine = line
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < s.count else {
                throw JinjaError(
                    .syntax, "unexpected end of template, expected '\(block ? "end of statement block" : "end of print statement")'",
                    line: startLine)
            }
            if balance.isEmpty {
                if block {
                    if matches("+%}", at: pos) {
                        emit(.blockEnd, "%}", line: line)
                        advance(to: pos + 3)
                        return false
                    }
                    if matches("-%}", at: pos) {
                        emit(.blockEnd, "%}", line: line)
                        var j = pos + 3
                        while j < s.count, JinjaText.isSpace(s[j]) { j += 1 }
                        advance(to: j)
                        return s[j - 1] == "\n"
                    }
                    if matches("%}", at: pos) {
                        emit(.blockEnd, "%}", line: line)
                        var j = pos + 2
                        if at(j) == "\n" { j += 1 }
                        advance(to: j)
                        return s[j - 1] == "\n"
                    }
                } else {
                    if matches("-}}", at: pos) {
                        emit(.variableEnd, "}}", line: line)
                        var j = pos + 3
                        while j < s.count, JinjaText.isSpace(s[j]) { j += 1 }
                        advance(to: j)
                        return s[j - 1] == "\n"
                    }
                    if matches("}}", at: pos) {
                        emit(.variableEnd, "}}", line: line)
                        advance(to: pos + 2)
                        return false
                    }
                }
            }
            let c = s[pos]
            if JinjaText.isSpace(c) {
                var j = pos
                while j < s.count, JinjaText.isSpace(s[j]) { j += 1 }
                advance(to: j)
                continue
            }
            if ("0"..."9").contains(c) {
                lexNumber()
                continue
            }
            if c == "_" || c.properties.isXIDStart {
                var j = pos + 1
                while j < s.count, s[j] == "_" || s[j].properties.isXIDContinue { j += 1 }
                emit(.name, Self.string(s[pos..<j]), line: line)
                pos = j
                continue
            }
            if c == "'" || c == "\"" {
                try lexString(quote: c)
                continue
            }
            // Operators, longest first.
            var op: String? = nil
            for candidate in ["//", "**", "==", "!=", ">=", "<="] where matches(candidate, at: pos) {
                op = candidate
                break
            }
            if op == nil, "+-/*%~[](){}><=.:|,;".unicodeScalars.contains(c) { op = String(c) }
            guard let op else { throw JinjaError(.syntax, "unexpected char '\(c)'", line: line) }
            switch op {
            case "(": balance.append(")")
            case "[": balance.append("]")
            case "{": balance.append("}")
            case ")", "]", "}":
                guard let expected = balance.popLast() else { throw JinjaError(.syntax, "unexpected '\(op)'", line: line) }
                if String(expected) != op { throw JinjaError(.syntax, "unexpected '\(op)', expected '\(expected)'", line: line) }
            default: break
            }
            emit(.op, op, line: line)
            pos += op.unicodeScalars.count
        }
    }

    private func isDigit(_ i: Int) -> Bool { at(i).map { ("0"..."9").contains($0) } ?? false }

    /// Digits with `_` separators from `i`; returns the end.
    private func digits(from i: Int) -> Int {
        var j = i
        while isDigit(j) || (at(j) == "_" && isDigit(j + 1) && j > i) { j += 1 }
        return j
    }

    private mutating func lexNumber() {
        let start = pos
        var j = digits(from: pos)
        var isFloat = false
        if at(j) == ".", isDigit(j + 1) {
            j = digits(from: j + 1)
            isFloat = true
        }
        if at(j) == "e" || at(j) == "E" {
            var k = j + 1
            if at(k) == "+" || at(k) == "-" { k += 1 }
            if isDigit(k) {
                j = digits(from: k)
                isFloat = true
            }
        }
        let text = Self.string(s[start..<j]).replacingOccurrences(of: "_", with: "")
        emit(isFloat ? .float : .integer, text, line: line)
        pos = j
    }

    /// A string literal, decoded as Python's `unicode-escape` does (jinja2 decodes literals that way).
    private mutating func lexString(quote: Unicode.Scalar) throws {
        let startLine = line
        var out = String.UnicodeScalarView()
        var j = pos + 1
        while true {
            guard j < s.count else { throw JinjaError(.syntax, "unexpected char '\(quote)'", line: startLine) }
            let c = s[j]
            if c == quote { break }
            if c != "\\" {
                out.append(c)
                j += 1
                continue
            }
            guard j + 1 < s.count else { throw JinjaError(.syntax, "unexpected char '\(quote)'", line: startLine) }
            let e = s[j + 1]
            j += 2
            switch e {
            case "\n": break
            case "\\": out.append("\\")
            case "'": out.append("'")
            case "\"": out.append("\"")
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "x", "u", "U":
                let n = e == "x" ? 2 : e == "u" ? 4 : 8
                var value: UInt32 = 0
                for k in 0..<n {
                    guard let h = at(j + k), let d = UInt32(String(h), radix: 16) else {
                        throw JinjaError(.syntax, "truncated \\\(e) escape in a string", line: startLine)
                    }
                    value = value << 4 | d
                }
                j += n
                guard let scalar = Unicode.Scalar(value) else {
                    throw JinjaError(.syntax, "invalid \\\(e) escape in a string", line: startLine)
                }
                out.append(scalar)
            case "0"..."7":
                var value = e.value - 48
                var k = 0
                while k < 2, let d = at(j), ("0"..."7").contains(d) {
                    value = value * 8 + d.value - 48
                    j += 1
                    k += 1
                }
                out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                out.append("\\")
                out.append(e)
            }
        }
        advance(to: j + 1)
        emit(.string, String(out), line: startLine)
    }
}

/// Python's notion of whitespace (`str.isspace`, regex `\s`).
enum JinjaText {
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        u.properties.isWhitespace || (0x1C...0x1F).contains(u.value)
    }
}
