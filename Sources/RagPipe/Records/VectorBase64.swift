/// Standard base64 (RFC 4648, `+/`, `=` padding) of little-endian float32 vectors, the form
/// vectors take inside JSON Lines streams. Table-driven, no per-element allocation.
public enum VectorBase64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    public static func encodedLength(floats: Int) -> Int { (floats * 4 + 2) / 3 * 4 }

    /// Appends the base64 text of `vector` (little-endian float32) to `out`.
    public static func append(_ vector: UnsafeBufferPointer<Float>, to out: inout [UInt8]) {
        let bytes = UnsafeRawBufferPointer(vector)
        let n = bytes.count
        let outCount = encodedLength(floats: vector.count)
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: outCount))
        out.withUnsafeMutableBufferPointer { dst in
            alphabet.withUnsafeBufferPointer { a in
                var o = start
                var i = 0
                while i + 3 <= n {
                    let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
                    dst[o] = a[Int(v >> 18)]
                    dst[o + 1] = a[Int((v >> 12) & 63)]
                    dst[o + 2] = a[Int((v >> 6) & 63)]
                    dst[o + 3] = a[Int(v & 63)]
                    i += 3; o += 4
                }
                let rest = n - i
                if rest > 0 {
                    let b1: UInt32 = rest > 1 ? UInt32(bytes[i + 1]) : 0
                    let v = UInt32(bytes[i]) << 16 | b1 << 8
                    dst[o] = a[Int(v >> 18)]
                    dst[o + 1] = a[Int((v >> 12) & 63)]
                    dst[o + 2] = rest > 1 ? a[Int((v >> 6) & 63)] : 0x3D
                    dst[o + 3] = 0x3D
                }
            }
        }
    }

    /// Decodes base64 text into float32 values appended to `out`. Returns the number of floats,
    /// or nil when the text is not base64 of a whole number of floats.
    public static func decode(_ text: UnsafeRawBufferPointer, appendingTo out: inout [Float]) -> Int? {
        var n = text.count
        guard n % 4 == 0 else { return nil }
        var padding = 0
        if n > 0 && text[n - 1] == 0x3D { padding += 1 }
        if n > 1 && text[n - 2] == 0x3D { padding += 1 }
        let byteCount = n / 4 * 3 - padding
        guard byteCount % 4 == 0 else { return nil }
        let floats = byteCount / 4
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: floats))
        let ok = out.withUnsafeMutableBufferPointer { floatsOut -> Bool in
            let dst = UnsafeMutableRawPointer(floatsOut.baseAddress! + start).assumingMemoryBound(to: UInt8.self)
            return decodeTable.withUnsafeBufferPointer { t -> Bool in
                let src = text.baseAddress!.assumingMemoryBound(to: UInt8.self)
                var bad: UInt8 = 0
                var i = 0, o = 0
                let fullQuads = padding > 0 ? n / 4 - 1 : n / 4
                for _ in 0..<fullQuads {
                    let a = t[Int(src[i])], b = t[Int(src[i + 1])], c = t[Int(src[i + 2])], d = t[Int(src[i + 3])]
                    bad |= a | b | c | d
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    dst[o] = UInt8(truncatingIfNeeded: v >> 16)
                    dst[o + 1] = UInt8(truncatingIfNeeded: v >> 8)
                    dst[o + 2] = UInt8(truncatingIfNeeded: v)
                    i += 4; o += 3
                }
                if padding > 0 {
                    let a = t[Int(src[i])], b = t[Int(src[i + 1])]
                    let c = padding == 1 ? t[Int(src[i + 2])] : 0
                    bad |= a | b | c
                    let v = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6
                    dst[o] = UInt8(truncatingIfNeeded: v >> 16)
                    if padding == 1 { dst[o + 1] = UInt8(truncatingIfNeeded: v >> 8) }
                }
                // Invalid characters map to 0xFF, which sets the high bits.
                return bad & 0xC0 == 0
            }
        }
        n = floats
        if !ok {
            out.removeLast(floats)
            return nil
        }
        return n
    }
}
