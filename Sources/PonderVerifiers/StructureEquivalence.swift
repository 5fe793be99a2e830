import PonderCore

/// Comparison of structured answers: tuples, sets, intervals, unions, relations, matrices, text.
extension MathEquivalence {
    func compare(_ g: MathAnswer, _ p: MathAnswer, budget: inout WorkBudget) throws -> Verdict {
        try budget.spend(1)
        switch (g, p) {
        case (.text(let a), .text(let b)):
            return a == b ? .equivalent("same text '\(a)'") : .notEquivalent("text '\(a)' ≠ '\(b)'")
        case (.text(let a), .scalar(.variable(let v), _)), (.scalar(.variable(let v), _), .text(let a)):
            let b = AnswerParser.normaliseText(v)
            return a == b ? .equivalent("same text '\(a)'") : .notEquivalent("text '\(a)' ≠ '\(b)'")
        case (.text(let a), .scalar(.number(let r, _), _)), (.scalar(.number(let r, _), _), .text(let a)):
            if let n = Self.numberWords[a] {
                return Rational(n) == r ? .equivalent("'\(a)' is \(n)") : .notEquivalent("'\(a)' is \(n), not \(r)")
            }
            return .notEquivalent("text '\(a)' is not the number \(r)")
        case (.text(let a), _): return .notEquivalent("gold is the text '\(a)', prediction is \(p)")
        case (_, .text(let b)): return .notEquivalent("gold is \(g), prediction is the text '\(b)'")

        case (.scalar(let ge, let gu), .scalar(let pe, let pu)):
            if let gu, let pu, AnswerParser.normaliseText(gu) != AnswerParser.normaliseText(pu) {
                return .notEquivalent("units differ: '\(gu)' vs '\(pu)'")
            }
            return try compareScalars(ge, pe, budget: &budget)
        case (.scalar(let ge, _), .relation(let es, let ops)):
            if let rhs = Self.valueOfAssignment(es, ops) {
                return try compareScalars(ge, rhs, budget: &budget).prefixed("took the value assigned in \(p)")
            }
            if ops.allSatisfy({ $0 == "=" }), es.allSatisfy({ $0.variables.isEmpty }) {
                // A worked computation such as `95 - 90 = 5`: every side must equal the gold value.
                for side in es {
                    let v = try compareScalars(ge, side, budget: &budget)
                    if !v.isEquivalent { return v.prefixed("side \(side) of the equation chain \(p)") }
                }
                return .equivalent("every side of \(p) equals \(ge)")
            }
            return .notEquivalent("gold is the value \(ge), prediction is the relation \(p)")
        case (.relation(let es, let ops), .scalar(let pe, _)):
            if let rhs = Self.valueOfAssignment(es, ops) {
                return try compareScalars(rhs, pe, budget: &budget).prefixed("gold \(g) assigns a value")
            }
            return .notEquivalent("gold is the relation \(g), prediction is the value \(pe)")
        case (.relation(let ges, let gops), .relation(let pes, let pops)):
            return try compareRelations(ges, gops, pes, pops, budget: &budget)

        case (.set(let gs, _), .set(let ps, _)):
            return try matchUnordered(gs, ps, budget: &budget)
        case (.set(let gs, bare: true), .tuple(let ps)):
            return try matchUnordered(gs, ps, budget: &budget).prefixed("gold is a list")
        case (.tuple(let gs), .tuple(let ps)), (.tuple(let gs), .set(let ps, bare: true)):
            return try matchOrdered(gs, ps, budget: &budget)
        case (.set(let gs, _), _) where gs.count == 1:
            return try compare(gs[0], p, budget: &budget).prefixed("gold is a one-element set")
        case (_, .set(let ps, _)) where ps.count == 1:
            return try compare(g, ps[0], budget: &budget).prefixed("prediction is a one-element set")

        case (.interval, .interval):
            return try compareIntervals(g, p, budget: &budget)
        case (.interval, .tuple(let ps)) where ps.count == 2:
            return try compareIntervals(g, Self.openInterval(ps) ?? p, budget: &budget)
        case (.tuple(let gs), .interval) where gs.count == 2:
            return try compareIntervals(Self.openInterval(gs) ?? g, p, budget: &budget)
        case (.relation(let es, let ops), .tuple(let ps)) where ps.count == 2:
            guard let (_, iv) = Self.interval(es, ops), let pv = Self.openInterval(ps) else {
                return .notEquivalent("gold \(g) is not a bound on one variable, prediction is the pair \(p)")
            }
            return try compareIntervals(iv, pv, budget: &budget).prefixed("gold inequality as an interval")
        case (.tuple(let gs), .relation(let es, let ops)) where gs.count == 2:
            guard let (_, iv) = Self.interval(es, ops), let gv = Self.openInterval(gs) else {
                return .notEquivalent("gold is the pair \(g), prediction \(p) is not a bound on one variable")
            }
            return try compareIntervals(gv, iv, budget: &budget).prefixed("prediction's inequality as an interval")
        case (.interval, .relation(let es, let ops)):
            guard let (_, iv) = Self.interval(es, ops) else {
                return .notEquivalent("gold is the interval \(g), prediction \(p) is not a bound on one variable")
            }
            return try compareIntervals(g, iv, budget: &budget).prefixed("prediction's inequality as an interval")
        case (.relation(let es, let ops), .interval):
            guard let (_, iv) = Self.interval(es, ops) else {
                return .notEquivalent("gold \(g) is not a bound on one variable, prediction is the interval \(p)")
            }
            return try compareIntervals(iv, p, budget: &budget).prefixed("gold inequality as an interval")

        case (.union(let gs), .union(let ps)):
            return try matchUnordered(gs, ps, budget: &budget)
        case (.relation(let es, let ops), .union(let ps)):
            // `1 ≤ |z| ≤ 3/2` against [-3/2, -1] ∪ [1, 3/2]: the real solutions of the bound.
            guard case .union(let gs)? = try Self.absoluteValueSolutions(es, ops, budget: &budget) else {
                return .notEquivalent("gold \(g) is not a bound on |x|, prediction is the union \(p)")
            }
            return try matchUnordered(gs, ps, budget: &budget).prefixed("gold bound on |x| as a union of intervals")
        case (.union(let gs), .relation(let es, let ops)):
            guard case .union(let ps)? = try Self.absoluteValueSolutions(es, ops, budget: &budget) else {
                return .notEquivalent("gold is the union \(g), prediction \(p) is not a bound on |x|")
            }
            return try matchUnordered(gs, ps, budget: &budget).prefixed("prediction's bound on |x| as a union of intervals")
        case (.union(let gs), .set(let ps, bare: true)):
            // `x < 1 or x > 2` against (-∞, 1) ∪ (2, ∞).
            let intervals = ps.compactMap { p -> MathAnswer? in
                if case .relation(let es, let ops) = p { return Self.interval(es, ops)?.1 }
                return nil
            }
            guard intervals.count == ps.count else {
                return .notEquivalent("gold is the union \(g), prediction \(p) is not a list of bounds")
            }
            return try matchUnordered(gs, intervals, budget: &budget).prefixed("prediction's bounds as intervals")

        case (.matrix(let gr), .matrix(let pr)):
            guard gr.count == pr.count, gr.first?.count == pr.first?.count else {
                return .notEquivalent(
                    "matrix shapes differ: \(gr.count)×\(gr.first?.count ?? 0) vs \(pr.count)×\(pr.first?.count ?? 0)")
            }
            return try matchOrdered(
                gr.flatMap { $0 }.map { .scalar($0, unit: nil) }, pr.flatMap { $0 }.map { .scalar($0, unit: nil) },
                budget: &budget)
        case (.matrix(let rows), .tuple(let ps)) where rows.count == 1 || rows.first?.count == 1:
            return try matchOrdered(rows.flatMap { $0 }.map { .scalar($0, unit: nil) }, ps, budget: &budget)
                .prefixed("gold vector as a tuple")
        case (.tuple(let gs), .matrix(let rows)) where rows.count == 1 || rows.first?.count == 1:
            return try matchOrdered(gs, rows.flatMap { $0 }.map { .scalar($0, unit: nil) }, budget: &budget)
                .prefixed("prediction vector as a tuple")

        default:
            return .notEquivalent("gold \(g) and prediction \(p) have different structures")
        }
    }

