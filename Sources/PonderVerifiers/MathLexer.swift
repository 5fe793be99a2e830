/// One lexical token of LaTeX or plain math.
struct MathToken: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        /// A number literal, thousands separators removed.
        case number
        /// A single-letter (or Greek, or subscripted) variable name.
        case identifier
        /// A known function name (`sin`, `sqrt`, `log`, ...).
        case function
        /// A LaTeX command without its backslash (`frac`, `pi`, `leq`, ...).
        case command
        /// A run of two or more letters that is not a known name (a unit or a word).
        case word
        /// The content of `\text{...}` and friends.
        case text
        /// `\begin{env}` (text is the environment name).
        case begin
        /// `\end{env}`.
        case end
        /// Punctuation and operators: `+ - * / ^ _ ! % ° = < > <= >= != ( ) [ ] { } \{ \} , ; | & \\`.
        case symbol
    }
    var kind: Kind
    var text: String

    func isSymbol(_ s: String) -> Bool { kind == .symbol && text == s }
    func isCommand(_ s: String) -> Bool { kind == .command && text == s }
}

/// Normalises LaTeX spelling variants and splits text into tokens.
enum MathLexer {
    static let functionNames: Set<String> = [
        "sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "log", "ln", "exp", "sqrt", "abs", "lg", "floor", "ceil",
    ]
    static let greek: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota",
        "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi",
        "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega",
    ]

    /// Short English words that stay words (not products of variables).
    static let plainWords: Set<String> = [
        "or", "and", "the", "yes", "no", "odd", "not", "all", "any", "is", "are", "of", "to", "at", "by", "per", "for",
        "dne", "am", "pm", "non", "one", "two", "six", "ten", "so", "it", "we", "be", "an", "as", "if", "on", "up",
        "few", "way", "may", "can", "has", "had", "was", "its", "but", "get", "got", "set", "let", "use", "red", "big",
        "new", "old", "own", "day", "men", "man", "boy", "sum", "max", "min", "mod", "gcd", "lcm", "deg", "rad",
    ]

    /// Textual rewrites applied before tokenising, in order.
    static let rewrites: [(String, String)] = [
        ("\\left.", ""), ("\\right.", ""), ("\\left\\{", "\\{"), ("\\right\\}", "\\}"), ("\\left", ""),
        ("\\right", ""), ("\\bigl", ""), ("\\bigr", ""), ("\\Bigl", ""), ("\\Bigr", ""), ("\\big", ""),
        ("\\Big", ""), ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"),
        ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"), ("\\displaystyle", ""), ("\\limits", ""),
        ("{,}", ""), (",\\! ", ","), (",\\!", ","), ("\\!", ""), ("\\qquad", " "), (" pct", "%"), ("\\,", " "),
        ("\\quad", " "), ("~", " "), ("\\$", ""), ("$", ""), ("\\%", "%"), ("^{\\circ}", "°"), ("^\\circ", "°"),
        ("\\circ", "°"), ("\\degree", "°"), ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\langle", "("),
        ("\\rangle", ")"), ("\\lvert", "|"), ("\\rvert", "|"), ("\\vert", "|"), ("\\mid", "|"),
        ("\\lfloor", "\\floor("), ("\\rfloor", ")"), ("\\lceil", "\\ceil("), ("\\rceil", ")"),
        ("\\dots", ""), ("\\ldots", ""), ("\\cdots", ""),
        ("−", "-"), ("–", "-"), ("×", "\\times "), ("·", "\\cdot "), ("÷", "\\div "), ("π", "\\pi "),
        ("∞", "\\infty "), ("√", "\\sqrt "), ("≤", "\\leq "), ("≥", "\\geq "), ("≠", "\\neq "), ("±", "\\pm "),
        ("∪", "\\cup "), ("∩", "\\cap "), ("⩽", "\\leq "), ("⩾", "\\geq "), ("**", "^"), ("\\ge ", "\\geq "),
        ("\\le ", "\\leq "),
    ]

    static let dropCommands: Set<String> = [
        "mathrm", "mathbf", "textbf", "boldsymbol", "mathit", "mathsf", "operatorname", "mathnormal", "bf", "rm",
        "it", "emph", "hline", "bm", "mathbb", "mathcal", "underline", "overline", "boxed", "fbox", "mathbin",
        "textstyle", "scriptstyle", "phantom", "hspace", "vspace", "hphantom", "vphantom", "noindent", "newline",
    ]

    static let commandAliases: [String: String] = [
        "ge": "geq", "le": "leq", "geqslant": "geq", "leqslant": "leq", "ne": "neq", "lt": "<", "gt": ">",
        "dfrac": "frac", "tfrac": "frac", "infin": "infty", "varnothing": "emptyset",
    ]

    /// Rewrites bucketed by first scalar, longest first, for a single left-to-right pass.
    static let rewriteIndex: [Unicode.Scalar: [(from: [Unicode.Scalar], to: String)]] = {
        var index: [Unicode.Scalar: [(from: [Unicode.Scalar], to: String)]] = [:]
        for (from, to) in rewrites {
            let scalars = Array(from.unicodeScalars)
            index[scalars[0], default: []].append((scalars, to))
        }
        return index.mapValues { $0.sorted { $0.from.count > $1.from.count } }
    }()

    static let asciiRewriteStart: [Bool] = (0..<128).map { v in rewriteIndex[Unicode.Scalar(UInt8(v))] != nil }

    /// Applies ``rewrites`` in one pass (the longest rewrite starting at each position wins).
    static func normalise(_ input: String) -> String {
        let scalars = Array(input.unicodeScalars)
        guard scalars.contains(where: { $0.value < 128 ? asciiRewriteStart[Int($0.value)] : rewriteIndex[$0] != nil })
        else {
            return input
        }
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            let v = scalars[i].value
            if v < 128 ? asciiRewriteStart[Int(v)] : true, let bucket = rewriteIndex[scalars[i]],
                let m = bucket.first(where: { r in
                    i + r.from.count <= scalars.count && scalars[i..<(i + r.from.count)].elementsEqual(r.from)
                })
            {
                out.append(contentsOf: m.to.unicodeScalars)
                i += m.from.count
            } else {
                out.append(scalars[i])
                i += 1
            }
        }
        return String(out)
    }

    /// Tokenises `input`; throws when a brace group is unbalanced or the input is too long.
    static func tokenize(_ input: String, budget: inout WorkBudget) throws -> [MathToken] {
        guard input.utf8.count <= budget.maxInputLength else {
            throw MathParseError.tooLong(input.utf8.count, limit: budget.maxInputLength)
        }
        let chars = Array(normalise(input))
        var tokens: [MathToken] = []
        var i = 0
        func isDigit(_ c: Character) -> Bool {
            guard let a = c.asciiValue else { return false }
            return a >= 48 && a <= 57
        }
        func isLetter(_ c: Character) -> Bool {
            guard let a = c.asciiValue else { return false }
            return (a >= 65 && a <= 90) || (a >= 97 && a <= 122)
        }
        func readGroup() throws -> String {
            // Reads a `{...}` group starting at chars[i] (after skipping spaces), returns its raw content.
            while i < chars.count, chars[i] == " " { i += 1 }
            guard i < chars.count, chars[i] == "{" else {
                if i < chars.count {
                    i += 1
                    return String(chars[i - 1])
                }
                throw MathParseError.unexpectedEnd("a {...} group")
            }
            var depth = 0
            let start = i + 1
            while i < chars.count {
                if chars[i] == "\\" {
                    i += 2
                    continue
                }
                if chars[i] == "{" { depth += 1 }
                if chars[i] == "}" {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return String(chars[start..<(i - 1)])
                    }
                }
                i += 1
            }
            throw MathParseError.unbalanced("{")
        }
        while i < chars.count {
            try budget.spend(1)
            let c = chars[i]
            if c == " " || (c.asciiValue == nil ? c.isWhitespace : c == "\n" || c == "\t" || c == "\r") {
                i += 1
                continue
            }
            if isDigit(c) || (c == "." && i + 1 < chars.count && isDigit(chars[i + 1])) {
                var text = ""
                var groupCount = 0
                while i < chars.count, isDigit(chars[i]) {
                    text.append(chars[i])
                    i += 1
                    groupCount += 1
                }
                // Thousands separators: 1,000 or 12,345,678 (exactly three digits after each comma);
                // also a space or thin space (`1 000`, `1\\,000`, `16,\\!386`) between groups of three.
                if groupCount <= 3 {
                    func isSeparator(_ c: Character) -> Bool {
                        c == "," || c == " " || c == "\u{2009}" || c == "\u{202F}" || c == "\u{00A0}"
                    }
                    while i + 3 < chars.count, isSeparator(chars[i]), isDigit(chars[i + 1]), isDigit(chars[i + 2]),
                        isDigit(chars[i + 3]), i + 4 >= chars.count || !isDigit(chars[i + 4])
                    {
                        text += String(chars[(i + 1)...(i + 3)])
                        i += 4
                    }
                }
                if i + 1 < chars.count, chars[i] == ".", isDigit(chars[i + 1]) {
                    text.append(".")
                    i += 1
                    while i < chars.count, isDigit(chars[i]) {
                        text.append(chars[i])
                        i += 1
                    }
                }
                // Repeating decimal: 0.\overline{3}, 0.1\overline{6} → "0.(3)", "0.1(6)".
                do {
                    var j = i
                    var hasDot = text.contains(Character("."))
                    if !hasDot, j < chars.count, chars[j] == "." {
                        j += 1
                        hasDot = true
                    }
                    let overline = Array("\\overline")
                    if hasDot, j + overline.count < chars.count, Array(chars[j..<(j + overline.count)]) == overline {
                        var k = j + overline.count
                        while k < chars.count, chars[k] == " " { k += 1 }
                        if k < chars.count, chars[k] == "{", let close = chars[k...].firstIndex(of: "}"),
                            close > k + 1, chars[(k + 1)..<close].allSatisfy(isDigit)
                        {
                            text =
                                (text.contains(Character(".")) ? text : text + ".") + "("
                                + String(chars[(k + 1)..<close]) + ")"
                            i = close + 1
                        }
                    }
                }
                // Scientific notation: 1.5e-3, 2E10 (an `e` followed by digits).
                if i + 1 < chars.count, chars[i] == "e" || chars[i] == "E" {
                    var j = i + 1
                    if j < chars.count, chars[j] == "-" || chars[j] == "+" { j += 1 }
                    if j < chars.count, isDigit(chars[j]) {
                        var k = j
                        while k < chars.count, isDigit(chars[k]) { k += 1 }
                        if k >= chars.count || !isLetter(chars[k]) {
                            text += "e" + String(chars[(i + 1)..<k])
                            i = k
                        }
                    }
                }
                tokens.append(MathToken(kind: .number, text: text))
                continue
            }
            if c == "\\" {
                guard i + 1 < chars.count else {
                    i += 1
                    continue
                }
                let n = chars[i + 1]
                if !isLetter(n) {
                    i += 2
                    switch n {
                    case "{": tokens.append(MathToken(kind: .symbol, text: "\\{"))
                    case "}": tokens.append(MathToken(kind: .symbol, text: "\\}"))
                    case "\\": tokens.append(MathToken(kind: .symbol, text: "\\\\"))
                    case "(", ")", "[", "]": break  // math delimiters \( \) \[ \]
                    case "|": tokens.append(MathToken(kind: .symbol, text: "|"))
                    default: break
                    }
                    continue
                }
                var name = ""
                i += 1
                while i < chars.count, isLetter(chars[i]) {
                    name.append(chars[i])
                    i += 1
                }
                name = commandAliases[name] ?? name
                switch name {
                case "text", "textrm", "mbox", "textnormal", "textit", "texttt", "textsf", "hbox":
                    tokens.append(MathToken(kind: .text, text: try readGroup()))
                case "begin", "end":
                    let env = try readGroup()
                    tokens.append(MathToken(kind: name == "begin" ? .begin : .end, text: env))
                    if name == "begin", env == "array" { _ = try readGroup() }
                case "<", ">": tokens.append(MathToken(kind: .symbol, text: name))
                case _ where dropCommands.contains(name): break
                case _ where functionNames.contains(name): tokens.append(MathToken(kind: .function, text: name))
                case _ where greek.contains(name):
                    tokens.append(MathToken(kind: .identifier, text: name))
                default: tokens.append(MathToken(kind: .command, text: name))
                }
                continue
            }
            if isLetter(c) {
                var word = ""
                while i < chars.count, isLetter(chars[i]) {
                    word.append(chars[i])
                    i += 1
                }
                if word.count == 1 {
                    tokens.append(MathToken(kind: .identifier, text: word))
                } else if functionNames.contains(word) {
                    tokens.append(MathToken(kind: .function, text: word))
                } else if ["pi", "infty", "infinity", "inf", "oo"].contains(word) {
                    tokens.append(MathToken(kind: .command, text: word == "pi" ? "pi" : "infty"))
                } else if word.count <= 3, !plainWords.contains(word.lowercased()),
                    !AnswerParser.unitWords.contains(word)
                {
                    // Juxtaposed variables in math: `xy`, `abc`.
                    for ch in word { tokens.append(MathToken(kind: .identifier, text: String(ch))) }
                } else {
                    tokens.append(MathToken(kind: .word, text: word))
                }
                continue
            }
            i += 1
            let two = i < chars.count ? String([c, chars[i]]) : ""
            if ["<=", ">=", "!=", "=>", "==", "=<"].contains(two) {
                i += 1
                let t = two == "=>" ? ">=" : two == "==" ? "=" : two == "=<" ? "<=" : two
                tokens.append(MathToken(kind: .symbol, text: t))
                continue
            }
            switch c {
            case "{", "}", "(", ")", "[", "]", "+", "-", "*", "/", "^", "_", "!", "%", "°", "=", "<", ">", ",", ";",
                "|", "&", "'", ":":
                tokens.append(MathToken(kind: .symbol, text: String(c)))
            case "\u{2032}": tokens.append(MathToken(kind: .symbol, text: "'"))
            default:
                if c.isLetter {
                    tokens.append(MathToken(kind: .word, text: String(c)))
                }  // other characters (quotes, stray punctuation) are dropped
            }
        }
        return tokens
    }
}

