import BigInt

/// A binary floating-point number with a 256-bit mantissa: `mantissa · 2^exponent`.
///
/// Used to compare irrational constants (roots, `π`, `e`) far beyond double precision, so that
/// `π` and `π + 10^{-12}`, or `2^{-99}√2` and `0`, are told apart.
struct BigFloat: Sendable, CustomStringConvertible {
    static let precision = 256
    var mantissa: BigInt
    var exponent: Int

    init(mantissa: BigInt, exponent: Int) {
        self.mantissa = mantissa
        self.exponent = exponent
        normalise()
    }

    init(_ r: Rational) {
        // (num << shift) / den with at least `precision` significant bits.
        let shift = Self.precision + r.denominator.magnitude.bitWidth - r.numerator.magnitude.bitWidth + 2
        self.init(mantissa: (r.numerator << shift) / r.denominator, exponent: -shift)
    }

    static let zero = BigFloat(mantissa: 0, exponent: 0)
    var isZero: Bool { mantissa == 0 }
    /// The nearest double (0 or ±infinity outside its range).
    var doubleValue: Double {
        let bits = mantissa.magnitude.bitWidth
        let top = Double(mantissa >> max(0, bits - 60))
        let e = exponent + max(0, bits - 60)
        if e > 2000 { return top < 0 ? -.infinity : .infinity }
        if e < -2000 { return 0 }
        return top * pow2(e)
    }

    private func pow2(_ e: Int) -> Double {
        var r = 1.0
        let step = e > 0 ? 2.0 : 0.5
        for _ in 0..<abs(e) { r *= step }
        return r
    }
    var isNegative: Bool { mantissa < 0 }
    /// ⌊log2 |x|⌋ (Int.min for zero).
    var log2: Int { isZero ? Int.min : exponent + mantissa.magnitude.bitWidth - 1 }
    var description: String {
        "\(Double(mantissa >> max(0, mantissa.magnitude.bitWidth - 60)))·2^\(exponent + max(0, mantissa.magnitude.bitWidth - 60))"
    }

    private mutating func normalise() {
        if mantissa == 0 {
            exponent = 0
            return
        }
        let bits = mantissa.magnitude.bitWidth
        if bits > Self.precision {
            mantissa >>= (bits - Self.precision)
            exponent += bits - Self.precision
        } else if bits < Self.precision {
            mantissa <<= (Self.precision - bits)
            exponent -= Self.precision - bits
        }
    }

    static func + (a: BigFloat, b: BigFloat) -> BigFloat {
        if a.isZero { return b }
        if b.isZero { return a }
        // A term more than 2·precision bits smaller cannot change the result.
        if a.log2 - b.log2 > 2 * precision { return a }
        if b.log2 - a.log2 > 2 * precision { return b }
        let e = min(a.exponent, b.exponent)
        return BigFloat(mantissa: (a.mantissa << (a.exponent - e)) + (b.mantissa << (b.exponent - e)), exponent: e)
    }
    static prefix func - (a: BigFloat) -> BigFloat { BigFloat(mantissa: -a.mantissa, exponent: a.exponent) }
    static func - (a: BigFloat, b: BigFloat) -> BigFloat { a + (-b) }
    static func * (a: BigFloat, b: BigFloat) -> BigFloat {
        BigFloat(mantissa: a.mantissa * b.mantissa, exponent: a.exponent + b.exponent)
    }
    func divided(by b: BigFloat) -> BigFloat? {
        guard !b.isZero else { return nil }
        let shift = Self.precision + 2
        return BigFloat(mantissa: (mantissa << shift) / b.mantissa, exponent: exponent - b.exponent - shift)
    }

    /// The principal `n`-th root of a non-negative number (`nil` for negative ones, except odd roots).
    func root(_ n: Int) -> BigFloat? {
        guard n >= 1 else { return nil }
        if n == 1 || isZero { return self }
        if isNegative { return n % 2 == 1 ? (-self).root(n).map { -$0 } : nil }
        // Scale so the exponent is a multiple of n and the radicand has n·precision bits.
        var k = n * Self.precision - mantissa.magnitude.bitWidth
        k += ((exponent - k) % n + n) % n
        let radicand = mantissa.magnitude << k
        let r = n == 2 ? radicand.squareRoot() : Self.integerRoot(radicand, n)
        return BigFloat(mantissa: BigInt(r), exponent: (exponent - k) / n)
    }

    /// ⌊x^(1/n)⌋ by Newton's method.
    static func integerRoot(_ x: BigUInt, _ n: Int) -> BigUInt {
        if x < 2 { return x }
        var r = BigUInt(1) << ((x.bitWidth + n - 1) / n)
        while true {
            let next = (BigUInt(n - 1) * r + x / r.power(n - 1)) / BigUInt(n)
            if next >= r { return r }
            r = next
        }
    }

    /// π and e to 80 decimal digits (≈ 265 bits).
    static let pi = BigFloat(
        Rational(decimal: "3.1415926535897932384626433832795028841971693993751058209749445923078164062862089986")!)
    static let e = BigFloat(
        Rational(decimal: "2.7182818284590452353602874713526624977572470936999595749669676277240766303535475945")!)
}

/// Evaluates constant expressions built from rationals, `+ − × ÷`, rational powers, roots, `π`,
/// `e`, `%` and degrees with 256-bit precision. Returns `nil` for anything else (variables,
/// transcendental functions, `i`, even roots of negatives); callers fall back to double precision.
enum PreciseEvaluator {
    /// A value and a bound on its rounding error: |error| ≲ 2^(errorLog2 − 256). The bound follows
    /// first-order error propagation through each operation, so cancellation is accounted for.
    struct Value {
        var value: BigFloat
        var errorLog2: Int
    }

