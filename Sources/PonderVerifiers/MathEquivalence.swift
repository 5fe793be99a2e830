import Foundation
import PonderCore

/// Decides whether a predicted final answer equals a gold (reference) answer.
///
/// Gold-directed: the gold answer's form decides how the prediction is read (a gold percent accepts
/// `50%`, `50` and `0.5`; a plain gold `50` does not accept `0.5`; a gold `x = 5` accepts `5`).
/// Rational values are compared exactly on big integers; a decimal literal written with `d` decimal
/// places matches a non-literal value (a fraction, `π`, a root) within half a unit of its last digit
/// when it has at least ``minimumRoundingDigits`` significant digits; algebraic constants (roots,
/// rational powers) with `π` and `e` are compared with 256-bit floating point and a propagated error
/// bound; the rest (trigonometric, logarithmic, complex values) in double precision with ``relativeTolerance``. Expressions with variables are compared
/// by an exact rational-function normal form where it applies, else by seeded numeric probing,
/// which can answer `unknown`. All work is bounded by ``budget``.
public struct MathEquivalence: Sendable {
    /// Limits on the work of one comparison.
    public var budget: WorkBudget
    /// Relative tolerance for values that can only be evaluated in floating point.
    public var relativeTolerance: Double
    /// Significant digits a decimal literal needs before it may match a value by rounding.
    public var minimumRoundingDigits: Int

    /// Memo of gold-answer reading and of verdicts (``EquivalenceCache``); `nil` compares every pair from scratch.
    /// A cache changes speed only: a cached verdict is the one a fresh comparison returns.
    public var cache: EquivalenceCache?
    /// Counts the work units of each budgeted pass (tests only; `nil` in use).
    var meter: WorkMeter?

    /// Makes a comparer; by default it shares the bounded process-wide ``EquivalenceCache/shared``.
    public init(
        budget: WorkBudget = WorkBudget(), relativeTolerance: Double = 1e-9, minimumRoundingDigits: Int = 3,
        cache: EquivalenceCache? = .shared
    ) {
        self.budget = budget
        self.relativeTolerance = relativeTolerance
        self.minimumRoundingDigits = minimumRoundingDigits
        self.cache = cache
    }

    /// Compares two answers given as LaTeX or plain text.
    ///
    /// The gold answer is read as forgivingly as a prediction: a labelled value (`(p,q)=(3,2)`,
    /// `|AB|=1`, `S_{MBCN}:S=7:32`, `AB=4,CD=5`) or a chain `x = 5+5+1 = 11` stands for its last side
    /// when the prediction is not itself a relation; a one-word gold (`\text{yes}`) accepts a
    /// prediction that starts with that word ("Yes, it is possible").
    public func compare(gold: String, prediction: String) -> Verdict {
        guard let cache else { return compareAnswers(gold: gold, prediction: prediction, info: nil) }
        let key = EquivalenceCache.PairKey(
            settings: EquivalenceCache.Settings(
                budget: budget, relativeTolerance: relativeTolerance, minimumRoundingDigits: minimumRoundingDigits),
            gold: gold, prediction: prediction)
        if let v = cache.verdict(key) { return v }
        let v = compareAnswers(gold: gold, prediction: prediction, info: goldInfo(gold))
        cache.store(key, v)
        return v
    }

    /// What is read from `gold` before the prediction is looked at, from the cache (`nil` without one).
    func goldInfo(_ gold: String) -> EquivalenceCache.GoldInfo? {
        guard let cache else { return nil }
        return cache.goldInfo(EquivalenceCache.GoldKey(budget: budget, text: gold)) {
            var b = budget
            let parsed: Result<EquivalenceCache.ParsedGold, EquivalenceCache.ParseFailure>
            do {
                let answer = try AnswerParser.parse(gold, budget: &b)
                parsed = .success(EquivalenceCache.ParsedGold(answer: answer, steps: budget.steps - b.steps))
            } catch {
                parsed = .failure(EquivalenceCache.ParseFailure(description: "\(error)"))
            }
            return EquivalenceCache.GoldInfo(
                labelledValue: Self.labelledValue(gold), word: Self.goldWord(gold), ratioParts: Self.ratioParts(gold),
                parsed: parsed)
        }
    }

