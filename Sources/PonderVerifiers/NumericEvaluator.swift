import Foundation

/// Evaluates an expression in complex double precision at given variable values.
///
/// Returns `nil` when the expression has no value there (unknown variable, `±`, domain outside
/// what is implemented); results may be infinite or NaN, which callers treat as "no value".
enum NumericEvaluator {
    /// With `realOnly`, a real function leaving its real domain (`ln` of a negative, an even root
    /// of a negative, a fractional power of a negative) has no value, as on the real line.
    static func evaluate(
        _ e: MathExpression, at env: [String: Complex], realOnly: Bool = false, budget: inout WorkBudget
    ) throws -> Complex? {
        let r = try evaluateAny(e, at: env, realOnly: realOnly, budget: &budget)
        if realOnly, let r, !r.isReal { return nil }
        return r
    }

    private static func evaluateAny(
        _ e: MathExpression, at env: [String: Complex], realOnly: Bool, budget: inout WorkBudget
    ) throws -> Complex? {
        func sub(_ x: MathExpression) throws -> Complex? {
            try evaluate(x, at: env, realOnly: realOnly, budget: &budget)
        }
        try budget.spend(1)
        switch e {
        case .number(let r, _): return Complex(r.doubleValue)
        case .variable(let v): return env[v]
        case .constant(let c):
            switch c {
            case .pi: return Complex(Double.pi)
            case .e: return Complex(M_E)
            case .i: return Complex.i
            case .infinity: return Complex(.infinity)
            }
        case .plusMinus: return nil
        case .negation(let x): return try sub(x).map { -$0 }
        case .percent(let x): return try sub(x).map { $0 / Complex(100) }
        case .degrees(let x): return try sub(x).map { $0 * Complex(Double.pi / 180) }
        case .sum(let xs):
            var t = Complex(0)
            for x in xs {
                guard let v = try sub(x) else { return nil }
                t = t + v
            }
            return t
        case .product(let xs):
            var t = Complex(1)
            for x in xs {
                guard let v = try sub(x) else { return nil }
                t = t * v
            }
            return t
        case .power(let b, let ex):
            guard let base = try sub(b),
                let exponent = try sub(ex)
            else { return nil }
            return base.pow(exponent)
        case .function(let name, let args):
            var v: [Complex] = []
            for a in args {
                guard let x = try sub(a) else { return nil }
                v.append(x)
            }
            return apply(name, v)
        }
    }

    static func real(_ z: Complex, _ f: (Double) -> Double) -> Complex? {
        guard z.isReal else { return nil }
        let r = f(z.re)
        return r.isNaN ? nil : Complex(r)
    }

    static func apply(_ name: String, _ v: [Complex]) -> Complex? {
        guard let x = v.first else { return nil }
        switch (name, v.count) {
        case ("sin", 1): return x.sin()
        case ("cos", 1): return x.cos()
        case ("tan", 1): return x.sin() / x.cos()
        case ("sec", 1): return Complex(1) / x.cos()
        case ("csc", 1): return Complex(1) / x.sin()
        case ("cot", 1): return x.cos() / x.sin()
        case ("arcsin", 1): return real(x, asin)
        case ("arccos", 1): return real(x, acos)
        case ("arctan", 1): return real(x, atan)
        case ("sinh", 1): return (x.exp() - (-x).exp()) / Complex(2)
        case ("cosh", 1): return (x.exp() + (-x).exp()) / Complex(2)
        case ("tanh", 1): return (x.exp() - (-x).exp()) / (x.exp() + (-x).exp())
        case ("ln", 1): return x.log()
        case ("log", 1): return x.log() / Complex(Foundation.log(10))
        case ("log", 2): return v[1].log() / x.log()
        case ("exp", 1): return x.exp()
        case ("sqrt", 1): return x.sqrt()
        case ("root", 2): return v[1].pow(Complex(1) / x)
        case ("abs", 1): return Complex(x.magnitude)
        case ("floor", 1): return real(x) { $0.rounded(.down) }
        case ("ceil", 1): return real(x) { $0.rounded(.up) }
        case ("factorial", 1): return real(x) { $0 < 0 ? .nan : tgamma($0 + 1) }
        case ("binom", 2):
            if v[1].isReal, v[1].re >= 0, v[1].re <= 64, v[1].re == v[1].re.rounded() {
                // n(n-1)…(n-k+1)/k! holds for any n, including symbolic probe values.
                var r = Complex(1)
                let k = Int(v[1].re)
                for j in 0..<k { r = r * (x - Complex(Double(j))) / Complex(Double(j + 1)) }
                return r
            }
            guard x.isReal, v[1].isReal else { return nil }
            let n = x.re
            let k = v[1].re
            if k < 0 || (n >= 0 && k > n && n == n.rounded()) { return Complex(0) }
            return Complex(Foundation.exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1)))
        default: return nil
        }
    }
}