    /// ⌊log2 |x|⌋, with a large negative stand-in for zero so the arithmetic below cannot overflow.
    static func lg(_ x: BigFloat) -> Int { x.isZero ? -1_000_000 : x.log2 }

    static func exact(_ v: BigFloat) -> Value { Value(value: v, errorLog2: lg(v)) }

    static func evaluate(_ e: MathExpression, budget: inout WorkBudget) throws -> Value? {
        try budget.spend(8)
        switch e {
        case .number(let r, _): return exact(BigFloat(r))
        case .constant(.pi): return exact(.pi)
        case .constant(.e): return exact(.e)
        case .constant, .variable, .plusMinus: return nil
        case .negation(let x):
            return try evaluate(x, budget: &budget).map { Value(value: -$0.value, errorLog2: $0.errorLog2) }
        case .percent(let x):
            return try evaluate(.product([x, .power(.integer(100), .integer(-1))]), budget: &budget)
        case .degrees(let x):
            return try evaluate(.product([x, .constant(.pi), .power(.integer(180), .integer(-1))]), budget: &budget)
        case .sum(let xs):
            var total = BigFloat.zero
            var err = -1_000_000
            for x in xs {
                guard let v = try evaluate(x, budget: &budget) else { return nil }
                total = total + v.value
                err = max(err, v.errorLog2)
            }
            return Value(value: total, errorLog2: max(err, lg(total)) + 1)
        case .product(let xs):
            var acc = exact(BigFloat(Rational.one))
            for x in xs {
                if case .power(let b, let ex) = x, case .number(let m1, _) = ex, m1 == Rational(-1) {
                    guard let d = try evaluate(b, budget: &budget), let q = divide(acc, d) else { return nil }
                    acc = q
                } else {
                    guard let v = try evaluate(x, budget: &budget) else { return nil }
                    acc = multiply(acc, v)
                }
            }
            return acc
        case .power(let b, let ex):
            guard let exponent = try ExactEvaluator.evaluate(ex, budget: &budget), exponent.denominator <= 64,
                exponent.numerator.magnitude <= BigUInt(min(budget.maxExponent, 4096)), let base = try evaluate(b, budget: &budget)
            else { return nil }
            try budget.spend(Int(exponent.numerator.magnitude) + 8)
            guard let rooted = root(base, Int(exponent.denominator)) else { return nil }
            return power(rooted, Int(exponent.numerator))
        case .function(let name, let args):
            switch (name, args.count) {
            case ("sqrt", 1):
                guard let v = try evaluate(args[0], budget: &budget) else { return nil }
                return root(v, 2)
            case ("root", 2):
                guard let n = try ExactEvaluator.evaluate(args[0], budget: &budget), n.isInteger, n > .zero,
                    n.numerator <= 64, let v = try evaluate(args[1], budget: &budget)
                else { return nil }
                return root(v, Int(n.numerator))
            case ("abs", 1):
                guard let v = try evaluate(args[0], budget: &budget) else { return nil }
                return Value(value: v.value.isNegative ? -v.value : v.value, errorLog2: v.errorLog2)
            default:
                guard let r = try ExactEvaluator.evaluate(e, budget: &budget) else { return nil }
                return exact(BigFloat(r))
            }
        }
    }

    /// d(xy) = y·dx + x·dy.
    static func multiply(_ a: Value, _ b: Value) -> Value {
        let p = a.value * b.value
        return Value(value: p, errorLog2: max(a.errorLog2 + lg(b.value), b.errorLog2 + lg(a.value), lg(p)) + 2)
    }

    /// d(x/y) = dx/y + x·dy/y².
    static func divide(_ a: Value, _ b: Value) -> Value? {
        guard !b.value.isZero, let q = a.value.divided(by: b.value) else { return nil }
        let ly = lg(b.value)
        return Value(value: q, errorLog2: max(a.errorLog2 - ly, b.errorLog2 + lg(a.value) - 2 * ly, lg(q)) + 2)
    }

    /// d(x^(1/n)) = r / (n·x) dx.
    static func root(_ v: Value, _ n: Int) -> Value? {
        if n == 1 { return v }
        guard let r = v.value.root(n) else { return nil }
        if v.value.isZero { return Value(value: r, errorLog2: v.errorLog2 / n + 1) }
        return Value(value: r, errorLog2: max(v.errorLog2 + lg(r) - lg(v.value), lg(r)) + 2)
    }

    /// Integer powers by repeated multiplication (reciprocal for negative exponents).
    static func power(_ v: Value, _ k: Int) -> Value? {
        if k < 0 { return power(v, -k).flatMap { divide(exact(BigFloat(Rational.one)), $0) } }
        var result = exact(BigFloat(Rational.one))
        var base = v
        var n = k
        while n > 0 {
            if n & 1 == 1 { result = multiply(result, base) }
            n >>= 1
            if n > 0 { base = multiply(base, base) }
        }
        return result
    }

    /// `true` / `false` when the values are certainly equal / different at this precision, `nil` when
    /// the rounding error could hide a difference.
    static func equal(_ a: Value, _ b: Value) -> Bool? {
        let diff = a.value - b.value
        let err = max(a.errorLog2, b.errorLog2) - BigFloat.precision
        if diff.isZero || diff.log2 < err + 40 { return true }
        if diff.log2 > err + 100 { return false }
        return nil
    }
}
