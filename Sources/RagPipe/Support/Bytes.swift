/// Little-endian integers appended to a byte buffer (every binary format here is little-endian).
@inline(__always) package func appendLE<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
}

/// The text of a NUL-terminated C buffer.
package func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
