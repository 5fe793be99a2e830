import Foundation

/// A complex number in double precision, for numeric evaluation and probing.
struct Complex: Sendable, Hashable, CustomStringConvertible {
    var re: Double
    var im: Double

    init(_ re: Double, _ im: Double = 0) {
        self.re = re
        self.im = im
    }

    static let i = Complex(0, 1)
    var isFinite: Bool { re.isFinite && im.isFinite }
    var magnitude: Double { hypot(re, im) }
    var isReal: Bool { abs(im) <= 1e-12 * max(1, abs(re)) }

    var description: String {
        if im == 0 { return "\(re)" }
        return "\(re)\(im < 0 ? "-" : "+")\(abs(im))i"
    }

    static func + (a: Complex, b: Complex) -> Complex { Complex(a.re + b.re, a.im + b.im) }
    static func - (a: Complex, b: Complex) -> Complex { Complex(a.re - b.re, a.im - b.im) }
    static prefix func - (a: Complex) -> Complex { Complex(-a.re, -a.im) }
    static func * (a: Complex, b: Complex) -> Complex {
        if a.im == 0 && b.im == 0 { return Complex(a.re * b.re) }
        return Complex(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func / (a: Complex, b: Complex) -> Complex {
        if a.im == 0 && b.im == 0 { return Complex(a.re / b.re) }
        let d = b.re * b.re + b.im * b.im
        return Complex((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d)
    }

    func exp() -> Complex {
        let m = Foundation.exp(re)
        return im == 0 ? Complex(m) : Complex(m * Foundation.cos(im), m * Foundation.sin(im))
    }
    func log() -> Complex {
        if im == 0 && re > 0 { return Complex(Foundation.log(re)) }
        return Complex(Foundation.log(magnitude), atan2(im, re))
    }
    func sqrt() -> Complex {
        if im == 0 { return re >= 0 ? Complex(Foundation.sqrt(re)) : Complex(0, Foundation.sqrt(-re)) }
        let m = magnitude
        let r = Foundation.sqrt((m + re) / 2)
        let s = Foundation.sqrt((m - re) / 2)
        return Complex(r, im < 0 ? -s : s)
    }
    func pow(_ e: Complex) -> Complex {
        if e.im == 0, e.re == e.re.rounded(), abs(e.re) <= 64 {
            // Integer powers by repeated multiplication keep real results real (e.g. (-2)^3).
            var result = Complex(1)
            var base = e.re < 0 ? Complex(1) / self : self
            var n = Int(abs(e.re))
            while n > 0 {
                if n & 1 == 1 { result = result * base }
                base = base * base
                n >>= 1
            }
            return result
        }
        if im == 0, e.im == 0, re > 0 { return Complex(Foundation.pow(re, e.re)) }
        if im == 0, e.im == 0, re < 0, e.re != e.re.rounded() {
            // Real odd roots of negative numbers: (-8)^(1/3) = -2, matching how answers are written.
            let inv = 1 / e.re
            // (A tiny exponent gives a root index past Int's range: not an odd root, and no trap converting it.)
            if abs(inv) < 1e15, abs(inv - inv.rounded()) < 1e-12, Int(inv.rounded()) % 2 != 0 {
                return Complex(-Foundation.pow(-re, e.re))
            }
        }
        if re == 0 && im == 0 { return e.re > 0 ? Complex(0) : Complex(.infinity) }
        return (e * log()).exp()
    }
    func sin() -> Complex {
        im == 0
            ? Complex(Foundation.sin(re))
            : Complex(Foundation.sin(re) * Foundation.cosh(im), Foundation.cos(re) * Foundation.sinh(im))
    }
    func cos() -> Complex {
        im == 0
            ? Complex(Foundation.cos(re))
            : Complex(Foundation.cos(re) * Foundation.cosh(im), -Foundation.sin(re) * Foundation.sinh(im))
    }
}
