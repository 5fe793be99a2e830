import PonderCore

/// Where an extracted answer came from.
public enum AnswerSource: String, Sendable, Hashable, Codable, CaseIterable {
    /// The content of `<answer>…</answer>`.
    case answerTag
    /// The last `\boxed{…}` or `\fbox{…}`.
    case boxed
    /// GSM8K's `#### 42` line.
    case gsm8k
    /// A phrase such as "the final answer is …" or "Answer: …".
    case finalAnswerPhrase
    /// The last LaTeX span (`$…$`, `\(…\)`, `\[…\]`), multiple-choice letter or plain expression of the
    /// final answer region (``ExtractionPolicy/lenient`` only), as Math-Verify takes it.
    case lastExpression
    /// The last plain number (only when the policy allows it).
    case lastNumber
}

/// How much of a completion may count as its answer; see ``ExtractionPolicy/strict`` and
/// ``ExtractionPolicy/lenient``.
public enum ExtractionMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Only marked answers: `<answer>` tags, `\boxed{}`, GSM8K `####`, "the final answer is". The default for rewards.
    case strict
    /// Marked answers, then the last LaTeX or plain expression of the final answer region. The default for evaluation.
    case lenient
}

/// The explicit, configurable policy for finding a completion's final answer.
public struct ExtractionPolicy: Sendable, Hashable {
    /// How reasoning is split from the answer; only the answer part is graded.
    public var thinkParser: ThinkParser
    /// The sources tried, first match wins.
    public var sources: [AnswerSource]
    /// Whether several *different* boxed answers fail extraction (a hedge) instead of taking the last.
    public var rejectHedges: Bool

    /// Makes a policy. By default: answer tag, boxed, GSM8K, final-answer phrase; no plain-number fallback.
    public init(
        thinkParser: ThinkParser = ThinkParser(),
        sources: [AnswerSource] = [.answerTag, .boxed, .gsm8k, .finalAnswerPhrase], rejectHedges: Bool = true
    ) {
        self.thinkParser = thinkParser
        self.sources = sources
        self.rejectHedges = rejectHedges
    }

    /// Only marked answers (tags, boxes, GSM8K `####`, "the final answer is"): the same as `ExtractionPolicy()`.
    /// The default for rewards: a model must not be rewarded for an unmarked number.
    public static let strict = ExtractionPolicy()

    /// The strict sources, then the last LaTeX or plain expression (or multiple-choice letter) of the
    /// final answer region, then the last plain number. A marked answer written as a sentence
    /// ("Final Answer: The largest $n$ is 34.") is reduced to its last expression. The default for evaluation.
    public static let lenient = ExtractionPolicy(
        sources: [.answerTag, .boxed, .gsm8k, .finalAnswerPhrase, .lastExpression, .lastNumber])

    /// The preset for `mode`.
    public static func mode(_ mode: ExtractionMode) -> ExtractionPolicy {
        switch mode {
        case .strict: return .strict
        case .lenient: return .lenient
        }
    }

    /// Whether unmarked answers are taken (the policy tries ``AnswerSource/lastExpression``).
    public var isLenient: Bool { sources.contains(.lastExpression) }
}

/// The outcome of extraction: the answer taken and why, or why none was taken.
public struct AnswerExtraction: Sendable, Hashable, CustomStringConvertible {
    /// The extracted answer text, `nil` when extraction failed.
    public var answer: String?
    /// The source used, `nil` when extraction failed.
    public var source: AnswerSource?
    /// Why this answer (or none) was taken.
    public var explanation: String
    /// The distinct boxed answers when several were found (a hedge, or the parts of a multi-part
    /// answer: the verifier accepts them only when the gold answer has exactly that many parts).
    public var parts: [String]

    /// Makes an extraction result.
    public init(answer: String?, source: AnswerSource?, explanation: String, parts: [String] = []) {
        self.answer = answer
        self.source = source
        self.explanation = explanation
        self.parts = parts
    }

    /// A one-line summary.
    public var description: String {
        if let answer, let source { return "\(source.rawValue): '\(answer)' (\(explanation))" }
        return "no answer: \(explanation)"
    }
}

/// Finds the final answer in a completion under an ``ExtractionPolicy``.
public struct AnswerExtractor: Sendable {
    /// The policy applied.
    public var policy: ExtractionPolicy