    /// ``compare(gold:prediction:)`` without the verdict cache; `info` is what was read from `gold`, when cached.
    func compareAnswers(gold: String, prediction: String, info: EquivalenceCache.GoldInfo?) -> Verdict {
        if let reduced = info.map(\.labelledValue) ?? Self.labelledValue(gold) {
            var b = budget
            let p = try? AnswerParser.parse(prediction, budget: &b)
            meter?.record(budget.steps - b.steps, of: budget.steps)
            let predictionIsRelation: Bool
            switch p {
            case .relation?: predictionIsRelation = true
            case .set(let xs, _)?:
                predictionIsRelation = xs.contains { if case .relation = $0 { return true } else { return false } }
            default: predictionIsRelation = Self.labelledValue(prediction) != nil
            }
            if !predictionIsRelation {
                return compareDirect(gold: reduced, prediction: prediction, info: goldInfo(reduced)).prefixed(
                    "gold '\(gold)' labels the value '\(reduced)'")
            }
            let direct = compareDirect(gold: gold, prediction: prediction, info: info)
            if direct.isEquivalent { return direct }
            if let pr = Self.labelledValue(prediction), Self.labels(gold) == Self.labels(prediction) {
                return compareDirect(gold: reduced, prediction: pr, info: goldInfo(reduced)).prefixed(
                    "same labels; values compared")
            }
            return direct
        }
        let v = compareDirect(gold: gold, prediction: prediction, info: info)
        if !v.isEquivalent, let word = info.map(\.word) ?? Self.goldWord(gold) {
            let pred = Self.plainText(prediction).lowercased()
            if pred.hasPrefix(word), pred.dropFirst(word.count).first.map({ !$0.isLetter }) ?? true,
                pred.firstRange(of: " or ") == nil
            {
                return .equivalent("prediction '\(prediction)' starts with the gold word '\(word)'")
            }
        }
        return v
    }

    /// The number of parts of an answer: elements of a list, set or tuple, intervals of a union; 1 otherwise.
    public func partCount(_ answer: String) -> Int {
        var b = budget
        let text = Self.labelledValue(answer) ?? answer
        guard let a = try? AnswerParser.parse(text, budget: &b) else { return 1 }
        switch a {
        case .set(let xs, _), .tuple(let xs), .union(let xs): return max(xs.count, 1)
        default: return 1
        }
    }

    /// `\text{…}`, `**`, `$` and surrounding punctuation removed.
    static func plainText(_ s: String) -> String {
        var t = s
        for (a, b) in [("\\text{", ""), ("\\textbf{", ""), ("\\mathrm{", ""), ("}", ""), ("{", ""), ("**", ""), ("$", "")] {
            t = t.replacingAll(a, with: b)
        }
        return t.trimmedText().trimmingCharacters(in: CharacterSet(charactersIn: ".!:"))
    }

    /// A gold answer that is one word of two or more letters (`\text{yes}`, `Evelyn`), lowercased.
    static func goldWord(_ gold: String) -> String? {
        let t = plainText(gold)
        guard t.count >= 2, t.allSatisfy({ $0.isASCII && $0.isLetter }) else { return nil }
        return t.lowercased()
    }

