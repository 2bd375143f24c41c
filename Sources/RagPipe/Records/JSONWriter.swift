/// Appends JSON tokens to a byte buffer. Output is deterministic: fields in the order written,
/// no insignificant whitespace, non-ASCII text as raw UTF-8, floats in shortest round-trip form.
public enum JSONWriter {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public static func appendString(_ value: String, to out: inout [UInt8]) {
        var value = value
        value.withUTF8 { appendStringBytes(UnsafeRawBufferPointer($0), to: &out) }
    }

    /// `bytes` must be valid UTF-8.
    public static func appendStringBytes(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(0x22)
        var runStart = 0
        var i = 0
        let n = bytes.count
        while i < n {
            // Skip 8 bytes at a time while none needs escaping.
            while i + 8 <= n && !SWAR.needsJSONEscape(bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { i += 8 }
            guard i < n else { break }
            let c = bytes[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C { i += 1; continue }
            if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            default:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            }
            i += 1
            runStart = i
        }
        if runStart < n { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<n])) }
        out.append(0x22)
    }

    @inline(__always) public static func appendKey(_ key: StaticString, to out: inout [UInt8]) {
        out.append(0x22)
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.append(0x22)
        out.append(0x3A)
    }

    public static func appendInt(_ value: Int, to out: inout [UInt8]) {
        if value == 0 { out.append(0x30); return }
        var v = value.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { d in
            while v > 0 { d[count] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30; v /= 10; count += 1 }
            if value < 0 { out.append(0x2D) }
            for j in stride(from: count - 1, through: 0, by: -1) { out.append(d[j]) }
        }
    }

    /// Finite values only (callers reject NaN and infinities before they get here).
    public static func appendFloat(_ value: Float, to out: inout [UInt8]) {
        out.append(contentsOf: value.description.utf8)
    }

    public static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        out.append(contentsOf: value.description.utf8)
    }

    /// A score or timing rounded to a fixed number of decimals, for readable output.
    public static func appendRounded(_ value: Double, decimals: Int, to out: inout [UInt8]) {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        appendDouble((value * scale).rounded() / scale, to: &out)
    }

    public static func appendBool(_ value: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: value ? Array("true".utf8) : Array("false".utf8))
    }

    public static func appendStringArray(_ values: [String], to out: inout [UInt8]) {
        out.append(0x5B)
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(0x2C) }
            appendString(v, to: &out)
        }
        out.append(0x5D)
    }
}

/// Word-at-a-time byte tests ("SIMD within a register"), after the classic bit hacks.
package enum SWAR {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    package static let highs: UInt64 = 0x8080_8080_8080_8080

    /// A high bit set in each byte of `x` that is zero (exact when tested for "any").
    @inline(__always) static func zeroBytes(_ x: UInt64) -> UInt64 { (x &- ones) & ~x & highs }

    /// Whether any byte equals `b`.
    @inline(__always) static func hasByte(_ x: UInt64, _ b: UInt8) -> Bool { zeroBytes(x ^ (ones &* UInt64(b))) != 0 }

    /// Whether any byte is below `n` (n ≤ 128).
    @inline(__always) static func hasLess(_ x: UInt64, _ n: UInt8) -> Bool { ((x &- ones &* UInt64(n)) & ~x & highs) != 0 }

    /// A `"`, a `\` or a control character.
    @inline(__always) static func needsJSONEscape(_ x: UInt64) -> Bool {
        hasLess(x, 0x20) || hasByte(x, 0x22) || hasByte(x, 0x5C)
    }
}