    /// Makes an extractor.
    public init(policy: ExtractionPolicy = ExtractionPolicy()) { self.policy = policy }

    /// Extracts the final answer from `completion`.
    public func extract(_ completion: String) -> AnswerExtraction {
        let parsed = policy.thinkParser.split(completion)
        if parsed.state == .truncated {
            return AnswerExtraction(
                answer: nil, source: nil, explanation: "reasoning never closed (truncated); nothing to grade")
        }
        let text = parsed.answer
        let scope = parsed.state == .complete ? "after </think>" : "in the completion"
        for source in policy.sources {
            switch source {
            case .answerTag:
                guard let inner = Self.answerTag(text) else { continue }
                if policy.sources.contains(.boxed) {
                    let boxes = Self.boxed(inner)
                    if !boxes.isEmpty { return pickBoxed(boxes, where: "inside <answer> \(scope)") }
                }
                let a = Self.clean(inner)
                if a.isEmpty { return AnswerExtraction(answer: nil, source: nil, explanation: "empty <answer> tag") }
                return AnswerExtraction(
                    answer: a, source: .answerTag, explanation: "content of <answer>…</answer> \(scope)")
            case .boxed:
                let boxes = Self.boxed(text)
                if !boxes.isEmpty { return pickBoxed(boxes, where: scope) }
            case .gsm8k:
                if let a = Self.gsm8k(text) {
                    return AnswerExtraction(answer: a, source: .gsm8k, explanation: "text after '####' \(scope)")
                }
            case .finalAnswerPhrase:
                if let (a, phrase) = Self.phrase(text) {
                    if policy.isLenient, Self.isProse(a), let e = Self.lastExpression(a) {
                        return AnswerExtraction(
                            answer: e, source: .finalAnswerPhrase,
                            explanation: "last expression of the sentence after '\(phrase)' \(scope)")
                    }
                    return AnswerExtraction(
                        answer: a, source: .finalAnswerPhrase, explanation: "text after '\(phrase)' \(scope)")
                }
            case .lastExpression:
                if let a = Self.lastExpression(Self.finalRegion(text)) {
                    return AnswerExtraction(
                        answer: a, source: .lastExpression,
                        explanation: "last expression of the final answer region \(scope)")
                }
            case .lastNumber:
                if let a = Self.lastNumber(text) {
                    return AnswerExtraction(
                        answer: a, source: .lastNumber,
                        explanation: "last number on the last line that is not a check \(scope)")
                }
            }
        }
        return AnswerExtraction(
            answer: nil, source: nil,
            explanation: "no answer found \(scope) (tried \(policy.sources.map(\.rawValue).joined(separator: ", ")))")
    }

    func pickBoxed(_ boxes: [String], where scope: String) -> AnswerExtraction {
        // Boxes that are the same answer written differently (3 and 3.0) are not a hedge.
        let same = MathEquivalence()
        let distinct = boxes.reduce(into: [String]()) { acc, b in
            if !acc.contains(where: {
                MathEquivalence.loose($0) == MathEquivalence.loose(b)
                    || same.compare(gold: $0, prediction: b).isEquivalent
            }) {
                acc.append(b)
            }
        }
        if distinct.count > 1, policy.rejectHedges {
            return AnswerExtraction(
                answer: nil, source: nil,
                explanation:
                    "hedge: \(distinct.count) different boxed answers \(distinct.map { "'\($0)'" }.joined(separator: ", ")) \(scope)",
                parts: distinct.map(Self.clean)
            )
        }
        let last = Self.clean(boxes[boxes.count - 1])
        if last.isEmpty { return AnswerExtraction(answer: nil, source: nil, explanation: "empty \\boxed{} \(scope)") }
        return AnswerExtraction(answer: last, source: .boxed, explanation: "last \\boxed{} of \(boxes.count) \(scope)")
    }

