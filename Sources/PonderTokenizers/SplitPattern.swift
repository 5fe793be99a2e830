import Foundation

/// A pattern that cuts text into pieces, as in a `Split` pre-tokenizer or `ByteLevel`'s `use_regex`.
///
/// The GPT-2, Llama-3 and Qwen2 regexes are recognised by their exact text and run by hand-written scanners
/// over UTF-8 bytes (same matches as Oniguruma, which HF `tokenizers` uses, and much faster than a regex
/// engine). Any other regex runs through `NSRegularExpression`; a `String` pattern matches literally.
public struct SplitPattern: Sendable {
    enum Kind: Sendable {
        case gpt2
        case llama3
        case qwen2
        case literal([UInt8])
        case regex(RegexBox)
    }

    let kind: Kind
    /// The pattern text as written in `tokenizer.json`.
    public let source: String
    /// Whether the source is a regex (`{"Regex": ...}`) rather than a literal string.
    public let isRegex: Bool

    /// GPT-2's pattern, also used by `ByteLevel` with `use_regex: true`.
    public static let gpt2Regex =
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    /// Llama-3's pattern (also DeepSeek-R1-Distill-Llama): case-insensitive contractions, numbers in runs of 1 to 3.
    public static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Qwen2's pattern (also Qwen2.5, Qwen3, DeepSeek-R1-Distill-Qwen): as Llama-3's but one digit per piece.
    public static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// A regex pattern; the three known patterns get a native scanner. Throws when the regex does not compile.
    public init(regex: String) throws {
        source = regex
        isRegex = true
        switch regex {
        case Self.gpt2Regex: kind = .gpt2
        case Self.llama3Regex: kind = .llama3
        case Self.qwen2Regex: kind = .qwen2
        default:
            do {
                kind = .regex(RegexBox(try NSRegularExpression(pattern: regex, options: [])))
            } catch {
                throw TokenizerError.invalidValue(path: "", reason: "regex does not compile: \(regex)")
            }
        }
    }

    /// A literal pattern.
    public init(literal: String) {
        source = literal
        isRegex = false
        kind = .literal(Array(literal.utf8))
    }

    /// Whether matches always tile the input, so `Isolated` splitting is exactly the list of matches.
    var tilesInput: Bool {
        switch kind {
        case .gpt2, .llama3, .qwen2: return true
        default: return false
        }
    }

    /// Appends the byte ranges of matches within `lo..<hi` of valid UTF-8 `buf`.
    func matches(_ buf: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int, into out: inout [Range<Int>]) {
        switch kind {
        case .gpt2: PatternScanner.gpt2(buf, lo, hi, &out)
        case .llama3: PatternScanner.llamaFamily(buf, lo, hi, maxDigits: 3, &out)
        case .qwen2: PatternScanner.llamaFamily(buf, lo, hi, maxDigits: 1, &out)
        case .literal(let needle):
            guard !needle.isEmpty else { return }
            var i = lo
            while i + needle.count <= hi {
                var equal = true
                for k in 0..<needle.count where buf[i + k] != needle[k] {
                    equal = false
                    break
                }
                if equal {
                    out.append(i..<(i + needle.count))
                    i += needle.count
                } else {
                    i += 1
                }
            }
        case .regex(let box):
            let text = String(decoding: UnsafeBufferPointer(rebasing: buf[lo..<hi]), as: UTF8.self)
            let ns = text as NSString
            // Map UTF-16 offsets back to UTF-8 offsets.
            var utf16ToUTF8 = [Int](repeating: 0, count: ns.length + 1)
            var u16 = 0
            var u8 = 0
            for s in text.unicodeScalars {
                let w16 = s.value > 0xFFFF ? 2 : 1
                let w8 = String(s).utf8.count
                for k in 0..<w16 { utf16ToUTF8[u16 + k] = u8 }
                u16 += w16
                u8 += w8
            }
            utf16ToUTF8[u16] = u8
            for m in box.regex.matches(in: text, options: [], range: NSRange(location: 0, length: ns.length))
            where m.range.length > 0 {
                out.append((lo + utf16ToUTF8[m.range.location])..<(lo + utf16ToUTF8[m.range.location + m.range.length]))
            }
        }
    }
}

/// Holds a compiled regex; `NSRegularExpression` is immutable and documented as thread-safe.
final class RegexBox: @unchecked Sendable {
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
}
