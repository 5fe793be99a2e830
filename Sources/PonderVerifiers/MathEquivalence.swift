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

    /// Makes a comparer.
    public init(budget: WorkBudget = WorkBudget(), relativeTolerance: Double = 1e-9, minimumRoundingDigits: Int = 3) {
        self.budget = budget
        self.relativeTolerance = relativeTolerance
        self.minimumRoundingDigits = minimumRoundingDigits
    }

    /// Compares two answers given as LaTeX or plain text.
    public func compare(gold: String, prediction: String) -> Verdict {
        var b = budget
        let g: MathAnswer
        do { g = try AnswerParser.parse(gold, budget: &b) } catch {
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
            if abs(litValue - otherValue) <= half * (1 + 1e-9) {
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
