import BigInt

/// Evaluates an expression exactly as a rational number when that is possible.
///
/// Returns `nil` (not an error) when the value is not a rational computable within the budget's
/// limits: variables, `π`, irrational roots, transcendental functions, huge powers.
enum ExactEvaluator {
    static func evaluate(_ e: MathExpression, budget: inout WorkBudget) throws -> Rational? {
        try budget.spend(1)
        switch e {
        case .number(let r, _): return r
        case .variable, .constant, .plusMinus, .degrees: return nil
        case .negation(let x): return try evaluate(x, budget: &budget).map { -$0 }
        case .percent(let x): return try evaluate(x, budget: &budget).map { $0 * Rational(1, 100)! }
        case .sum(let xs):
            var total = Rational.zero
            for x in xs {
                guard let v = try evaluate(x, budget: &budget) else { return nil }
                total = total + v
                try checkSize(total, budget: &budget)
            }
            return total
        case .product(let xs):
            var total = Rational.one
            for x in xs {
                // a / b arrives as a · b^-1.
                if case .power(let b, let ex) = x, case .number(let m1, _) = ex, m1 == Rational(-1) {
                    guard let d = try evaluate(b, budget: &budget), let q = total.divided(by: d) else { return nil }
                    total = q
                } else {
                    guard let v = try evaluate(x, budget: &budget) else { return nil }
                    total = total * v
                }
                try checkSize(total, budget: &budget)
            }
            return total
        case .power(let b, let ex):
            guard let base = try evaluate(b, budget: &budget), let exponent = try evaluate(ex, budget: &budget) else {
                return nil
            }
            return try power(base, exponent, budget: &budget)
        case .function(let name, let args):
            var values: [Rational] = []
            for a in args {
                guard let v = try evaluate(a, budget: &budget) else { return nil }
                values.append(v)
            }
            return try apply(name, values, budget: &budget)
        }
    }

    /// Charges the work of a result of `r`'s size (arithmetic and the gcd that reduces it cost about the square of
    /// its words) and refuses results past `maxBits`.
    static func checkSize(_ r: Rational, budget: inout WorkBudget) throws {
        try Polynomial.charge(r.bitWidth, budget: &budget)
    }

    static func power(_ base: Rational, _ exponent: Rational, budget: inout WorkBudget) throws -> Rational? {
        guard exponent.denominator <= 64, exponent.numerator.magnitude <= BigUInt(budget.maxExponent) else {
            return nil
        }
        let p = Int(exponent.numerator)
        let q = Int(exponent.denominator)
        if base.isZero { return p > 0 ? .zero : nil }
        if base == .one { return .one }
        // Cost estimate: result bits ≈ bits(base) · |p| / q.
        if base.bitWidth * abs(p) / q > budget.maxBits { throw MathParseError.budgetExhausted }
        try budget.spend(base.bitWidth * abs(p) / q / 64 + 1)
        var b = base
        if q > 1 {
            guard let n = Rational.exactRoot(base.numerator, q), let d = Rational.exactRoot(base.denominator, q) else {
                return nil
            }
            if base.numerator < 0 && q % 2 == 0 { return nil }
            b = Rational(n, d)!
        }
        return b.power(p)
    }

    static func apply(_ name: String, _ v: [Rational], budget: inout WorkBudget) throws -> Rational? {
        switch (name, v.count) {
        case ("sqrt", 1): return try power(v[0], Rational(1, 2)!, budget: &budget)
        case ("root", 2):
            guard v[0].isInteger, v[0] > .zero, let inv = Rational.one.divided(by: v[0]) else { return nil }
            return try power(v[1], inv, budget: &budget)
        case ("abs", 1): return v[0].magnitude
        case ("factorial", 1):
            guard v[0].isInteger, v[0] >= .zero, v[0].numerator.magnitude <= BigUInt(budget.maxFactorial) else {
                return nil
            }
            let n = Int(v[0].numerator)
            try budget.spend(n)
            var r = BigInt(1)
            if n >= 2 { for k in 2...n { r *= BigInt(k) } }
            return Rational(r)
        case ("binom", 2):
            guard v[0].isInteger, v[1].isInteger, v[0].numerator.magnitude <= BigUInt(budget.maxFactorial),
                v[1].numerator.magnitude <= BigUInt(budget.maxFactorial)
            else { return nil }
            let n = Int(v[0].numerator)
            let k = Int(v[1].numerator)
            guard n >= 0 else { return nil }
            if k < 0 || k > n { return .zero }
            try budget.spend(k)
            var r = BigInt(1)
            let kk = min(k, n - k)
            if kk > 0 { for i in 1...kk { r = r * BigInt(n - kk + i) / BigInt(i) } }
            return Rational(r)
        case ("floor", 1), ("ceil", 1):
            let (q, rem) = v[0].numerator.quotientAndRemainder(dividingBy: v[0].denominator)
            var f = q
            if rem < 0 { f -= 1 }
            if name == "ceil", rem != 0 { f += 1 }
            return Rational(f)
        case ("log", 2):
            // Exact only for b^k = x with small integer k.
            let b = v[0]
            let x = v[1]
            guard b > .zero, b != .one, x > .zero else { return nil }
            for k in -64...64 {
                if let p = b.power(k), p == x { return Rational(k) }
            }
            return nil
        default: return nil
        }
    }
}