    /// Strips `$`, `\(`…`\)`, `\[`…`\]`, bold markers and a trailing period.
    static func clean(_ s: String) -> String {
        var t = s.trimmedText()
        // "**Answer:** 7": the closing bold marker of the phrase.
        if t.hasPrefix("**"), t.dropFirst(2).firstRange(of: "**") == nil { t = String(t.dropFirst(2)).trimmedText() }
        while let f = t.first, f == ":" || f.isWhitespace { t.removeFirst() }
        while let l = t.last, l == "." || l == "!" || l == ":" || l == "," { t.removeLast() }
        for (a, b) in [("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")] {
            if t.hasPrefix(a), t.hasSuffix(b), t.count >= a.count + b.count {
                t = String(t.dropFirst(a.count).dropLast(b.count)).trimmedText()
            }
        }
        while let l = t.last, l == "." || l == "!" || l == ":" || l == "," { t.removeLast() }
        return t.trimmedText()
    }

    /// Content of the last `<answer>…</answer>` (an unterminated last tag runs to the end).
    static func answerTag(_ text: String) -> String? {
        guard let open = text.lastRange(of: "<answer>") else { return nil }
        let rest = text[open.upperBound...]
        if let close = rest.firstRange(of: "</answer>") { return String(rest[..<close.lowerBound]) }
        return String(rest)
    }

    /// Contents of every `\boxed{…}` / `\fbox{…}` (balanced braces) and `\boxed 5`, in order.
    static func boxed(_ text: String) -> [String] {
        let chars = Array(text)
        var results: [String] = []
        var i = 0
        let names: [[Character]] = [Array("\\boxed"), Array("\\fbox")]
        while i < chars.count {
            guard chars[i] == "\\",
                let name = names.first(where: { n in
                    i + n.count <= chars.count && Array(chars[i..<(i + n.count)]) == n
                })
            else {
                i += 1
                continue
            }
            var j = i + name.count
            while j < chars.count, chars[j] == " " { j += 1 }
            if j < chars.count, chars[j] == "{" {
                var depth = 0
                var k = j
                while k < chars.count {
                    if chars[k] == "\\" {
                        k += 2
                        continue
                    }
                    if chars[k] == "{" { depth += 1 }
                    if chars[k] == "}" {
                        depth -= 1
                        if depth == 0 { break }
                    }
                    k += 1
                }
                if k < chars.count {
                    results.append(String(chars[(j + 1)..<k]))
                    i = k + 1
                } else {
                    i = chars.count  // unbalanced: ignore
                }
            } else if j > i + name.count {
                // \boxed 5: one token after a space.
                var k = j
                while k < chars.count, !chars[k].isWhitespace, chars[k] != "$" { k += 1 }
                if k > j { results.append(String(chars[j..<k])) }
                i = k
            } else {
                i = j
            }
        }
        return results
    }

    static func gsm8k(_ text: String) -> String? {
        guard let r = text.lastRange(of: "####") else { return nil }
        let line = text[r.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).first ?? ""
        let a = clean(String(line)).replacingAll(",", with: "")
        return a.isEmpty ? nil : a
    }

    static let phrases = [
        "the final answer is", "final answer is", "final answer:", "the answer is", "answer is", "answer:",
        "the result is", "the solution is",
    ]

    static func phrase(_ text: String) -> (String, String)? {
        let lower = text.lowercased()
        guard lower.count == text.count else { return phraseUnicode(text) }
        var best: (String.Index, String)?
        for p in phrases {
            if let r = lower.lastRange(of: p), best == nil || r.lowerBound > best!.0 { best = (r.lowerBound, p) }
        }
        guard let (start, phrase) = best else { return nil }
        let offset = lower.distance(from: lower.startIndex, to: start) + phrase.count
        var rest = String(text.dropFirst(offset))
        // The answer ends at the first sentence end, line break or justification.
        for stop in ["\n", ". ", "; ", " because", " since", ", since", ", because", " (since", " - check", ". Check"] {
            if let r = rest.firstRange(of: stop) { rest = String(rest[..<r.lowerBound]) }
        }
        let a = clean(rest.replacingAll("\\boxed", with: ""))
        return a.isEmpty ? nil : (a, phrase)
    }

    static func phraseUnicode(_ text: String) -> (String, String)? {
        // Lowercasing changed the length (rare scripts): search case-sensitively instead.
        for p in phrases {
            if let r = text.lastRange(of: p) {
                let a = clean(String(text[r.upperBound...].split(separator: "\n").first ?? ""))
                return a.isEmpty ? nil : (a, p)
            }
        }
        return nil
    }