    /// Top-level pieces of `s` split at `separator` (outside brackets and braces).
    static func topLevelSplit(_ s: String, _ separator: Character) -> [String] {
        if let sep = separator.asciiValue {
            // ASCII text (almost every answer): the same split on bytes, where a byte is a character.
            var copy = s
            let split = copy.withUTF8 { a -> [String]? in
                guard !a.contains(where: { $0 >= 128 }) else { return nil }
                var parts: [String] = []
                var depth = 0
                var previous: UInt8 = 32
                var start = 0
                for i in 0..<a.count {
                    let c = a[i]
                    if c == 40 || c == 91 || c == 123 { depth += 1 }  // ( [ {
                    if c == 41 || c == 93 || c == 125 { depth -= 1 }  // ) ] }
                    if depth == 0, c == sep, previous != 92 {  // not after a backslash
                        parts.append(String(decoding: UnsafeBufferPointer(rebasing: a[start..<i]), as: UTF8.self))
                        start = i + 1
                    }
                    previous = c
                }
                parts.append(String(decoding: UnsafeBufferPointer(rebasing: a[start...]), as: UTF8.self))
                return parts
            }
            if let split { return split }
        }
        var parts: [String] = []
        var current = ""
        var depth = 0
        var previous: Character = " "
        for c in s {
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            if depth == 0, c == separator, previous != "\\" {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
            previous = c
        }
        parts.append(current)
        return parts
    }

    /// The sides of an equation chain `a = b = c` at top level; `nil` without a plain `=`.
    static func equationSides(_ s: String) -> [String]? {
        guard !s.hasText("<"), !s.hasText(">"), !s.hasText("!="), !s.hasText("\\le"), !s.hasText("\\ge"),
            !s.hasText("\\ne")
        else { return nil }
        let sides = topLevelSplit(s, "=").map { $0.trimmedText() }
        return sides.count >= 2 && sides.allSatisfy({ !$0.isEmpty }) ? sides : nil
    }

    /// Whether `s` reads as a label (`x`, `f(x)`, `|AB|`, `(p,q)`, `V_1:V_2`): letters and no digits
    /// outside subscripts.
    static func isLabel(_ s: String) -> Bool {
        var chars = Array(s)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            if chars[i] == "_" {
                i += 1
                if i < chars.count, chars[i] == "{" {
                    while i < chars.count, chars[i] != "}" { i += 1 }
                }
                i += 1
                continue
            }
            out.append(chars[i])
            i += 1
        }
        chars = out
        return chars.contains(where: { $0.isASCII && $0.isLetter }) && !chars.contains(where: \.isNumber)
    }

    /// Whether `s` has no variables (`11`, `(3,2)`, `7:32`, `\sqrt{17}`).
    static func isConstantText(_ s: String) -> Bool {
        var b = WorkBudget()
        guard let tokens = try? MathLexer.tokenize(s, budget: &b), !tokens.isEmpty else { return false }
        return !tokens.contains {
            ($0.kind == .identifier && !["e", "i", "pi"].contains($0.text)) || $0.kind == .word
        }
    }

    /// For a labelled gold answer, the value it labels: `(p,q)=(3,2)` → `(3,2)`, `x = 5+5+1 = 11` →
    /// `11`, `AB=4,CD=5` → `(4, 5)`; `nil` when `s` is not labelled or a side is not a constant.
    static func labelledValue(_ s: String) -> String? {
        var text = s
        for word in ["\\text{ or }", "\\text{ and }", "\\text{or}", "\\text{and}", " or ", " and "] {
            text = text.replacingAll(word, with: ",")
        }
        let parts = topLevelSplit(text, ",")
        var values: [String] = []
        var labels: [String] = []
        for part in parts {
            guard let sides = equationSides(part), isLabel(sides[0]), let last = sides.last, isConstantText(last)
            else { return nil }
            values.append(last)
            labels.append(loose(sides[0]))
        }
        if values.count == 1 { return values[0] }
        // `x = 1 or x = -2`: the values of one unknown, in any order; `AB=4,CD=5`: ordered.
        return Set(labels).count == 1 ? values.joined(separator: ", ") : "(" + values.joined(separator: ", ") + ")"
    }