    static let numberWords: [String: Int] = [
        "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
        "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    ]

    /// For `x = v` (or `v = x`) with a lone variable on one side, the value `v`.
    static func valueOfAssignment(_ es: [MathExpression], _ ops: [String]) -> MathExpression? {
        guard ops == ["="], es.count == 2 else { return nil }
        if case .variable(let v) = es[0], !es[1].variables.contains(v) { return es[1] }
        if case .variable(let v) = es[1], !es[0].variables.contains(v) { return es[0] }
        return nil
    }

    static func openInterval(_ xs: [MathAnswer]) -> MathAnswer? {
        guard xs.count == 2, case .scalar(let a, _) = xs[0], case .scalar(let b, _) = xs[1] else { return nil }
        return .interval(lower: a, upper: b, lowerClosed: false, upperClosed: false)
    }

    /// A bound on one variable as an interval: `x > 3` → (3, ∞), `1 <= x < 2` → [1, 2).
    static func interval(_ es: [MathExpression], _ ops: [String]) -> (String, MathAnswer)? {
        let inf = MathExpression.constant(.infinity)
        func isConst(_ e: MathExpression) -> Bool { e.variables.isEmpty }
        if ops.count == 1, es.count == 2 {
            var (l, op, r) = (es[0], ops[0], es[1])
            if case .variable = r, isConst(l) {
                (l, r) = (r, l)
                op = ["<": ">", ">": "<", "<=": ">=", ">=": "<="][op] ?? op
            }
            guard case .variable(let v) = l, isConst(r) else { return nil }
            switch op {
            case "<": return (v, .interval(lower: .negation(inf), upper: r, lowerClosed: false, upperClosed: false))
            case "<=": return (v, .interval(lower: .negation(inf), upper: r, lowerClosed: false, upperClosed: true))
            case ">": return (v, .interval(lower: r, upper: inf, lowerClosed: false, upperClosed: false))
            case ">=": return (v, .interval(lower: r, upper: inf, lowerClosed: true, upperClosed: false))
            default: return nil
            }
        }
        if ops.count == 2, es.count == 3, let v = boundedQuantity(es[1]), isConst(es[0]), isConst(es[2]) {
            if ops.allSatisfy({ $0 == "<" || $0 == "<=" }) {
                return (
                    v, .interval(lower: es[0], upper: es[2], lowerClosed: ops[0] == "<=", upperClosed: ops[1] == "<=")
                )
            }
            if ops.allSatisfy({ $0 == ">" || $0 == ">=" }) {
                return (
                    v, .interval(lower: es[2], upper: es[0], lowerClosed: ops[1] == ">=", upperClosed: ops[0] == ">=")
                )
            }
        }
        return nil
    }

    /// The real solutions of `a ≤ |x| ≤ b` (any mix of `<` and `≤`) with constant `0 ≤ a ≤ b`, as the union
    /// `[-b, -a] ∪ [a, b]` of two intervals; `nil` for any other relation or when the bounds have no real value.
    /// (The chain read as the range of `|x|`, `[a, b]`, is handled by ``interval(_:_:)``.)
    static func absoluteValueSolutions(_ es: [MathExpression], _ ops: [String], budget: inout WorkBudget) throws -> MathAnswer? {
        guard es.count == 3, ops.count == 2, ops.allSatisfy({ $0 == "<" || $0 == "<=" }),
            case .function("abs", let args) = es[1], args.count == 1, case .variable = args[0],
            es[0].variables.isEmpty, es[2].variables.isEmpty,
            let a = try NumericEvaluator.evaluate(es[0], at: [:], realOnly: true, budget: &budget), a.isReal,
            let b = try NumericEvaluator.evaluate(es[2], at: [:], realOnly: true, budget: &budget), b.isReal,
            a.re >= 0, a.re <= b.re
        else { return nil }
        let (lo, hi) = (ops[0] == "<=", ops[1] == "<=")
        return .union([
            .interval(lower: .negation(es[2]), upper: .negation(es[0]), lowerClosed: hi, upperClosed: lo),
            .interval(lower: es[0], upper: es[2], lowerClosed: lo, upperClosed: hi),
        ])
    }

    /// The name of the quantity bounded in a chain `a < q < b`: a variable, or a function of
    /// variables such as `f(x)` or `|z|`.
    static func boundedQuantity(_ e: MathExpression) -> String? {
        switch e {
        case .variable(let v): return v
        case .function(_, let args) where args.contains(where: { !$0.variables.isEmpty }): return e.description
        case .product(let fs) where fs.count == 2:
            if case .variable = fs[0], case .variable = fs[1] { return e.description }  // f(x)
            return nil
        default: return nil
        }
    }

    func compareIntervals(_ g: MathAnswer, _ p: MathAnswer, budget: inout WorkBudget) throws -> Verdict {
        guard case .interval(let ga, let gb, let gl, let gu) = g, case .interval(let pa, let pb, let pl, let pu) = p
        else {
            return .notEquivalent("gold \(g) and prediction \(p) are not both intervals")
        }
        if gl != pl || gu != pu {
            return .notEquivalent("interval ends differ: \(g) vs \(p) (open/closed)")
        }
        let lower = try compareScalars(ga, pa, budget: &budget)
        guard lower.isEquivalent else { return lower.prefixed("lower ends differ") }
        let upper = try compareScalars(gb, pb, budget: &budget)
        guard upper.isEquivalent else { return upper.prefixed("upper ends differ") }
        return .equivalent("same interval \(g)")
    }

    func matchOrdered(_ gs: [MathAnswer], _ ps: [MathAnswer], budget: inout WorkBudget) throws -> Verdict {
        guard gs.count == ps.count else {
            return .notEquivalent("gold has \(gs.count) entries, prediction \(ps.count)")
        }
        for (i, (g, p)) in zip(gs, ps).enumerated() {
            let v = try compare(g, p, budget: &budget)
            if !v.isEquivalent { return v.prefixed("entry \(i + 1) differs") }
        }
        return .equivalent("all \(gs.count) entries match in order")
    }

    func matchUnordered(_ gs: [MathAnswer], _ ps: [MathAnswer], budget: inout WorkBudget) throws -> Verdict {
        guard gs.count == ps.count else {
            return .notEquivalent("gold has \(gs.count) elements, prediction \(ps.count)")
        }
        var used = [Bool](repeating: false, count: ps.count)
        var sawUnknown = false
        for g in gs {
            var found = false
            for (j, p) in ps.enumerated() where !used[j] {
                let v = try compare(g, p, budget: &budget)
                if v.isEquivalent {
                    used[j] = true
                    found = true
                    break
                }
                if v.outcome == .unknown { sawUnknown = true }
            }
            if !found {
                return sawUnknown
                    ? .unknown("could not decide a match for gold element \(g)")
                    : .notEquivalent("no prediction element matches gold element \(g)")
            }
        }
        return .equivalent("all \(gs.count) elements match (order ignored)")
    }

    /// Relations: equations equal up to a nonzero factor (sides may be swapped); inequalities up to
    /// a positive factor with the same strictness; bounds on one variable as intervals.
    func compareRelations(
        _ ges: [MathExpression], _ gops: [String], _ pes: [MathExpression], _ pops: [String],
        budget: inout WorkBudget
    ) throws -> Verdict {
        if let (gv, gi) = Self.interval(ges, gops), let (pv, pi) = Self.interval(pes, pops) {
            guard gv == pv else { return .notEquivalent("bounds on different variables \(gv), \(pv)") }
            return try compareIntervals(gi, pi, budget: &budget).prefixed("both bounds on \(gv)")
        }
        guard gops.count == 1, pops.count == 1 else {
            guard gops == pops, ges.count == pes.count else { return .notEquivalent("relation chains differ") }
            return try matchOrdered(
                ges.map { .scalar($0, unit: nil) }, pes.map { .scalar($0, unit: nil) }, budget: &budget)
        }
        func canonical(_ es: [MathExpression], _ op: String) -> (MathExpression, String) {
            // Returns f and op such that the relation reads f op 0 with op in {=, !=, >, >=}.
            switch op {
            case "<": return (.sum([es[1], .negation(es[0])]), ">")
            case "<=": return (.sum([es[1], .negation(es[0])]), ">=")
            default: return (.sum([es[0], .negation(es[1])]), op)
            }
        }
        let (gf, gop) = canonical(ges, gops[0])
        let (pf, pop) = canonical(pes, pops[0])
        guard gop == pop else { return .notEquivalent("relation kinds differ: \(gops[0]) vs \(pops[0])") }
        if gop == "=", let gval = Self.valueOfAssignment(ges, gops), let pval = Self.valueOfAssignment(pes, pops),
            Self.assignedVariable(ges) == Self.assignedVariable(pes)
        {
            return try compareScalars(gval, pval, budget: &budget).prefixed("same variable assigned")
        }
        let symmetric = gop == "=" || gop == "!="
        if let g = try RationalFunction.from(gf, budget: &budget),
            let p = try RationalFunction.from(pf, budget: &budget),
            let gDen = g.denominator.terms[.one], g.denominator.terms.count == 1,
            let pDen = p.denominator.terms[.one], p.denominator.terms.count == 1
        {
            // Constant denominators: compare numerators up to a factor.
            guard let sign = g.numerator.proportionalSign(to: p.numerator) else {
                return .notEquivalent("\(gf) and \(pf) are not proportional")
            }
            let denSign = (gDen > .zero) == (pDen > .zero) ? 1 : -1
            if symmetric || sign * denSign > 0 { return .equivalent("relations equal up to a constant factor") }
            return .notEquivalent("inequalities point in opposite directions")
        }
        return try probeRatio(gf, pf, positiveOnly: !symmetric, budget: &budget)
    }

    static func assignedVariable(_ es: [MathExpression]) -> String? {
        if case .variable(let v) = es[0] { return v }
        if case .variable(let v) = es[1] { return v }
        return nil
    }

    /// Numeric check that `g / p` is one constant at every probe point.
    func probeRatio(_ g: MathExpression, _ p: MathExpression, positiveOnly: Bool, budget: inout WorkBudget) throws
        -> Verdict
    {
        let variables = Set(g.variables).union(p.variables).sorted()
        var rng = SplitMix64(seed: 0x5EED_2026)
        var ratio: Complex?
        var agree = 0
        for k in 0..<budget.probePoints {
            var env: [String: Complex] = [:]
            for v in variables { env[v] = Complex((k % 3 == 2 ? -1 : 1) * (0.3 + 2.7 * rng.nextUnit())) }
            guard let a = try NumericEvaluator.evaluate(g, at: env, budget: &budget),
                let b = try NumericEvaluator.evaluate(p, at: env, budget: &budget), a.isFinite, b.isFinite
            else { continue }
            if a.magnitude < 1e-12 && b.magnitude < 1e-12 { continue }
            if a.magnitude < 1e-12 || b.magnitude < 1e-12 {
                return .notEquivalent("one relation holds where the other does not")
            }
            let r = a / b
            if let r0 = ratio {
                guard close(r, r0) || (r - r0).magnitude < 1e-8 else {
                    return .notEquivalent("relations are not proportional")
                }
            } else {
                ratio = r
            }
            agree += 1
        }
        guard agree >= 3, let r = ratio else { return .unknown("numeric probing of the relations was inconclusive") }
        if positiveOnly && !(r.isReal && r.re > 0) {
            return .notEquivalent("inequalities point in opposite directions")
        }
        return .equivalent("relations proportional (factor ≈ \(r)) at \(agree) seeded points")
    }
}
