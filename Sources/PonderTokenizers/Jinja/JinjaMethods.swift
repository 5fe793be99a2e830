import Foundation

/// Python's string operations on code points (not grapheme clusters: `len`, indices and `==` count code points).
enum JinjaStrings {
    typealias Scalars = [Unicode.Scalar]

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    static func find(_ hay: Scalars, _ needle: Scalars, from start: Int) -> Int? {
        if needle.isEmpty { return start <= hay.count ? start : nil }
        guard hay.count >= needle.count else { return nil }
        var i = max(0, start)
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func rfind(_ hay: Scalars, _ needle: Scalars) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = hay.count - needle.count
        while i >= 0 {
            if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i -= 1
        }
        return nil
    }

    /// `str.split(sep, maxsplit)`; `sep == nil` splits on runs of whitespace and drops empty pieces.
    static func split(_ s: String, _ sep: String?, _ maxsplit: Int) throws -> [String] {
        let hay = Array(s.unicodeScalars)
        var parts: [String] = []
        guard let sep else {
            var i = 0
            var splits = 0
            while true {
                while i < hay.count, JinjaText.isSpace(hay[i]) { i += 1 }
                if i >= hay.count { break }
                if maxsplit >= 0 && splits >= maxsplit {
                    var end = hay.count
                    while end > i, JinjaText.isSpace(hay[end - 1]) { end -= 1 }
                    parts.append(string(hay[i..<end]))
                    break
                }
                let start = i
                while i < hay.count, !JinjaText.isSpace(hay[i]) { i += 1 }
                parts.append(string(hay[start..<i]))
                splits += 1
            }
            return parts
        }
        let needle = Array(sep.unicodeScalars)
        guard !needle.isEmpty else { throw JinjaError(.runtime, "empty separator") }
        var start = 0
        while maxsplit < 0 || parts.count < maxsplit, let j = find(hay, needle, from: start) {
            parts.append(string(hay[start..<j]))
            start = j + needle.count
        }
        parts.append(string(hay[start...]))
        return parts
    }

    /// `str.rsplit(sep, maxsplit)`.
    static func rsplit(_ s: String, _ sep: String?, _ maxsplit: Int) throws -> [String] {
        if maxsplit < 0 { return try split(s, sep, maxsplit) }
        let reversed = string(s.unicodeScalars.reversed())
        let reversedSep = sep.map { string($0.unicodeScalars.reversed()) }
        return try split(reversed, reversedSep, maxsplit).reversed().map { string($0.unicodeScalars.reversed()) }
    }

    /// `str.strip(chars)` (`chars == nil`: whitespace), from the left, the right or both.
    static func strip(_ s: String, _ chars: String?, left: Bool = true, right: Bool = true) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let strip: (Unicode.Scalar) -> Bool = { u in set.map { $0.contains(u) } ?? JinjaText.isSpace(u) }
        var scalars = s.unicodeScalars[...]
        if left { while let f = scalars.first, strip(f) { scalars = scalars.dropFirst() } }
        if right { while let l = scalars.last, strip(l) { scalars = scalars.dropLast() } }
        return string(scalars)
    }

    static func replace(_ s: String, _ old: String, _ new: String, _ count: Int) -> String {
        let hay = Array(s.unicodeScalars)
        let needle = Array(old.unicodeScalars)
        let replacement = Array(new.unicodeScalars)
        var out: Scalars = []
        var start = 0
        var done = 0
        if needle.isEmpty {
            // Python inserts the replacement around every character.
            for (k, u) in hay.enumerated() {
                if count < 0 || done < count {
                    out += replacement
                    done += 1
                }
                out.append(u)
                if k == hay.count - 1, count < 0 || done < count { out += replacement }
            }
            if hay.isEmpty && count != 0 { out = replacement }
            return string(out)
        }
        while count < 0 || done < count, let j = find(hay, needle, from: start) {
            out += hay[start..<j]
            out += replacement
            start = j + needle.count
            done += 1
        }
        out += hay[start...]
        return string(out)
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    /// `str.capitalize()`: the first character upper-cased, the rest lower-cased.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + string(s.unicodeScalars.dropFirst()).lowercased()
    }

    /// `str.title()`: upper-case after a non-letter, lower-case after a letter.
    static func pythonTitle(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for u in s.unicodeScalars {
            let cased = u.properties.isCased
            out += previousCased ? String(u).lowercased() : u.properties.titlecaseMapping
            previousCased = cased || (previousCased && u.properties.isCaseIgnorable)
        }
        return out
    }

    /// jinja2's `title` filter: words split on runs of `-`, whitespace, `(`, `{`, `[`, `<`.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var wordStart = true
        for u in s.unicodeScalars {
            let separator = JinjaText.isSpace(u) || "-({[<".unicodeScalars.contains(u)
            if separator {
                out.unicodeScalars.append(u)
                wordStart = true
            } else {
                out += wordStart ? String(u).uppercased() : String(u).lowercased()
                wordStart = false
            }
        }
        return out
    }
}