extension String {
    /// Replaces every occurrence of `target` (literal, non-overlapping, left to right).
    ///
    /// Matches UTF-8 bytes, which for valid UTF-8 is matching Unicode scalars (a match cannot start inside a
    /// multi-byte character); unlike `Character` matching it also finds `e` in a decomposed `é`. Fast: no searcher
    /// set-up, and the string is returned as it is when `target` does not occur.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, hasText(target) else { return self }
        let t = Array(target.utf8)
        let r = Array(replacement.utf8)
        var copy = self
        return copy.withUTF8 { a in
            var out: [UInt8] = []
            out.reserveCapacity(a.count)
            var i = 0
            while i < a.count {
                if let at = Self.firstOffset(of: t, in: a, from: i) {
                    out.append(contentsOf: a[i..<at])
                    out.append(contentsOf: r)
                    i = at + t.count
                } else {
                    out.append(contentsOf: a[i...])
                    break
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// Whether `target` occurs in the string, compared as UTF-8 bytes (see ``replacingAll(_:with:)``); much cheaper
    /// than Foundation's `contains`, which sets up a locale-aware search.
    func hasText(_ target: String) -> Bool {
        if target.isEmpty { return true }
        var copy = self
        var t = target
        return copy.withUTF8 { a in t.withUTF8 { Self.firstOffset(of: $0, in: a, from: 0) != nil } }
    }

    /// The first byte offset at or after `start` where `t` occurs in `a`.
    static func firstOffset<T: RandomAccessCollection<UInt8>>(of t: T, in a: UnsafeBufferPointer<UInt8>, from start: Int)
        -> Int? where T.Index == Int
    {
        guard let first = t.first, a.count >= t.count else { return nil }
        var i = start
        let last = a.count - t.count
        while i <= last {
            if a[i] == first {
                var k = 1
                while k < t.count && a[i + k] == t[t.startIndex + k] { k += 1 }
                if k == t.count { return i }
            }
            i += 1
        }
        return nil
    }
}
