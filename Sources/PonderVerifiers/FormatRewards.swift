import Foundation
import PonderCore

/// 1 when the completion is exactly `<think>\n…\n</think>\n<answer>\n…\n</answer>` (optionally one
/// trailing newline), else 0. open-r1's `format_reward`, anchored at both ends. With `requireNewlines` false the
/// newlines are optional: `<think>…</think>` then whitespace then `<answer>…</answer>` and nothing else (the layout
/// of Ponder's synthetic tasks).
public struct StrictFormatReward: RewardFunction {
    /// `format`.
    public var name: String { "format" }
    /// Tag names (default `think` and `answer`).
    public var thinkTag: String
    /// The answer tag name.
    public var answerTag: String
    /// Whether the tags must sit on their own lines (open-r1's layout).
    public var requireNewlines: Bool

    /// Makes the reward.
    public init(thinkTag: String = "think", answerTag: String = "answer", requireNewlines: Bool = true) {
        self.thinkTag = thinkTag
        self.answerTag = answerTag
        self.requireNewlines = requireNewlines
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { matches($0) ? 1.0 : 0.0 }
    }

    /// Whether `text` has the strict format.
    public func matches(_ text: String) -> Bool {
        if !requireNewlines {
            let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
            let open = "<\(thinkTag)>"
            let closeThink = "</\(thinkTag)>"
            let openAnswer = "<\(answerTag)>"
            let close = "</\(answerTag)>"
            guard t.hasPrefix(open), t.hasSuffix(close), let end = t.range(of: closeThink) else { return false }
            let rest = t[end.upperBound...].drop(while: \.isWhitespace)
            guard rest.hasPrefix(openAnswer) else { return false }
            let reasoning = t[t.index(t.startIndex, offsetBy: open.count)..<end.lowerBound]
            let answer = rest.dropFirst(openAnswer.count).dropLast(close.count)
            return !reasoning.contains(open) && !answer.contains(openAnswer) && !answer.contains(close) && !answer.contains(closeThink)
        }
        var t = Substring(text)
        if t.hasSuffix("\n") { t = t.dropLast() }
        let open = "<\(thinkTag)>\n"
        let middle = "\n</\(thinkTag)>\n<\(answerTag)>\n"
        let close = "\n</\(answerTag)>"
        guard t.hasPrefix(open), t.hasSuffix(close), t.count >= open.count + middle.count + close.count else {
            return false
        }
        let inner = t.dropFirst(open.count).dropLast(close.count)
        guard let m = inner.firstRange(of: middle) else { return false }
        // Neither part may contain the other tags again.
        let reasoning = inner[..<m.lowerBound]
        let answer = inner[m.upperBound...]
        return !reasoning.contains("</\(thinkTag)>") && !answer.contains("<\(answerTag)>")
            && !answer.contains("</\(answerTag)>")
    }
}

/// 1 when the completion starts with `<think>…</think>`, then optional whitespace, then
/// `<answer>…</answer>` (anything may follow), else 0. The "soft format" reward of the GRPO demos.
public struct SoftFormatReward: RewardFunction {
    /// `soft_format`.
    public var name: String { "soft_format" }
    /// Tag names.
    public var thinkTag: String
    /// The answer tag name.
    public var answerTag: String

    /// Makes the reward.
    public init(thinkTag: String = "think", answerTag: String = "answer") {
        self.thinkTag = thinkTag
        self.answerTag = answerTag
    }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { matches($0) ? 1.0 : 0.0 }
    }

    /// Whether `text` has the soft format.
    public func matches(_ text: String) -> Bool {
        guard text.hasPrefix("<\(thinkTag)>"), let close = text.firstRange(of: "</\(thinkTag)>") else { return false }
        let rest = text[close.upperBound...].drop(while: \.isWhitespace)
        guard rest.hasPrefix("<\(answerTag)>") else { return false }
        return rest.dropFirst(answerTag.count + 2).contains("</\(answerTag)>")
    }
}

/// 0.25 for each of `<think>\n`, `\n</think>\n`, `\n<answer>\n`, `\n</answer>` occurring exactly
/// once. open-r1's `tag_count_reward`.
public struct TagCountReward: RewardFunction {
    /// `tag_count`.
    public var name: String { "tag_count" }

    /// Makes the reward.
    public init() {}

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { text in
            ["<think>\n", "\n</think>\n", "\n<answer>\n", "\n</answer>"].reduce(0.0) { acc, tag in
                acc + (Self.count(tag, in: text) == 1 ? 0.25 : 0)
            }
        }
    }

    /// Non-overlapping occurrences, as Python's `str.count`.
    static func count(_ needle: String, in text: String) -> Int {
        var n = 0
        var rest = Substring(text)
        while let r = rest.firstRange(of: needle) {
            n += 1
            rest = rest[r.upperBound...]
        }
        return n
    }
}

/// `min(1, steps / 3)` where steps counts open-r1's markers: `Step N:`, a leading `N.`, `\n-`, `\n*`,
/// `First,`, `Second,`, `Next,`, `Finally,` (non-overlapping, left to right). open-r1's `reasoning_steps_reward`.
public struct ReasoningStepsReward: RewardFunction {
    /// `reasoning_steps`.
    public var name: String { "reasoning_steps" }
    /// Steps for the full reward (open-r1 uses 3).
    public var targetSteps: Int

    /// Makes the reward.
    public init(targetSteps: Int = 3) { self.targetSteps = max(1, targetSteps) }

    /// Scores each completion.
    public func rewards(for completions: [String], problem: Problem) async throws -> [Double?] {
        completions.map { min(1.0, Double(Self.countSteps($0)) / Double(targetSteps)) }
    }

    static func countSteps(_ text: String) -> Int {
        let c = Array(text)
        var i = 0
        var count = 0
        func digits(from j: Int) -> Int {
            var k = j
            while k < c.count, c[k].isASCII, c[k].isNumber { k += 1 }
            return k
        }
        func literal(_ s: String, at j: Int) -> Bool {
            let a = Array(s)
            return j + a.count <= c.count && Array(c[j..<(j + a.count)]) == a
        }
        while i < c.count {
            var len = 0
            if literal("Step ", at: i) {
                let k = digits(from: i + 5)
                if k > i + 5, k < c.count, c[k] == ":" { len = k + 1 - i }
            }
            if len == 0, i == 0 {
                let k = digits(from: 0)
                if k > 0, k < c.count, c[k] == "." { len = k + 1 }
            }
            if len == 0, c[i] == "\n", i + 1 < c.count, c[i + 1] == "-" || c[i + 1] == "*" { len = 2 }
            if len == 0 {
                for w in ["First,", "Second,", "Next,", "Finally,"] where literal(w, at: i) {
                    len = w.count
                    break
                }
            }
            if len > 0 {
                count += 1
                i += len
            } else {
                i += 1
            }
        }
        return count
    }
}