/// Methods templates call on values: `str`'s, `dict`'s (`items`, `get`...) and `list`'s read-only ones. Mutating
/// methods are absent, as in transformers' `ImmutableSandboxedEnvironment`.
enum JinjaMethods {
    static func method(_ obj: JValue, _ name: String, _ interpreter: JinjaInterpreter) -> JValue? {
        let body: ((JinjaCallArguments) throws -> JValue)?
        switch obj {
        case .string(let s): body = stringMethod(s, name)
        case .dict(let d): body = dictMethod(d, name)
        case .list(let items), .tuple(let items): body = listMethod(items, name)
        default: body = nil
        }
        return body.map { .function(JinjaFunction(name, $0)) }
    }

    static func string(_ v: JValue?, _ what: String) throws -> String? {
        guard let v else { return nil }
        switch v {
        case .none: return nil
        case .string(let s): return s
        default: throw JinjaError(.runtime, "\(what) must be str or None, not \(v.typeName)")
        }
    }

    static func int(_ v: JValue?, _ defaultValue: Int) throws -> Int {
        guard let v else { return defaultValue }
        if case .none = v { return defaultValue }
        guard let n = v.integer else { throw JinjaError(.runtime, "'\(v.typeName)' object cannot be interpreted as an integer") }
        return n
    }