    /// `7:32` → its parts; `nil` unless `s` is a ratio of two or more non-empty parts.
    static func ratioParts(_ s: String) -> [String]? {
        let parts = topLevelSplit(s, ":").map { $0.trimmedText() }
        return parts.count >= 2 && parts.allSatisfy({ !$0.isEmpty }) ? parts : nil
    }

    /// The labels of a labelled answer, normalised.
    static func labels(_ s: String) -> [String] {
        topLevelSplit(s, ",").compactMap { equationSides($0).map { loose($0[0]) } }
    }

    /// Compares two answers as written, without reading labels.
    /// `info` is what was read from `gold` when the comparer has a cache (`nil`: read it here).
    func compareDirect(gold: String, prediction: String, info: EquivalenceCache.GoldInfo?) -> Verdict {
        if let gr = info.map(\.ratioParts) ?? Self.ratioParts(gold), let pr = Self.ratioParts(prediction) {
            // Ratios as written (`7:32`), term by term.
            guard gr.count == pr.count else { return .notEquivalent("ratios have \(gr.count) and \(pr.count) terms") }
            for (g, p) in zip(gr, pr) {
                let v = compareDirect(gold: g, prediction: p, info: goldInfo(g))
                if !v.isEquivalent { return v.prefixed("ratio terms '\(g)' and '\(p)' differ") }
            }
            return .equivalent("same ratio \(gold)")
        }
        var b = budget
        defer { meter?.record(budget.steps - b.steps, of: budget.steps) }
        let g: MathAnswer
        do {
            switch info?.parsed {
            case .success(let cached)?:
                g = cached.answer
                b.steps -= cached.steps  // the work the parse spent, charged as if it ran here
            case .failure(let cached)?: throw cached
            case nil: g = try AnswerParser.parse(gold, budget: &b)
            }
        } catch {
            if Self.loose(gold) == Self.loose(prediction), !Self.loose(gold).isEmpty {
                return .equivalent("identical text (gold not parseable as math: \(error))")
            }
            return .unknown("gold answer '\(gold)' could not be parsed: \(error)")
        }
        let p: MathAnswer
        do { p = try AnswerParser.parse(prediction, budget: &b) } catch {
            if Self.loose(gold) == Self.loose(prediction), !Self.loose(gold).isEmpty {
                return .equivalent("identical text")
            }
            if let e = error as? MathParseError {
                switch e {
                case .budgetExhausted, .tooLong: return .unknown("prediction exceeds the work budget: \(e)")
                default: break
                }
            }
            return .notEquivalent("prediction '\(prediction)' could not be parsed: \(error)")
        }
        do { return try compare(g, p, budget: &b) } catch {
            return .unknown("work budget exhausted comparing \(g) with \(p)")
        }
    }

    /// Compares two parsed answers.
    public func compare(_ gold: MathAnswer, _ prediction: MathAnswer) -> Verdict {
        var b = budget
        do { return try compare(gold, prediction, budget: &b) } catch {
            return .unknown("work budget exhausted comparing \(gold) with \(prediction)")
        }
    }

    static func loose(_ s: String) -> String {
        String(s.lowercased().filter { !$0.isWhitespace && $0 != "$" && $0 != "." })
    }

    // MARK: Scalars