    /// The last number on the last line that is not a check (`42/6 = 7`, "check:", "verify").
    static func lastNumber(_ text: String) -> String? {
        for line in text.split(separator: "\n").reversed() {
            let l = line.lowercased()
            if l.contains(Character("=")) || l.firstRange(of: "check") != nil || l.firstRange(of: "verify") != nil {
                continue
            }
            let chars = Array(line)
            var k = chars.count - 1
            while k >= 0 {
                if chars[k].isASCIIDigitCharacter {
                    var s = k
                    while s > 0, chars[s - 1].isASCIIDigitCharacter || chars[s - 1] == "." || chars[s - 1] == "," {
                        s -= 1
                    }
                    if s > 0, chars[s - 1] == "-" { s -= 1 }
                    var number = String(chars[s...k]).replacingAll(",", with: "")
                    while number.hasPrefix(".") { number.removeFirst() }
                    return number
                }
                k -= 1
            }
        }
        return nil
    }
}

extension String {
    /// The range of the last occurrence of `target` (byte-wise search from the end).
    func lastRange(of target: String) -> Range<String.Index>? {
        let hay = Array(utf8)
        let needle = Array(target.utf8)
        guard !needle.isEmpty, needle.count <= hay.count else { return nil }
        var k = hay.count - needle.count
        while k >= 0 {
            if hay[k] == needle[0], hay[k..<(k + needle.count)].elementsEqual(needle) {
                let lower = utf8.index(utf8.startIndex, offsetBy: k)
                return lower..<utf8.index(lower, offsetBy: needle.count)
            }
            k -= 1
        }
        return nil
    }
}

// MARK: Lenient extraction: the last expression of the final answer region

extension AnswerExtractor {
    /// Bytes at the end of the answer part that count as its final answer region.
    static let finalRegionBytes = 1_500

    /// The final answer region: the last ``finalRegionBytes`` bytes (from a line start where one is
    /// near), without trailing blank lines or checks ("Check: 56/7 = 8", "verify"). Extraction cost is
    /// proportional to this region, not to the completion.
    static func finalRegion(_ text: String) -> String {
        let utf8 = text.utf8
        var region = text
        if utf8.count > finalRegionBytes {
            let tail = Array(utf8.suffix(finalRegionBytes))
            let start = tail.firstIndex(of: 10).map { $0 + 1 } ?? 0
            region = String(decoding: tail[start...], as: UTF8.self)
        }
        var lines = region.split(separator: "\n", omittingEmptySubsequences: false)
        while let last = lines.last {
            let l = last.lowercased().trimmedText()
            if l.isEmpty || l.hasPrefix("check") || l.hasPrefix("verify") || l.hasPrefix("double-check") {
                lines.removeLast()
            } else {
                break
            }
        }
        // "The total is 8. Check: 56/7 = 8": the check on the last line is not part of the answer.
        if let last = lines.last, let r = last.lowercased().firstRange(of: "check") {
            let offset = last.lowercased().distance(from: last.lowercased().startIndex, to: r.lowerBound)
            if last.lowercased().count == last.count { lines[lines.count - 1] = last.prefix(offset) }
        }
        return lines.joined(separator: "\n")
    }

    /// Whether a marked answer is a sentence rather than an expression ("The largest $n$ is 34"): a
    /// word of three or more letters outside math, commands and `\text{}`, next to a digit or math.
    static func isProse(_ s: String) -> Bool {
        let chars = Array(s)
        guard chars.contains(where: { $0.isASCIIDigitCharacter || $0 == "$" }) else { return false }
        var i = 0
        var inMath = false
        while i < chars.count {
            let c = chars[i]
            if c == "$" {
                inMath.toggle()
                i += 1
                continue
            }
            if c == "\\" {
                // Skip the command name, and the group of \text-like commands.
                var j = i + 1
                while j < chars.count, chars[j].isLetter { j += 1 }
                let name = String(chars[(i + 1)..<j])
                if name.hasPrefix("text") || name == "mbox", j < chars.count, chars[j] == "{" {
                    while j < chars.count, chars[j] != "}" { j += 1 }
                }
                i = max(j, i + 1)
                continue
            }
            if !inMath, c.isASCII, c.isLetter {
                var j = i
                while j < chars.count, chars[j].isASCII, chars[j].isLetter { j += 1 }
                let word = String(chars[i..<j])
                if word.count >= 3, !MathLexer.functionNames.contains(word), !AnswerParser.unitWords.contains(word),
                    !["pi", "infty", "and", "or"].contains(word)
                {
                    return true
                }
                i = j
                continue
            }
            i += 1
        }
        return false
    }

