/// A scalar mathematical expression, as parsed from LaTeX or plain math.
///
/// Division is a product with a power of `-1`; subtraction is a sum with a negation. Numbers keep
/// how they were written (``Literal``) because tolerance is derived from the digits written.
public indirect enum MathExpression: Sendable, Hashable, CustomStringConvertible {
    /// A number literal with its exact value.
    case number(Rational, Literal)
    /// A free variable such as `x` or `a_1`.
    case variable(String)
    /// A named constant.
    case constant(MathConstant)
    /// A sum of terms.
    case sum([MathExpression])
    /// A product of factors.
    case product([MathExpression])
    /// `base ^ exponent`.
    case power(MathExpression, MathExpression)
    /// `-x`.
    case negation(MathExpression)
    /// A function applied to arguments: `sin`, `cos`, `tan`, `sec`, `csc`, `cot`, `arcsin`, `arccos`,
    /// `arctan`, `sinh`, `cosh`, `tanh`, `ln`, `log` (one argument: base 10; two: base then value),
    /// `exp`, `sqrt`, `root` (index then radicand), `abs`, `factorial`, `binom`, `floor`, `ceil`.
    case function(String, [MathExpression])
    /// `a ± b`: stands for two values; expanded into a set by the answer layer.
    case plusMinus(MathExpression, MathExpression)
    /// `x%`, i.e. `x / 100`.
    case percent(MathExpression)
    /// `x°`, i.e. `x · π / 180` radians.
    case degrees(MathExpression)

    /// How a number literal was written.
    public struct Literal: Sendable, Hashable {
        /// The literal as written after normalisation (e.g. `1000`, `0.250`, `1.5e3`).
        public var text: String
        /// Digits written after the decimal point; 0 for integers.
        public var decimals: Int
        /// Significant digits written.
        public var significantDigits: Int
        /// `true` when written with a decimal point or an exponent.
        public var isDecimal: Bool
        /// A literal that was not written (computed).
        public static let computed = Literal(text: "", decimals: 0, significantDigits: 0, isDecimal: false)
    }

    /// Convenience: an integer literal.
    public static func integer(_ n: Int) -> MathExpression {
        .number(Rational(n), Literal(text: "\(n)", decimals: 0, significantDigits: 0, isDecimal: false))
    }

    /// A readable plain-math rendering.
    public var description: String {
        switch self {
        case .number(let r, let lit): return lit.text.isEmpty ? r.description : lit.text
        case .variable(let v): return v
        case .constant(let c): return c.rawValue
        case .sum(let ts):
            return "(" + ts.map(\.description).joined(separator: " + ") + ")"
        case .product(let fs): return "(" + fs.map(\.description).joined(separator: "·") + ")"
        case .power(let b, let e): return "\(b)^\(e)"
        case .negation(let x): return "-\(x)"
        case .function(let f, let args): return "\(f)(" + args.map(\.description).joined(separator: ", ") + ")"
        case .plusMinus(let a, let b): return "(\(a) ± \(b))"
        case .percent(let x): return "\(x)%"
        case .degrees(let x): return "\(x)°"
        }
    }

    /// Free variables, sorted.
    public var variables: [String] {
        var set = Set<String>()
        collectVariables(into: &set)
        return set.sorted()
    }

    private func collectVariables(into set: inout Set<String>) {
        switch self {
        case .variable(let v): set.insert(v)
        case .number, .constant: break
        case .sum(let xs), .product(let xs), .function(_, let xs): for x in xs { x.collectVariables(into: &set) }
        case .power(let a, let b), .plusMinus(let a, let b):
            a.collectVariables(into: &set)
            b.collectVariables(into: &set)
        case .negation(let x), .percent(let x), .degrees(let x): x.collectVariables(into: &set)
        }
    }

    /// Number of nodes in the tree.
    public var size: Int {
        switch self {
        case .number, .variable, .constant: return 1
        case .sum(let xs), .product(let xs), .function(_, let xs): return 1 + xs.reduce(0) { $0 + $1.size }
        case .power(let a, let b), .plusMinus(let a, let b): return 1 + a.size + b.size
        case .negation(let x), .percent(let x), .degrees(let x): return 1 + x.size
        }
    }

    /// `true` when a `±` occurs anywhere.
    public var containsPlusMinus: Bool {
        switch self {
        case .plusMinus: return true
        case .number, .variable, .constant: return false
        case .sum(let xs), .product(let xs), .function(_, let xs): return xs.contains { $0.containsPlusMinus }
        case .power(let a, let b): return a.containsPlusMinus || b.containsPlusMinus
        case .negation(let x), .percent(let x), .degrees(let x): return x.containsPlusMinus
        }
    }

    /// `true` when `π` occurs anywhere.
    public var containsPi: Bool {
        switch self {
        case .constant(let c): return c == .pi
        case .number, .variable: return false
        case .sum(let xs), .product(let xs), .function(_, let xs): return xs.contains { $0.containsPi }
        case .power(let a, let b), .plusMinus(let a, let b): return a.containsPi || b.containsPi
        case .negation(let x), .percent(let x), .degrees(let x): return x.containsPi
        }
    }

    /// `true` when the imaginary unit `i` occurs anywhere.
    public var containsImaginaryUnit: Bool {
        switch self {
        case .constant(let c): return c == .i
        case .number, .variable: return false
        case .sum(let xs), .product(let xs), .function(_, let xs): return xs.contains { $0.containsImaginaryUnit }
        case .power(let a, let b), .plusMinus(let a, let b): return a.containsImaginaryUnit || b.containsImaginaryUnit
        case .negation(let x), .percent(let x), .degrees(let x): return x.containsImaginaryUnit
        }
    }

    /// The two expressions a `±` stands for (the first occurrence chooses `+` then `-`), or `[self]`.
    public func expandingPlusMinus() -> [MathExpression] {
        guard containsPlusMinus else { return [self] }
        func pick(_ e: MathExpression, _ sign: Bool) -> MathExpression {
            switch e {
            case .plusMinus(let a, let b):
                let bb = pick(b, sign)
                return .sum([pick(a, sign), sign ? bb : .negation(bb)])
            case .number, .variable, .constant: return e
            case .sum(let xs): return .sum(xs.map { pick($0, sign) })
            case .product(let xs): return .product(xs.map { pick($0, sign) })
            case .function(let f, let xs): return .function(f, xs.map { pick($0, sign) })
            case .power(let a, let b): return .power(pick(a, sign), pick(b, sign))
            case .negation(let x): return .negation(pick(x, sign))
            case .percent(let x): return .percent(pick(x, sign))
            case .degrees(let x): return .degrees(pick(x, sign))
            }
        }
        return [pick(self, true), pick(self, false)]
    }
}