    private static func stringMethod(_ s: String, _ name: String) -> ((JinjaCallArguments) throws -> JValue)? {
        switch name {
        case "startswith", "endswith":
            return { args in
                guard let arg = args.get(0, "prefix") else { throw JinjaError(.runtime, "\(name)() takes at least 1 argument (0 given)") }
                var candidates: [JValue]
                switch arg {
                case .tuple(let items), .list(let items): candidates = items
                default: candidates = [arg]
                }
                let scalars = Array(s.unicodeScalars)
                for c in candidates {
                    guard case .string(let p) = c else {
                        throw JinjaError(.runtime, "\(name) first arg must be str or a tuple of str, not \(c.typeName)")
                    }
                    let ps = Array(p.unicodeScalars)
                    if name == "startswith" ? scalars.starts(with: ps) : scalars.reversed().starts(with: ps.reversed()) {
                        return .bool(true)
                    }
                }
                return .bool(false)
            }
        case "split", "rsplit":
            return { args in
                let sep = try string(args.get(0, "sep"), "sep")
                let maxsplit = try int(args.get(1, "maxsplit"), -1)
                let parts = name == "split" ? try JinjaStrings.split(s, sep, maxsplit) : try JinjaStrings.rsplit(s, sep, maxsplit)
                return .list(parts.map(JValue.string))
            }
        case "strip", "lstrip", "rstrip":
            return { args in
                let chars = try string(args.get(0, "chars"), "\(name) arg")
                return .string(JinjaStrings.strip(s, chars, left: name != "rstrip", right: name != "lstrip"))
            }
        case "upper": return { _ in .string(JinjaStrings.upper(s)) }
        case "lower": return { _ in .string(JinjaStrings.lower(s)) }
        case "title": return { _ in .string(JinjaStrings.pythonTitle(s)) }
        case "capitalize": return { _ in .string(JinjaStrings.capitalize(s)) }
        case "replace":
            return { args in
                guard case .string(let old)? = args.get(0, "old"), case .string(let new)? = args.get(1, "new") else {
                    throw JinjaError(.runtime, "replace() arguments must be str")
                }
                return .string(JinjaStrings.replace(s, old, new, try int(args.get(2, "count"), -1)))
            }
        case "find", "rfind", "index", "rindex", "count":
            return { args in
                guard case .string(let sub)? = args.get(0, "sub") else { throw JinjaError(.runtime, "\(name)() argument must be str") }
                let hay = Array(s.unicodeScalars)
                let needle = Array(sub.unicodeScalars)
                if name == "count" {
                    if needle.isEmpty { return .int(hay.count + 1) }
                    var n = 0
                    var start = 0
                    while let j = JinjaStrings.find(hay, needle, from: start) {
                        n += 1
                        start = j + needle.count
                    }
                    return .int(n)
                }
                let found = name.hasPrefix("r") ? JinjaStrings.rfind(hay, needle) : JinjaStrings.find(hay, needle, from: 0)
                if found == nil && name.hasSuffix("index") { throw JinjaError(.runtime, "substring not found") }
                return .int(found ?? -1)
            }
        case "join":
            return { args in
                guard let iterable = args.get(0, "iterable") else { throw JinjaError(.runtime, "join() takes exactly one argument") }
                var items: [JValue]
                switch iterable {
                case .list(let l), .tuple(let l): items = l
                case .dict(let d): items = d.keys.map(JValue.string)
                case .string(let t): items = t.unicodeScalars.map { .string(String($0)) }
                default: throw JinjaError(.runtime, "can only join an iterable")
                }
                return .string(
                    try items.map { item -> String in
                        guard case .string(let t) = item else {
                            throw JinjaError(.runtime, "sequence item: expected str instance, \(item.typeName) found")
                        }
                        return t
                    }.joined(separator: s))
            }
        case "splitlines":
            return { _ in
                var lines: [JValue] = []
                var current = String.UnicodeScalarView()
                var previousCR = false
                for u in s.unicodeScalars {
                    if u == "\n" && previousCR {
                        previousCR = false
                        continue
                    }
                    previousCR = u == "\r"
                    if "\n\r\u{0B}\u{0C}\u{1C}\u{1D}\u{1E}\u{85}\u{2028}\u{2029}".unicodeScalars.contains(u) {
                        lines.append(.string(String(current)))
                        current = String.UnicodeScalarView()
                    } else {
                        current.append(u)
                    }
                }
                if !current.isEmpty { lines.append(.string(String(current))) }
                return .list(lines)
            }
        case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower":
            return { _ in
                let scalars = s.unicodeScalars
                guard !scalars.isEmpty else { return .bool(false) }
                switch name {
                case "isdigit":
                    return .bool(scalars.allSatisfy { $0.properties.numericType != nil && $0.properties.numericType != .numeric })
                case "isalpha": return .bool(scalars.allSatisfy { $0.properties.isAlphabetic })
                case "isalnum": return .bool(scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
                case "isspace": return .bool(scalars.allSatisfy(JinjaText.isSpace))
                case "isupper":
                    return .bool(scalars.contains { $0.properties.isCased } && s == s.uppercased())
                default:
                    return .bool(scalars.contains { $0.properties.isCased } && s == s.lowercased())
                }
            }
        case "format":
            return { args in .string(try format(s, args)) }
        case "center", "ljust", "rjust":
            return { args in
                let width = try int(args.get(0, "width"), 0)
                let fill = try string(args.get(1, "fillchar"), "fillchar") ?? " "
                let n = s.unicodeScalars.count
                guard width > n else { return .string(s) }
                let total = width - n
                // CPython centres with the extra character on the left when the width is odd.
                let left = name == "ljust" ? 0 : name == "rjust" ? total : total / 2 + (total & width & 1)
                return .string(String(repeating: fill, count: left) + s + String(repeating: fill, count: total - left))
            }
        case "zfill":
            return { args in
                let width = try int(args.get(0, "width"), 0)
                var scalars = Array(s.unicodeScalars)
                guard width > scalars.count else { return .string(s) }
                let sign = scalars.first == "+" || scalars.first == "-" ? [scalars.removeFirst()] : []
                let zeros = Array(repeating: Unicode.Scalar("0"), count: width - scalars.count - sign.count)
                return .string(JinjaStrings.string(sign + zeros + scalars))
            }
        case "partition", "rpartition":
            return { args in
                guard case .string(let sep)? = args.get(0, "sep"), !sep.isEmpty else { throw JinjaError(.runtime, "empty separator") }
                let hay = Array(s.unicodeScalars)
                let needle = Array(sep.unicodeScalars)
                let found = name == "partition" ? JinjaStrings.find(hay, needle, from: 0) : JinjaStrings.rfind(hay, needle)
                guard let j = found else {
                    return .tuple(name == "partition" ? [.string(s), .string(""), .string("")] : [.string(""), .string(""), .string(s)])
                }
                return .tuple([
                    .string(JinjaStrings.string(hay[..<j])), .string(sep), .string(JinjaStrings.string(hay[(j + needle.count)...])),
                ])
            }
        case "removeprefix", "removesuffix":
            return { args in
                guard case .string(let affix)? = args.get(0, name == "removeprefix" ? "prefix" : "suffix") else {
                    throw JinjaError(.runtime, "\(name)() argument must be str")
                }
                let hay = Array(s.unicodeScalars)
                let a = Array(affix.unicodeScalars)
                if name == "removeprefix", hay.starts(with: a) { return .string(JinjaStrings.string(hay.dropFirst(a.count))) }
                if name == "removesuffix", !a.isEmpty, hay.reversed().starts(with: a.reversed()) {
                    return .string(JinjaStrings.string(hay.dropLast(a.count)))
                }
                return .string(s)
            }
        case "swapcase":
            return { _ in
                .string(
                    s.unicodeScalars.map { u in
                        u.properties.isUppercase ? String(u).lowercased() : u.properties.isLowercase ? String(u).uppercased() : String(u)
                    }.joined())
            }
        default:
            return nil
        }
    }

    /// `str.format` with `{}`, `{0}` and `{name}` fields (no format specs) and `{{`/`}}` escapes.
    private static func format(_ s: String, _ args: JinjaCallArguments) throws -> String {
        var out = ""
        var auto = 0
        var it = Array(s.unicodeScalars)[...]
        while let c = it.first {
            it = it.dropFirst()
            if c == "}" {
                if it.first == "}" { it = it.dropFirst() }
                out += "}"
                continue
            }
            guard c == "{" else {
                out.unicodeScalars.append(c)
                continue
            }
            if it.first == "{" {
                it = it.dropFirst()
                out += "{"
                continue
            }
            guard let close = it.firstIndex(of: "}") else { throw JinjaError(.runtime, "Single '{' encountered in format string") }
            let field = JinjaStrings.string(it[..<close])
            it = it[(close + 1)...]
            let value: JValue?
            if field.isEmpty {
                value = auto < args.positional.count ? args.positional[auto] : nil
                auto += 1
            } else if let n = Int(field) {
                value = n < args.positional.count ? args.positional[n] : nil
            } else {
                value = args.keyword.last { $0.0 == field }?.1
            }
            guard let value else { throw JinjaError(.runtime, "format field '\(field)' has no argument") }
            out += value.str
        }
        return out
    }

    private static func dictMethod(_ d: JinjaDict, _ name: String) -> ((JinjaCallArguments) throws -> JValue)? {
        switch name {
        case "items": return { _ in .list(d.pairs.map { .tuple([.string($0), $1]) }) }
        case "keys": return { _ in .list(d.keys.map(JValue.string)) }
        case "values": return { _ in .list(d.values) }
        case "get":
            return { args in
                guard let key = args.get(0, "key") else { throw JinjaError(.runtime, "get expected at least 1 argument, got 0") }
                if case .string(let k) = key, let v = d[k] { return v }
                return args.get(1, "default") ?? .none
            }
        case "copy": return { _ in .dict(d) }
        default: return nil
        }
    }

    private static func listMethod(_ items: [JValue], _ name: String) -> ((JinjaCallArguments) throws -> JValue)? {
        switch name {
        case "index":
            return { args in
                guard let x = args.get(0, "value"), let i = items.firstIndex(where: { $0.equals(x) }) else {
                    throw JinjaError(.runtime, "value is not in list")
                }
                return .int(i)
            }
        case "count":
            return { args in
                guard let x = args.get(0, "value") else { throw JinjaError(.runtime, "count() takes exactly one argument") }
                return .int(items.filter { $0.equals(x) }.count)
            }
        case "copy": return { _ in .list(items) }
        default: return nil
        }
    }
}
