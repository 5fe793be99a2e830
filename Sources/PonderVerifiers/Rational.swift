import BigInt

/// An exact rational number `numerator / denominator` on big integers, always reduced, with a
/// positive denominator.
public struct Rational: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The numerator (carries the sign).
    public let numerator: BigInt
    /// The denominator, always positive.
    public let denominator: BigInt

    /// Makes `numerator / denominator`; `nil` when the denominator is zero.
    public init?(_ numerator: BigInt, _ denominator: BigInt) {
        guard denominator != 0 else { return nil }
        var n: BigInt
        var d: BigInt
        if denominator == 1 {
            n = numerator
            d = 1
        } else if numerator.magnitude.bitWidth < 63, denominator.magnitude.bitWidth < 63 {
            // Small values: gcd on machine integers.
            var ni = Int(numerator)
            var di = Int(denominator)
            var a = abs(ni)
            var b = abs(di)
            while b != 0 { (a, b) = (b, a % b) }
            if a > 1 {
                ni /= a
                di /= a
            }
            if di < 0 {
                ni = -ni
                di = -di
            }
            n = BigInt(ni)
            d = BigInt(di)
        } else {
            let g = BigInt(numerator.magnitude.greatestCommonDivisor(with: denominator.magnitude))
            n = numerator / g
            d = denominator / g
            if d < 0 {
                n = -n
                d = -d
            }
        }
        self.numerator = n
        self.denominator = d
    }

    private init(reduced n: BigInt, _ d: BigInt) {
        numerator = n
        denominator = d
    }

    /// An integer as a rational.
    public init(_ value: BigInt) { self.init(reduced: value, 1) }
    /// An integer as a rational.
    public init(_ value: Int) { self.init(reduced: BigInt(value), 1) }

    /// Parses a decimal literal such as `12`, `-3.25`, `.5` or `1.5e-3`; `nil` when malformed.
    public init?(decimal text: String) {
        if text.utf8.count <= 18, let n = Int(text) {
            self.init(reduced: BigInt(n), 1)
            return
        }
        if let open = text.firstIndex(of: "("), text.last == ")" {
            // Repeating decimal a.b(c): a.b + 0.0…c repeating = a.b + c / (10^|c| − 1) / 10^|b|.
            let head = String(text[..<open])
            let period = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
            let fractionDigits =
                head.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first?.count ?? 0
            guard !period.isEmpty, period.count <= 50,
                let base = Rational(decimal: head.hasSuffix(".") ? head + "0" : head),
                let p = BigInt(period)
            else { return nil }
            let ten = BigInt(10)
            let tail = Rational(p, (ten.power(period.count) - 1) * ten.power(fractionDigits))!
            self = base.numerator < 0 ? base - tail : base + tail
            return
        }
        var s = Substring(text)
        var negative = false
        if s.first == "-" {
            negative = true
            s.removeFirst()
        } else if s.first == "+" {
            s.removeFirst()
        }
        var exponent = 0
        if let eIndex = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let e = Int(s[s.index(after: eIndex)...]), abs(e) <= 100_000 else { return nil }
            exponent = e
            s = s[..<eIndex]
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !s.isEmpty, s != "." else { return nil }
        let whole = parts[0]
        let fraction = parts.count == 2 ? parts[1] : ""
        guard (whole + fraction).allSatisfy(\.isASCIIDigitCharacter) else { return nil }
        guard let digits = BigInt(String(whole + fraction).isEmpty ? "0" : String(whole + fraction)) else {
            return nil
        }
        let scale = exponent - fraction.count
        let ten = BigInt(10)
        let value: Rational?
        if scale >= 0 {
            value = Rational(digits * ten.power(scale), 1)
        } else {
            value = Rational(digits, ten.power(-scale))
        }
        guard let v = value else { return nil }
        self = negative ? -v : v
    }

    /// Zero.
    public static let zero = Rational(0)
    /// One.
    public static let one = Rational(1)

    /// `true` when the denominator is 1.
    public var isInteger: Bool { denominator == 1 }
    /// `true` when the value is zero.
    public var isZero: Bool { numerator == 0 }
    /// Total number of bits in numerator and denominator; a measure of how costly the value is.
    public var bitWidth: Int { numerator.magnitude.bitWidth + denominator.magnitude.bitWidth }

    /// The nearest `Double` (may be infinite or zero for extreme values).
    public var doubleValue: Double {
        let nb = numerator.magnitude.bitWidth
        let db = denominator.magnitude.bitWidth
        if nb < 1000 && db < 1000 {
            let n = Double(numerator)
            let d = Double(denominator)
            if n.isFinite && d.isFinite { return n / d }
        }
        // Scale both to about 64 significant bits before converting.
        let shiftN = max(0, nb - 64)
        let shiftD = max(0, db - 64)
        let n = Double(numerator >> shiftN)
        let d = Double(denominator >> shiftD)
        return n / d * pow2(shiftN - shiftD)
    }

    private func pow2(_ e: Int) -> Double {
        if e > 2000 { return .infinity }
        if e < -2000 { return 0 }
        var r = 1.0
        let step = e > 0 ? 2.0 : 0.5
        for _ in 0..<abs(e) { r *= step }
        return r
    }

    /// `"n"` or `"n/d"`.
    public var description: String { isInteger ? "\(numerator)" : "\(numerator)/\(denominator)" }

    /// Sum.
    public static func + (a: Rational, b: Rational) -> Rational {
        if a.denominator == b.denominator { return Rational(a.numerator + b.numerator, a.denominator)! }
        return Rational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)!
    }
    /// Difference.
    public static func - (a: Rational, b: Rational) -> Rational { a + (-b) }
    /// Product.
    public static func * (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)!
    }
    /// Negation.
    public static prefix func - (a: Rational) -> Rational { Rational(reduced: -a.numerator, a.denominator) }
    /// Quotient; `nil` when dividing by zero.
    public func divided(by b: Rational) -> Rational? {
        Rational(numerator * b.denominator, denominator * b.numerator)
    }
    /// Integer power; `nil` for `0^negative`.
    public func power(_ e: Int) -> Rational? {
        if e >= 0 { return Rational(reduced: numerator.power(e), denominator.power(e)) }
        guard !isZero else { return nil }
        return Rational(denominator.power(-e), numerator.power(-e))
    }
    /// Absolute value.
    public var magnitude: Rational { numerator < 0 ? -self : self }

    /// Ordering.
    public static func < (a: Rational, b: Rational) -> Bool {
        a.numerator * b.denominator < b.numerator * a.denominator
    }

    /// The exact integer `k` with `k^n == self`, or `nil`.
    public static func exactRoot(_ x: BigInt, _ n: Int) -> BigInt? {
        if x < 0 { return n % 2 == 1 ? exactRoot(-x, n).map { -$0 } : nil }
        if x < 2 { return x }
        // Newton iteration on integers.
        let m = x.magnitude
        var r = BigUInt(1) << ((m.bitWidth + n - 1) / n)
        while true {
            let rn1 = r.power(n - 1)
            let next = (BigUInt(n - 1) * r + m / rn1) / BigUInt(n)
            if next >= r { break }
            r = next
        }
        return r.power(n) == m ? BigInt(r) : nil
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { isASCII && isNumber }
}