    /// Compares two scalar expressions, handling top-level percent and degree marks.
    func compareScalars(_ g: MathExpression, _ p: MathExpression, budget: inout WorkBudget) throws -> Verdict {
        switch (g, p) {
        case (.percent(let gv), .percent(let pv)):
            return try compareCore(gv, pv, budget: &budget).prefixed("both percentages")
        case (.percent(let gv), _):
            let v = try compareCore(gv, p, budget: &budget)
            if v.isEquivalent { return v.prefixed("gold is a percentage; prediction gives its number") }
            let w = try compareCore(g, p, budget: &budget)
            return w.isEquivalent ? w.prefixed("gold percentage as a fraction") : v.prefixed("gold is a percentage")
        case (_, .percent(let pv)):
            let v = try compareCore(g, pv, budget: &budget)
            if v.isEquivalent { return v.prefixed("prediction's % sign ignored") }
            let w = try compareCore(g, p, budget: &budget)
            return w.isEquivalent ? w.prefixed("prediction percentage read as a fraction") : v
        case (.degrees(let gv), .degrees(let pv)):
            return try compareCore(gv, pv, budget: &budget).prefixed("both in degrees")
        case (.degrees(let gv), _):
            let v = try compareCore(gv, p, budget: &budget)
            if v.isEquivalent || !p.containsPi { return v.prefixed("gold in degrees") }
            return try compareCore(g, p, budget: &budget).prefixed("gold in degrees, prediction in radians")
        case (_, .degrees(let pv)):
            if g.containsPi { return try compareCore(g, p, budget: &budget).prefixed("prediction in degrees") }
            return try compareCore(g, pv, budget: &budget).prefixed("prediction's degree sign ignored")
        default:
            return try compareCore(g, p, budget: &budget)
        }
    }

    static func infinitySign(_ e: MathExpression) -> Int? {
        switch e {
        case .constant(.infinity): return 1
        case .negation(let x): return infinitySign(x).map { -$0 }
        default: return nil
        }
    }

    /// A decimal literal (possibly negated), as written.
    static func decimalLiteral(_ e: MathExpression) -> MathExpression.Literal? {
        switch e {
        case .number(_, let lit): return lit.isDecimal ? lit : nil
        case .negation(let x): return decimalLiteral(x)
        default: return nil
        }
    }

    static func isLiteral(_ e: MathExpression) -> Bool {
        switch e {
        case .number: return true
        case .negation(let x): return isLiteral(x)
        default: return false
        }
    }

    /// When one side is a decimal literal and the other a computed value, whether the literal is
    /// that value rounded to the digits written.
    func roundingMatch(_ g: MathExpression, _ gv: Double, _ p: MathExpression, _ pv: Double) -> String? {
        for (lit, litValue, other, otherValue) in [(g, gv, p, pv), (p, pv, g, gv)] {
            guard let l = Self.decimalLiteral(lit), !Self.isLiteral(other), l.significantDigits >= minimumRoundingDigits
            else { continue }
            let half = 0.5 * pow(10.0, Double(-l.decimals))
            // A few ulps more: a gold written to 16 digits (4.123105625617661 for √17) is a double's rounding.
            if abs(litValue - otherValue) <= half * (1 + 1e-9) + 4 * max(litValue.ulp, otherValue.ulp) {
                return "\(l.text) is \(otherValue) rounded to \(l.decimals) decimal places"
            }
        }
        return nil
    }

    func close(_ a: Complex, _ b: Complex) -> Bool {
        let scale = max(a.magnitude, b.magnitude)
        return (a - b).magnitude <= relativeTolerance * scale
    }

