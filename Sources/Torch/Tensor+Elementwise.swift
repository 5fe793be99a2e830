import CTorch

infix operator .== : ComparisonPrecedence
infix operator .!= : ComparisonPrecedence
infix operator .< : ComparisonPrecedence
infix operator .<= : ComparisonPrecedence
infix operator .> : ComparisonPrecedence
infix operator .>= : ComparisonPrecedence
infix operator .&& : LogicalConjunctionPrecedence
infix operator .|| : LogicalDisjunctionPrecedence

extension Tensor {
    @inline(__always)
    func binary(_ op: pt_binary_op, _ other: Tensor, _ name: StaticString) -> Tensor {
        Tensor.make("\(name) of \(shape) \(dtype) and \(other.shape) \(other.dtype)") { pt_binary($0, op, handle, other.handle) }
    }
    @inline(__always)
    func binary<S: TensorScalar>(_ op: pt_binary_op, _ scalar: S, _ name: StaticString) -> Tensor {
        Tensor.make("\(name)") { pt_binary_scalar($0, op, handle, scalar.ptScalar) }
    }
    @inline(__always)
    static func binary<S: TensorScalar>(_ op: pt_binary_op, _ scalar: S, _ t: Tensor, _ name: StaticString) -> Tensor {
        Tensor.make("\(name)") { pt_scalar_binary($0, op, scalar.ptScalar, t.handle) }
    }
    @inline(__always)
    func unary(_ op: pt_unary_op, _ name: StaticString) -> Tensor {
        Tensor.make("\(name)") { pt_unary($0, op, handle) }
    }

    // MARK: Arithmetic with broadcasting

    public static func + (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_ADD, b, "+") }
    public static func - (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_SUB, b, "-") }
    public static func * (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_MUL, b, "*") }
    public static func / (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_DIV, b, "/") }
    public static func + <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_ADD, b, "+") }
    public static func - <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_SUB, b, "-") }
    public static func * <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_MUL, b, "*") }
    public static func / <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_DIV, b, "/") }
    public static func + <S: TensorScalar>(a: S, b: Tensor) -> Tensor { binary(PT_ADD, a, b, "+") }
    public static func - <S: TensorScalar>(a: S, b: Tensor) -> Tensor { binary(PT_SUB, a, b, "-") }
    public static func * <S: TensorScalar>(a: S, b: Tensor) -> Tensor { binary(PT_MUL, a, b, "*") }
    public static func / <S: TensorScalar>(a: S, b: Tensor) -> Tensor { binary(PT_DIV, a, b, "/") }
    public static prefix func - (a: Tensor) -> Tensor { a.unary(PT_NEG, "neg") }

    /// Elementwise power.
    public func pow(_ exponent: Tensor) -> Tensor { binary(PT_POW, exponent, "pow") }
    /// Elementwise power by a scalar.
    public func pow<S: TensorScalar>(_ exponent: S) -> Tensor { binary(PT_POW, exponent, "pow") }
    /// Elementwise remainder with the divisor's sign (Python's `%`).
    public func remainder<S: TensorScalar>(_ divisor: S) -> Tensor { binary(PT_REMAINDER, divisor, "remainder") }
    /// Elementwise division rounded towards minus infinity.
    public func floorDivided<S: TensorScalar>(by divisor: S) -> Tensor { binary(PT_FLOOR_DIVIDE, divisor, "floorDivided") }

    // MARK: Comparison and logic (boolean results)

    public static func .== (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_EQ, b, "==") }
    public static func .!= (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_NE, b, "!=") }
    public static func .< (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_LT, b, "<") }
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_LE, b, "<=") }
    public static func .> (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_GT, b, ">") }
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_GE, b, ">=") }
    public static func .== <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_EQ, b, "==") }
    public static func .!= <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_NE, b, "!=") }
    public static func .< <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_LT, b, "<") }
    public static func .<= <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_LE, b, "<=") }
    public static func .> <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_GT, b, ">") }
    public static func .>= <S: TensorScalar>(a: Tensor, b: S) -> Tensor { a.binary(PT_GE, b, ">=") }
    public static func .&& (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_LOGICAL_AND, b, "&&") }
    public static func .|| (a: Tensor, b: Tensor) -> Tensor { a.binary(PT_LOGICAL_OR, b, "||") }
    /// Elementwise exclusive or.
    public func logicalXor(_ other: Tensor) -> Tensor { binary(PT_LOGICAL_XOR, other, "logicalXor") }
    /// Elementwise negation of truth.
    public func logicalNot() -> Tensor { unary(PT_LOGICAL_NOT, "logicalNot") }

    // MARK: Unary math

    /// e^x.
    public func exp() -> Tensor { unary(PT_EXP, "exp") }
    /// Natural logarithm.
    public func log() -> Tensor { unary(PT_LOG, "log") }
    /// Square root.
    public func sqrt() -> Tensor { unary(PT_SQRT, "sqrt") }
    /// 1 / sqrt(x).
    public func rsqrt() -> Tensor { unary(PT_RSQRT, "rsqrt") }
    /// |x|.
    public func abs() -> Tensor { unary(PT_ABS, "abs") }
    /// x².
    public func square() -> Tensor { unary(PT_SQUARE, "square") }
    /// 1 / x.
    public func reciprocal() -> Tensor { unary(PT_RECIPROCAL, "reciprocal") }
    /// Sine.
    public func sin() -> Tensor { unary(PT_SIN, "sin") }
    /// Cosine.
    public func cos() -> Tensor { unary(PT_COS, "cos") }
    /// Rounded down.
    public func floor() -> Tensor { unary(PT_FLOOR, "floor") }
    /// Rounded up.
    public func ceil() -> Tensor { unary(PT_CEIL, "ceil") }
    /// Rounded half to even.
    public func rounded() -> Tensor { unary(PT_ROUND, "round") }
    /// -1, 0 or 1.
    public func sign() -> Tensor { unary(PT_SIGN, "sign") }
    /// Error function.
    public func erf() -> Tensor { unary(PT_ERF, "erf") }
    /// log(1 + x), accurate near 0.
    public func log1p() -> Tensor { unary(PT_LOG1P, "log1p") }
    /// e^x − 1, accurate near 0.
    public func expm1() -> Tensor { unary(PT_EXPM1, "expm1") }
    /// Whether each element is NaN.
    public func isNaN() -> Tensor { unary(PT_ISNAN, "isNaN") }
    /// Whether each element is ±infinity.
    public func isInfinite() -> Tensor { unary(PT_ISINF, "isInfinite") }
    /// Whether each element is finite.
    public func isFinite() -> Tensor { unary(PT_ISFINITE, "isFinite") }
    /// Values limited to `[min, max]`; either bound may be omitted. Integer bounds keep an integer tensor integral.
    public func clamped<S: TensorScalar>(min: S? = nil, max: S? = nil) -> Tensor {
        Tensor.make("clamped") {
            pt_clamp($0, handle, min != nil, (min?.ptScalar) ?? pt_scalar(), max != nil, (max?.ptScalar) ?? pt_scalar())
        }
    }
}

/// Elementwise minimum (broadcasting).
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { a.binary(PT_MINIMUM, b, "minimum") }
/// Elementwise maximum (broadcasting).
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { a.binary(PT_MAXIMUM, b, "maximum") }
/// Elementwise atan2(a, b).
public func atan2(_ a: Tensor, _ b: Tensor) -> Tensor { a.binary(PT_ATAN2, b, "atan2") }
