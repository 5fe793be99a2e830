/// GPT-2's reversible map between bytes and printable Unicode characters.
///
/// Printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) map to themselves; the other 68 bytes map,
/// in increasing order, to U+0100, U+0101, ... so that every token is a printable string.
public enum ByteLevelAlphabet {
    /// `scalar(for: b)` is the character that stands for byte `b` in byte-level vocabularies.
    public static let byteToScalar: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a byte-level character stands for, or `nil` for characters outside the alphabet.
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 324 { return scalarToByte[Int(v)] }
        return nil
    }

    private static let scalarToByte: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 324)
        for (b, s) in byteToScalar.enumerated() { table[Int(s.value)] = UInt8(b) }
        return table
    }()

    /// The byte-level string for raw bytes (each byte becomes one character).
    public static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(byteToScalar[Int(b)]) }
        return String(s)
    }

    /// The bytes of a byte-level token string, or `nil` when a character is outside the alphabet.
    public static func decode(_ token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.utf8.count)
        for s in token.unicodeScalars {
            guard let b = byte(for: s) else { return nil }
            out.append(b)
        }
        return out
    }
}
