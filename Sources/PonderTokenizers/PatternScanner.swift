/// Hand-written equivalents of the GPT-2, Llama-3 and Qwen2 pre-tokenizer regexes.
///
/// Each function walks valid UTF-8 and appends the byte range of every match, trying the alternatives of the
/// regex in order at each position exactly as a backtracking engine would.
enum PatternScanner {
    private static let asciiClass: [ScalarClass] = (0..<128).map { ScalarClass.of(UInt32($0)) }

    @inline(__always)
    private static func cls(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int) -> (ScalarClass, Int) {
        let b = buf[i]
        if b < 0x80 { return (asciiClass[Int(b)], 1) }
        let (v, n) = decodeScalar(buf, i)
        return (ScalarClass.of(v), n)
    }

    /// End of the run of scalars of class `c` (or, with `c == .whitespace`, any whitespace) from `i`.
    @inline(__always)
    private static func run(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int, _ c: ScalarClass) -> Int {
        var j = i
        while j < hi {
            let (c2, n) = cls(buf, j)
            if c2 != c { break }
            j += n
        }
        return j
    }

    /// Length in bytes of a contraction suffix after an apostrophe at `i - 1` (`s t m d re ve ll`), or 0.
    @inline(__always)
    private static func contraction(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int, caseInsensitive: Bool)
        -> Int
    {
        guard i < hi else { return 0 }
        var a = buf[i]
        if caseInsensitive {
            // Oniguruma folds U+017F LATIN SMALL LETTER LONG S to `s`.
            if a == 0xC5, i + 1 < hi, buf[i + 1] == 0xBF { return 2 }
            if a >= 65 && a <= 90 { a += 32 }
        }
        switch a {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"): return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"), UInt8(ascii: "l"):
            guard i + 1 < hi else { return 0 }
            var b = buf[i + 1]
            if caseInsensitive && b >= 65 && b <= 90 { b += 32 }
            let want = a == UInt8(ascii: "l") ? UInt8(ascii: "l") : UInt8(ascii: "e")
            return b == want ? 2 : 0
        default: return 0
        }
    }

    /// `\s+(?!\S)|\s+` on the whitespace run starting at `i`.
    @inline(__always)
    private static func whitespace(_ buf: UnsafeBufferPointer<UInt8>, _ i: Int, _ hi: Int) -> Int {
        var j = i
        var lastStart = i
        var count = 0
        while j < hi {
            let (c, n) = cls(buf, j)
            if !c.isWhitespace { break }
            lastStart = j
            count += 1
            j += n
        }
        if j == hi || count == 1 { return j }
        return lastStart
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ buf: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, _ out: inout [Range<Int>]) {
        var i = lo
        while i < hi {
            let b = buf[i]
            if b == UInt8(ascii: "'") {
                let n = contraction(buf, i + 1, hi, caseInsensitive: false)
                if n > 0 {
                    out.append(i..<(i + 1 + n))
                    i += 1 + n
                    continue
                }
            }
            var p = i
            if b == UInt8(ascii: " ") && i + 1 < hi { p = i + 1 }
            let (c, n) = cls(buf, p)
            if (p > i || b != UInt8(ascii: " ")) && !c.isWhitespace {
                let end = run(buf, p + n, hi, c)
                out.append(i..<end)
                i = end
                continue
            }
            let end = whitespace(buf, i, hi)
            out.append(i..<end)
            i = end
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func llamaFamily(
        _ buf: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, maxDigits: Int, _ out: inout [Range<Int>]
    ) {
        var i = lo
        while i < hi {
            let b = buf[i]
            if b == UInt8(ascii: "'") {
                let n = contraction(buf, i + 1, hi, caseInsensitive: true)
                if n > 0 {
                    out.append(i..<(i + 1 + n))
                    i += 1 + n
                    continue
                }
            }
            let (c, n) = cls(buf, i)
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if c == .letter {
                let end = run(buf, i + n, hi, .letter)
                out.append(i..<end)
                i = end
                continue
            }
            if (c == .other || c == .whitespace) && i + n < hi {
                let (c2, n2) = cls(buf, i + n)
                if c2 == .letter {
                    let end = run(buf, i + n + n2, hi, .letter)
                    out.append(i..<end)
                    i = end
                    continue
                }
            }
            // \p{N}{1,k}
            if c == .number {
                var end = i + n
                var k = 1
                while k < maxDigits && end < hi {
                    let (c2, n2) = cls(buf, end)
                    if c2 != .number { break }
                    end += n2
                    k += 1
                }
                out.append(i..<end)
                i = end
                continue
            }
            //  ?[^\s\p{L}\p{N}]+[\r\n]*
            var p = i
            var pc = c
            var pn = n
            if b == UInt8(ascii: " ") && i + 1 < hi {
                (pc, pn) = cls(buf, i + 1)
                p = i + 1
            }
            if pc == .other {
                var end = run(buf, p + pn, hi, .other)
                while end < hi && (buf[end] == 0x0A || buf[end] == 0x0D) { end += 1 }
                out.append(i..<end)
                i = end
                continue
            }
            // c is whitespace here. \s*[\r\n]+ : up to and including the last newline of the whitespace run.
            var j = i
            var lastNewline = -1
            while j < hi {
                let (c2, n2) = cls(buf, j)
                if !c2.isWhitespace { break }
                if c2 == .newline { lastNewline = j }
                j += n2
            }
            if lastNewline >= 0 {
                out.append(i..<(lastNewline + 1))
                i = lastNewline + 1
                continue
            }
            let end = whitespace(buf, i, hi)
            out.append(i..<end)
            i = end
        }
    }
}