/// Named constants.
public enum MathConstant: String, Sendable, Hashable {
    /// π.
    case pi
    /// Euler's number e.
    case e
    /// The imaginary unit.
    case i
    /// Positive infinity (for interval endpoints and limits).
    case infinity = "∞"
}

/// A parsed final answer: a scalar, or one of the structures answers take.
public indirect enum MathAnswer: Sendable, Hashable, CustomStringConvertible {
    /// One expression, with an optional unit written after it (e.g. `cm`).
    case scalar(MathExpression, unit: String?)
    /// An ordered tuple written with parentheses, e.g. `(1, 2)` (may also be an open interval).
    case tuple([MathAnswer])
    /// A set: `\{1, 2\}`, `a \pm b`, or a bare list `1, 2` (MATH's "all solutions" convention).
    case set([MathAnswer], bare: Bool)
    /// An interval with open or closed ends.
    case interval(lower: MathExpression, upper: MathExpression, lowerClosed: Bool, upperClosed: Bool)
    /// A union of intervals or sets, `A \cup B`.
    case union([MathAnswer])
    /// A relation chain `e0 op0 e1 op1 e2 ...` with ops among `=`, `<`, `<=`, `>`, `>=`, `!=`.
    case relation([MathExpression], [String])
    /// A matrix (a vector is a matrix with one column or one row).
    case matrix([[MathExpression]])
    /// Text that is not math (names, words, multiple-choice letters), normalised.
    case text(String)

    /// A readable rendering.
    public var description: String {
        switch self {
        case .scalar(let e, let u): return u.map { "\(e) [\($0)]" } ?? e.description
        case .tuple(let xs): return "(" + xs.map(\.description).joined(separator: ", ") + ")"
        case .set(let xs, let bare):
            let inner = xs.map(\.description).joined(separator: ", ")
            return bare ? inner : "{" + inner + "}"
        case .interval(let a, let b, let lc, let uc): return (lc ? "[" : "(") + "\(a), \(b)" + (uc ? "]" : ")")
        case .union(let xs): return xs.map(\.description).joined(separator: " ∪ ")
        case .relation(let es, let ops):
            var s = es[0].description
            for (op, e) in zip(ops, es.dropFirst()) { s += " \(op) \(e)" }
            return s
        case .matrix(let rows):
            return "[" + rows.map { $0.map(\.description).joined(separator: ", ") }.joined(separator: "; ") + "]"
        case .text(let t): return "\"\(t)\""
        }
    }
}