    func compareCore(_ g: MathExpression, _ p: MathExpression, budget: inout WorkBudget) throws -> Verdict {
        try budget.spend(g.size + p.size)
        if g == p { return .equivalent("identical expressions \(g)") }
        let variables = Set(g.variables).union(p.variables)
        if variables.isEmpty {
            let gi = Self.infinitySign(g)
            let pi = Self.infinitySign(p)
            if gi != nil || pi != nil {
                return gi == pi
                    ? .equivalent("both are \(gi! > 0 ? "+" : "-")∞") : .notEquivalent("\(g) ≠ \(p) (infinity)")
            }
            let ge = try ExactEvaluator.evaluate(g, budget: &budget)
            let pe = try ExactEvaluator.evaluate(p, budget: &budget)
            if let ge, let pe {
                if ge == pe { return .equivalent("both equal \(ge) exactly") }
                if let why = roundingMatch(g, ge.doubleValue, p, pe.doubleValue) { return .equivalent(why) }
                return .notEquivalent("gold = \(ge), prediction = \(pe) (exact)")
            }
            if let gp = try PreciseEvaluator.evaluate(g, budget: &budget),
                let pp = try PreciseEvaluator.evaluate(p, budget: &budget), let same = PreciseEvaluator.equal(gp, pp)
            {
                if same { return .equivalent("equal to 256-bit precision (≈ \(gp.value.doubleValue))") }
                if let why = roundingMatch(g, gp.value.doubleValue, p, pp.value.doubleValue) { return .equivalent(why) }
                return .notEquivalent("gold ≈ \(gp.value.doubleValue), prediction ≈ \(pp.value.doubleValue) (differ at 256-bit precision)")
            }
            guard let gn = try NumericEvaluator.evaluate(g, at: [:], budget: &budget), gn.isFinite else {
                return .unknown("gold \(g) has no finite numeric value")
            }
            guard let pn = try NumericEvaluator.evaluate(p, at: [:], budget: &budget), pn.isFinite else {
                return .notEquivalent("prediction \(p) has no finite numeric value")
            }
            if ge?.isZero == true || pe?.isZero == true {
                let other = ge?.isZero == true ? pn : gn
                return other.magnitude < 1e-13
                    ? .equivalent("both are 0 (|\(other)| < 1e-13)")
                    : .notEquivalent("gold = \(gn), prediction = \(pn)")
            }
            if close(gn, pn) { return .equivalent("both ≈ \(gn) (relative tolerance \(relativeTolerance))") }
            if gn.isReal, pn.isReal, let why = roundingMatch(g, gn.re, p, pn.re) { return .equivalent(why) }
            return .notEquivalent("gold ≈ \(gn), prediction ≈ \(pn)")
        }
        if let gf = try RationalFunction.from(g, budget: &budget),
            let pf = try RationalFunction.from(p, budget: &budget)
        {
            return try gf.equals(pf, budget: &budget)
                ? .equivalent("same rational normal form in \(variables.sorted().joined(separator: ", "))")
                : .notEquivalent("rational normal forms differ: \(g) vs \(p)")
        }
        return try probe(g, p, variables: variables.sorted(), budget: &budget)
    }

    /// Seeded numeric probing: evaluates both sides at deterministic pseudo-random points.
    func probe(_ g: MathExpression, _ p: MathExpression, variables: [String], budget: inout WorkBudget) throws
        -> Verdict
    {
        // Without an explicit i, compare as real functions: points where either side leaves the
        // real domain are skipped ("equal wherever both are defined").
        let realOnly = !g.containsImaginaryUnit && !p.containsImaginaryUnit
        var rng = SplitMix64(seed: 0x5EED_2025)
        var agree = 0
        var invalid = 0
        for k in 0..<budget.probePoints {
            var env: [String: Complex] = [:]
            for v in variables {
                let u = 0.3 + 2.7 * rng.nextUnit()
                env[v] = Complex(k % 3 == 2 ? -u : u)
            }
            guard let a = try NumericEvaluator.evaluate(g, at: env, realOnly: realOnly, budget: &budget),
                let b = try NumericEvaluator.evaluate(p, at: env, realOnly: realOnly, budget: &budget), a.isFinite,
                b.isFinite
            else {
                invalid += 1
                continue
            }
            if close(a, b) || (a - b).magnitude <= 1e-7 * max(1, a.magnitude, b.magnitude) {
                agree += 1
            } else if (a - b).magnitude > 1e-4 * max(a.magnitude, b.magnitude) {
                let point = variables.map { "\($0)=\(env[$0]!.re)" }.joined(separator: ", ")
                return .notEquivalent("at \(point): gold ≈ \(a), prediction ≈ \(b)")
            }
        }
        if agree >= 3 {
            return .equivalent(
                "numerically equal at \(agree) of \(budget.probePoints) seeded points (\(invalid) undefined)")
        }
        return .unknown("numeric probing inconclusive: \(agree) agreeing points, \(invalid) undefined")
    }
}

/// A small deterministic generator (SplitMix64), so probing is reproducible everywhere.
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