    /// Whether `s` is a worked computation (`42/6 = 7`, `3*4 = 12`): an equation without letters.
    static func isComputation(_ s: String) -> Bool {
        s.contains("=") && !s.contains(where: { $0.isLetter })
    }

    /// The last LaTeX span, multiple-choice letter `(B)` or plain number of `region`, whichever ends
    /// last; `nil` when there is none or it is a worked computation such as `42/6 = 7`.
    static func lastExpression(_ region: String) -> String? {
        let chars = Array(region)
        let n = chars.count
        guard n > 0 else { return nil }
        // 1. The last LaTeX span.
        var math: (content: String, end: Int)?
        var k = n - 1
        while k >= 0, math == nil {
            let c = chars[k]
            if c == "$", k == 0 || chars[k - 1] != "\\" {
                let double = k > 0 && chars[k - 1] == "$"
                let closeStart = double ? k - 1 : k
                var o = closeStart - 1
                while o >= 0 {
                    if chars[o] == "$", o == 0 || chars[o - 1] != "\\" { break }
                    o -= 1
                }
                if o >= 0 {
                    let openStart = double && o > 0 && chars[o - 1] == "$" ? o - 1 : o
                    _ = openStart
                    math = (String(chars[(o + 1)..<closeStart]), k + 1)
                } else {
                    k -= 1
                    continue
                }
            } else if (c == "]" || c == ")"), k > 0, chars[k - 1] == "\\" {
                let opener: Character = c == "]" ? "[" : "("
                var o = k - 2
                while o > 0 {
                    if chars[o] == opener, chars[o - 1] == "\\" { break }
                    o -= 1
                }
                if o > 0 { math = (String(chars[(o + 1)..<(k - 1)]), k + 1) }
            }
            k -= 1
        }
        let mathEnd = math?.end ?? 0
        // 2. A multiple-choice letter `(B)` after the math.
        var choice: (String, Int)?
        if n >= 3 {
            var j = n - 3
            while j >= mathEnd {
                if chars[j] == "(", chars[j + 2] == ")", let a = chars[j + 1].asciiValue, a >= 65, a <= 69,
                    j == 0 || !(chars[j - 1].isLetter || chars[j - 1].isNumber)
                {
                    choice = (String(chars[j + 1]), j + 3)
                    break
                }
                j -= 1
            }
        }
        // 3. The last plain number after the math.
        var number: (String, Int)?
        var d = n - 1
        while d >= mathEnd, !chars[d].isASCIIDigitCharacter { d -= 1 }
        if d >= mathEnd {
            var s = d
            while s > mathEnd, chars[s - 1].isASCIIDigitCharacter || chars[s - 1] == "." || chars[s - 1] == ","
                || chars[s - 1] == "/"
            {
                s -= 1
            }
            if s > 0, chars[s - 1] == "-" { s -= 1 }
            var e = d + 1
            if e < n, chars[e] == "%" { e += 1 }
            var text = String(chars[s..<e])
            while let f = text.first, f == "." || f == "," || f == "/" { text.removeFirst() }
            // The line holding it must not be a computation (`12/4 = 3`).
            var ls = s
            while ls > 0, chars[ls - 1] != "\n" { ls -= 1 }
            var le = e
            while le < n, chars[le] != "\n" { le += 1 }
            if !String(chars[ls..<le]).contains("=") || math != nil { number = (text, e) }
            if String(chars[ls..<le]).contains("="), math == nil { return nil }
        }
        var best: (String, Int)? = math.map { (clean($0.content), $0.end) }
        for candidate in [choice, number] {
            if let c = candidate, c.1 > (best?.1 ?? -1) { best = c }
        }
        guard let (answer, _) = best, !answer.isEmpty, !isComputation(answer) else { return nil }
        return answer
    }
}
