/// The character classes the pre-tokenizer regexes distinguish, as Oniguruma (used by HF `tokenizers`) defines them:
/// `\p{L}` is general category L*, `\p{N}` is N*, `\s` is the White_Space property.
enum ScalarClass: UInt8 {
    case other = 0
    case letter = 1
    case number = 2
    case whitespace = 3
    case newline = 4  // `\r` or `\n`: whitespace that the Llama-3 / Qwen2 patterns treat apart

    var isWhitespace: Bool { self == .whitespace || self == .newline }

    /// Classes of the Basic Multilingual Plane, computed once.
    private static let bmp: [ScalarClass] = {
        var table = [ScalarClass](repeating: .other, count: 0x10000)
        for v in 0..<0x10000 {
            guard let s = Unicode.Scalar(UInt32(v)) else { continue }
            table[v] = compute(s)
        }
        return table
    }()

    static func compute(_ s: Unicode.Scalar) -> ScalarClass {
        if s == "\n" || s == "\r" { return .newline }
        let p = s.properties
        if p.isWhitespace { return .whitespace }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    static func of(_ v: UInt32) -> ScalarClass {
        if v < 0x10000 { return bmp[Int(v)] }
        guard let s = Unicode.Scalar(v) else { return .other }
        return compute(s)
    }
}

/// Decodes the scalar starting at `i` in valid UTF-8 `bytes`; returns it and its length in bytes.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int) -> (UInt32, Int) {
    let b0 = UInt32(bytes[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return (((b0 & 0x1F) << 6) | (UInt32(bytes[i + 1]) & 0x3F), 2) }
    if b0 < 0xF0 {
        return (((b0 & 0x0F) << 12) | ((UInt32(bytes[i + 1]) & 0x3F) << 6) | (UInt32(bytes[i + 2]) & 0x3F), 3)
    }
    return (
        ((b0 & 0x07) << 18) | ((UInt32(bytes[i + 1]) & 0x3F) << 12) | ((UInt32(bytes[i + 2]) & 0x3F) << 6)
            | (UInt32(bytes[i + 3]) & 0x3F), 4
    )
}
