import PonderCore

/// N-gram repetition penalty (Yeo et al., arXiv 2502.03373, App. C.2), as open-r1's
/// `repetition_penalty_reward`: words are the lowercased whitespace-separated tokens,
/// `r = (1 − distinct n-grams / total n-grams) · maxPenalty`; 0 for texts shorter than one n-gram.
public struct RepetitionPenaltyReward: RewardFunction {
    /// `repetition_penalty`.
    public var name: String { "repetition_penalty" }
    /// N-gram size.
    public let ngramSize: Int
    /// The most negative reward (≤ 0).
    public let maxPenalty: Double

    /// Makes the reward; throws when `maxPenalty > 0` or `ngramSize < 1`.
    public init(ngramSize: Int = 3, maxPenalty: Double = -1) throws {
        guard maxPenalty <= 0 else {
            throw VerifierError.invalidParameter(
                name: "maxPenalty", value: "\(maxPenalty)", reason: "must not be positive")
        }
        guard ngramSize >= 1 else {
            throw VerifierError.invalidParameter(name: "ngramSize", value: "\(ngramSize)", reason: "must be at least 1")
        }
        self.ngramSize = ngramSize
        self.maxPenalty = maxPenalty
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { penalty($0) }
    }

    /// The penalty for one text.
    public func penalty(_ text: String) -> Double {
        let words = text.lowercased().split(whereSeparator: \.isWhitespace)
        guard words.count >= ngramSize else { return 0 }
        var seen = Set<ArraySlice<Substring>>()
        let total = words.count - ngramSize + 1
        for i in 0..<total { seen.insert(words[i..<(i + ngramSize)]) }
        return (1 - Double(seen.count) / Double(total)) * maxPenalty
    }
}

/// DeepSeek-R1's language-consistency reward: the fraction of letters in the reasoning (or the whole
/// completion when there is none) written in the target script. LaTeX commands, `$…$` math and
/// code blocks are ignored; `nil` when no letters remain.
public struct LanguageConsistencyReward: RewardFunction {
    /// Writing systems recognised.
    public enum Script: String, Sendable, CaseIterable {
        /// Latin letters (English, French, ...).
        case latin
        /// Han ideographs plus Japanese kana.
        case han
        /// Cyrillic.
        case cyrillic
        /// Greek.
        case greek
        /// Arabic.
        case arabic
        /// Hangul.
        case hangul
        /// Devanagari.
        case devanagari

        /// The script of a letter, if it is one of these.
        static func of(_ s: Unicode.Scalar) -> Script? {
            switch s.value {
            case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF: return .latin
            case 0x3040...0x30FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F: return .han
            case 0x400...0x52F: return .cyrillic
            case 0x370...0x3FF, 0x1F00...0x1FFF: return .greek
            case 0x600...0x6FF, 0x750...0x77F: return .arabic
            case 0xAC00...0xD7AF, 0x1100...0x11FF, 0x3130...0x318F: return .hangul
            case 0x900...0x97F: return .devanagari
            default: return nil
            }
        }
    }

    /// `language_consistency`.
    public var name: String { "language_consistency" }
    /// The script the reasoning should be written in.
    public var target: Script
    /// Splits reasoning from the answer.
    public var thinkParser: ThinkParser

    /// Makes the reward.
    public init(target: Script = .latin, thinkParser: ThinkParser = ThinkParser()) {
        self.target = target
        self.thinkParser = thinkParser
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { consistency($0) }
    }

    /// The fraction of script letters that are in the target script.
    public func consistency(_ completion: String) -> Double? {
        let parsed = thinkParser.split(completion)
        let text = Self.stripMath(parsed.reasoning ?? parsed.answer)
        var inTarget = 0
        var total = 0
        for s in text.unicodeScalars {
            guard let script = Script.of(s) else { continue }
            total += 1
            if script == target { inTarget += 1 }
        }
        return total == 0 ? nil : Double(inTarget) / Double(total)
    }

    /// Removes ``` code blocks, `$…$` math and `\commands`.
    static func stripMath(_ text: String) -> String {
        var out = ""
        var inDollar = false
        var inCode = false
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            if i + 2 < chars.count, chars[i] == "`", chars[i + 1] == "`", chars[i + 2] == "`" {
                inCode.toggle()
                i += 3
                continue
            }
            let c = chars[i]
            if inCode {
                i += 1
                continue
            }
            if c == "$" {
                inDollar.toggle()
                i += 1
                continue
            }
            if inDollar {
                i += 1
                continue
            }
            if c == "\\" {
                i += 1
                while i < chars.count, chars[i].isASCII, chars[i].isLetter { i += 1 }
                continue
            }
            out.append(c)
            i += 1
        }
        return out
    }
}
