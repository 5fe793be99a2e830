/// A monomial: variables (and the transcendental atoms `π`, `e`) raised to positive powers.
struct Monomial: Hashable, Sendable {
    var powers: [String: Int]
    static let one = Monomial(powers: [:])

    static func * (a: Monomial, b: Monomial) -> Monomial {
        var p = a.powers
        for (v, k) in b.powers { p[v, default: 0] += k }
        return Monomial(powers: p)
    }
}

/// A polynomial with exact rational coefficients, in canonical form (no zero coefficients).
struct Polynomial: Hashable, Sendable {
    var terms: [Monomial: Rational]

    static let zero = Polynomial(terms: [:])
    static func constant(_ r: Rational) -> Polynomial { r.isZero ? .zero : Polynomial(terms: [.one: r]) }
    static func variable(_ v: String) -> Polynomial { Polynomial(terms: [Monomial(powers: [v: 1]): .one]) }

    var isZero: Bool { terms.isEmpty }

    static func + (a: Polynomial, b: Polynomial) -> Polynomial {
        var t = a.terms
        for (m, c) in b.terms {
            let s = (t[m] ?? .zero) + c
            t[m] = s.isZero ? nil : s
        }
        return Polynomial(terms: t)
    }
    static prefix func - (a: Polynomial) -> Polynomial { Polynomial(terms: a.terms.mapValues { -$0 }) }

    /// `self + b`, charging the exact coefficients' size as work (a sum of rationals is two products and a gcd).
    func plus(_ b: Polynomial, budget: inout WorkBudget) throws -> Polynomial {
        try budget.spend(b.terms.count + 1)
        var t = terms
        for (m, c) in b.terms {
            if let a = t[m] {
                try Self.charge(a.bitWidth + c.bitWidth, budget: &budget)
                let s = a + c
                t[m] = s.isZero ? nil : s
            } else {
                t[m] = c
            }
        }
        return Polynomial(terms: t)
    }

    /// Spends the work of arithmetic on exact coefficients of `bits` bits together: about the square of the words
    /// (schoolbook products and the gcd that reduces the result), under the exact evaluator's bound on size.
    static func charge(_ bits: Int, budget: inout WorkBudget) throws {
        if bits > budget.maxBits { throw MathParseError.budgetExhausted }
        let words = bits / 64 + 1
        try budget.spend(words * words)
    }

    func times(_ b: Polynomial, budget: inout WorkBudget) throws -> Polynomial {
        try budget.spend(terms.count * b.terms.count + 1)
        if terms.count * b.terms.count > budget.maxTerms * 4 { throw MathParseError.budgetExhausted }
        var t: [Monomial: Rational] = [:]
        for (m1, c1) in terms {
            for (m2, c2) in b.terms {
                // Exact coefficients grow with every product and sum: their size is work too (found by the math
                // fuzz target: a long sum of decimals reached coefficients whose gcds took minutes, off the budget).
                try Self.charge(c1.bitWidth + c2.bitWidth, budget: &budget)
                let m = m1 * m2
                let product = c1 * c2
                if let a = t[m] { try Self.charge(a.bitWidth + product.bitWidth, budget: &budget) }
                let s = (t[m] ?? .zero) + product
                t[m] = s.isZero ? nil : s
            }
        }
        if t.count > budget.maxTerms { throw MathParseError.budgetExhausted }
        return Polynomial(terms: t)
    }

    /// `true` when `self == k · other` for some nonzero rational `k` (sign of k returned).
    func proportionalSign(to other: Polynomial) -> Int? {
        guard let (m, a) = terms.first, let b = other.terms[m], terms.count == other.terms.count,
            let k = b.divided(by: a)
        else { return nil }
        for (mono, c) in terms where other.terms[mono] != c * k { return nil }
        return k > .zero ? 1 : -1
    }
}

/// A quotient of polynomials; equality is decided by cross-multiplication, so it is exact.
struct RationalFunction: Sendable {
    var numerator: Polynomial
    var denominator: Polynomial

    /// Builds the normal form of `e`, or `nil` when `e` uses anything but `+ - · /`, integer
    /// powers, rational numbers, variables and the atoms `π` and `e`.
    static func from(_ e: MathExpression, budget: inout WorkBudget) throws -> RationalFunction? {
        try budget.spend(1)
        switch e {
        case .number(let r, _): return RationalFunction(numerator: .constant(r), denominator: .constant(.one))
        case .variable(let v): return RationalFunction(numerator: .variable(v), denominator: .constant(.one))
        case .constant(let c):
            guard c == .pi || c == .e else { return nil }
            return RationalFunction(numerator: .variable("\u{1}" + c.rawValue), denominator: .constant(.one))
        case .negation(let x):
            guard let f = try from(x, budget: &budget) else { return nil }
            return RationalFunction(numerator: -f.numerator, denominator: f.denominator)
        case .percent(let x):
            guard let f = try from(x, budget: &budget) else { return nil }
            return RationalFunction(
                numerator: try f.numerator.times(.constant(Rational(1, 100)!), budget: &budget),
                denominator: f.denominator)
        case .sum(let xs):
            var acc = RationalFunction(numerator: .zero, denominator: .constant(.one))
            for x in xs {
                guard let f = try from(x, budget: &budget) else { return nil }
                if acc.denominator == f.denominator {
                    acc.numerator = try acc.numerator.plus(f.numerator, budget: &budget)
                } else {
                    acc = RationalFunction(
                        numerator: try acc.numerator.times(f.denominator, budget: &budget)
                            .plus(f.numerator.times(acc.denominator, budget: &budget), budget: &budget),
                        denominator: try acc.denominator.times(f.denominator, budget: &budget))
                }
            }
            return acc
        case .product(let xs):
            var acc = RationalFunction(numerator: .constant(.one), denominator: .constant(.one))
            for x in xs {
                guard let f = try from(x, budget: &budget) else { return nil }
                acc = try acc.times(f, budget: &budget)
            }
            return acc
        case .power(let b, let ex):
            guard let k = try ExactEvaluator.evaluate(ex, budget: &budget), k.isInteger,
                k.numerator.magnitude <= 32, let base = try from(b, budget: &budget)
            else { return nil }
            var n = Int(k.numerator)
            var f = base
            if n < 0 {
                guard !f.numerator.isZero else { return nil }
                f = RationalFunction(numerator: f.denominator, denominator: f.numerator)
                n = -n
            }
            var acc = RationalFunction(numerator: .constant(.one), denominator: .constant(.one))
            for _ in 0..<n { acc = try acc.times(f, budget: &budget) }
            return acc
        case .function, .plusMinus, .degrees: return nil
        }
    }

    func times(_ f: RationalFunction, budget: inout WorkBudget) throws -> RationalFunction {
        RationalFunction(
            numerator: try numerator.times(f.numerator, budget: &budget),
            denominator: try denominator.times(f.denominator, budget: &budget))
    }

    /// Exact equality as rational functions.
    func equals(_ other: RationalFunction, budget: inout WorkBudget) throws -> Bool {
        try numerator.times(other.denominator, budget: &budget) == other.numerator.times(denominator, budget: &budget)
    }

    /// `self - other`, as a rational function.
    func minus(_ other: RationalFunction, budget: inout WorkBudget) throws -> RationalFunction {
        RationalFunction(
            numerator: try numerator.times(other.denominator, budget: &budget)
                .plus((-other.numerator).times(denominator, budget: &budget), budget: &budget),
            denominator: try denominator.times(other.denominator, budget: &budget))
    }
}
