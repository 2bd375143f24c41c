#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a JSON line could not be read, with the byte offset where reading stopped.
public struct JSONScanError: Error, CustomStringConvertible {
    public let reason: String
    public let offset: Int
    public var description: String { "\(reason) at byte \(offset + 1)" }
}

/// A hand-written pull scanner for one JSON value held in memory (one line of a JSON Lines
/// stream). It reads objects key by key and decodes only what the caller asks for, which is
/// what makes the line streams between stages 5–15× faster than `JSONDecoder`.
/// The bytes must outlive the scanner.
public struct JSONScanner {
    @usableFromInline let base: UnsafePointer<UInt8>
    @usableFromInline let count: Int
    @usableFromInline var pos = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        // An empty buffer still needs a valid pointer; reading stops at `count`.
        base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(bitPattern: 1)!
        count = bytes.count
    }

    func fail(_ reason: String) -> JSONScanError { JSONScanError(reason: reason, offset: pos) }

    @inline(__always) mutating func skipSpace() {
        while pos < count {
            let c = base[pos]
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { pos += 1 } else { return }
        }
    }

    @inline(__always) package mutating func peek() -> UInt8? {
        skipSpace()
        return pos < count ? base[pos] : nil
    }

    mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peek() == byte else { throw fail("expected \(what)") }
        pos += 1
    }

    public mutating func beginObject() throws {
        // Editors on Windows save UTF-8 with a byte-order mark; say so rather than "expected '{'".
        if pos == 0 && count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF {
            throw fail("the line starts with a UTF-8 byte-order mark (EF BB BF); save the file as UTF-8 without one")
        }
        try expect(0x7B, "'{'")
    }

    /// The next key of the current object as raw bytes (keys are compared, not decoded), or nil
    /// at the closing brace. Consumes the `:` after the key.
    public mutating func nextKey() throws -> UnsafeRawBufferPointer? {
        guard var c = peek() else { throw fail("unterminated object") }
        if c == 0x7D { pos += 1; return nil }
        if c == 0x2C {
            pos += 1
            guard let next = peek() else { throw fail("unterminated object") }
            c = next
        }
        guard c == 0x22 else { throw fail("expected a key") }
        pos += 1
        let start = pos
        while pos < count && base[pos] != 0x22 {
            if base[pos] == 0x5C { throw fail("escaped characters in keys are not supported") }
            pos += 1
        }
        guard pos < count else { throw fail("unterminated key") }
        let key = UnsafeRawBufferPointer(start: base + start, count: pos - start)
        pos += 1
        try expect(0x3A, "':'")
        return key
    }

    /// Requires that nothing but white space follows the value just read.
    public mutating func expectEnd() throws {
        if peek() != nil { throw fail("unexpected text after the object") }
    }

    public mutating func readString() throws -> String {
        guard peek() == 0x22 else { throw fail("expected a string") }
        var i = pos + 1
        while true {
            while i + 8 <= count && !SWAR.needsJSONEscape(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) { i += 8 }
            guard i < count else { throw fail("unterminated string") }
            let c = base[i]
            if c == 0x22 { break }
            if c == 0x5C || c < 0x20 {
                // Escapes: copy what was scanned, decode the rest.
                var bytes: [UInt8] = []
                bytes.reserveCapacity(i - pos + 64)
                try readStringBytes(into: &bytes)
                guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
                return text
            }
            i += 1
        }
        let slice = UnsafeBufferPointer(start: base + pos + 1, count: i - pos - 1)
        guard let text = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
        pos = i + 1
        return text
    }

    /// Decodes a string value, escapes included, appending its UTF-8 bytes to `out`.
    public mutating func readStringBytes(into out: inout [UInt8]) throws {
        guard peek() == 0x22 else { throw fail("expected a string") }
        pos += 1
        var runStart = pos
        while pos < count {
            while pos + 8 <= count && !SWAR.needsJSONEscape(UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)) { pos += 8 }
            guard pos < count else { break }
            let c = base[pos]
            if c == 0x22 {
                out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: pos - runStart))
                pos += 1
                return
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != 0x5C { pos += 1; continue }
            out.append(contentsOf: UnsafeBufferPointer(start: base + runStart, count: pos - runStart))
            pos += 1
            guard pos < count else { break }
            let e = base[pos]
            pos += 1
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try readHex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard pos + 1 < count, base[pos] == 0x5C, base[pos + 1] == 0x75 else {
                        throw fail("unpaired surrogate escape")
                    }
                    pos += 2
                    let low = try readHex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("unpaired surrogate escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("unpaired surrogate escape")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default: throw fail("invalid escape")
            }
            runStart = pos
        }
        throw fail("unterminated string")
    }

    mutating func readHex4() throws -> UInt32 {
        guard pos + 4 <= count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    public mutating func readInt() throws -> Int {
        guard let first = peek() else { throw fail("expected a number") }
        var negative = false
        if first == 0x2D { negative = true; pos += 1 }
        var value = 0
        var digits = 0
        while pos < count, base[pos] >= 0x30, base[pos] <= 0x39 {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int(base[pos] - 0x30))
            if o1 || o2 { throw fail("integer out of range") }
            value = s
            pos += 1
            digits += 1
        }
        guard digits > 0 else { throw fail("expected an integer") }
        if pos < count, base[pos] == 0x2E || base[pos] == 0x65 || base[pos] == 0x45 { throw fail("expected an integer") }
        return negative ? -value : value
    }

    public mutating func readDouble() throws -> Double {
        guard peek() != nil else { throw fail("expected a number") }
        let start = pos
        while pos < count {
            let c = base[pos]
            if (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 { pos += 1 } else { break }
        }
        let length = pos - start
        guard length > 0 && length < 64 else { throw fail("expected a number") }
        // strtod needs a terminated string; numbers are short, so copy to the stack.
        return try withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { tmp in
            for j in 0..<length { tmp[j] = CChar(bitPattern: base[start + j]) }
            tmp[length] = 0
            var end: UnsafeMutablePointer<CChar>? = nil
            let value = strtod(tmp.baseAddress!, &end)
            guard let end, tmp.baseAddress!.distance(to: end) == length else {
                pos = start
                throw fail("invalid number")
            }
            return value
        }
    }

    public mutating func readBool() throws -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        throw fail("expected true or false")
    }

    /// True (and consumed) when the next value is `null`.
    public mutating func readNull() -> Bool { matchLiteral("null") }

    mutating func matchLiteral(_ literal: StaticString) -> Bool {
        _ = peek()
        let n = literal.utf8CodeUnitCount
        guard pos + n <= count, memcmp(base + pos, literal.utf8Start, n) == 0 else { return false }
        pos += n
        return true
    }

    /// Reads a JSON array, calling `element` once per value (positioned at the value).
    package mutating func readArray(_ element: (inout JSONScanner) throws -> Void) throws {
        try expect(0x5B, "'['")
        if peek() == 0x5D { pos += 1; return }
        while true {
            try element(&self)
            guard let c = peek() else { throw fail("unterminated array") }
            pos += 1
            if c == 0x5D { return }
            guard c == 0x2C else { throw fail("expected ',' or ']'") }
        }
    }

    public mutating func readStringArray() throws -> [String] {
        var values: [String] = []
        try readArray { values.append(try $0.readString()) }
        return values
    }

    /// Appends the numbers of a JSON array to `out`; returns how many there were.
    @discardableResult
    public mutating func readFloatArray(into out: inout [Float]) throws -> Int {
        var n = 0
        try readArray { out.append(Float(try $0.readDouble())); n += 1 }
        return n
    }

    public mutating func readIntArray() throws -> [Int] {
        var values: [Int] = []
        try readArray { values.append(try $0.readInt()) }
        return values
    }

    /// Skips any value, nested or not.
    /// Arrays and objects nested deeper than this are refused: skipping recurses, and hostile
    /// input (`[[[[…`) would otherwise overflow the stack (found by the fuzz targets).
    public static let maximumNesting = 512

    public mutating func skipValue() throws { try skipValue(depth: 0) }

    mutating func skipValue(depth: Int) throws {
        guard let c = peek() else { throw fail("expected a value") }
        switch c {
        case 0x22:
            pos += 1
            while pos < count {
                let b = base[pos]
                if b == 0x5C { pos += 2; continue }
                pos += 1
                if b == 0x22 { return }
            }
            throw fail("unterminated string")
        case 0x7B, 0x5B:
            guard depth < Self.maximumNesting else { throw fail("arrays and objects nested deeper than \(Self.maximumNesting) levels") }
            let close: UInt8 = c == 0x7B ? 0x7D : 0x5D
            pos += 1
            if peek() == close { pos += 1; return }
            while true {
                if c == 0x7B {
                    guard peek() == 0x22 else { throw fail("expected a key") }
                    try skipValue(depth: depth + 1)
                    try expect(0x3A, "':'")
                }
                try skipValue(depth: depth + 1)
                guard let d = peek() else { throw fail("unterminated value") }
                pos += 1
                if d == close { return }
                guard d == 0x2C else { throw fail("expected ','") }
            }
        case 0x74, 0x66: _ = try readBool()
        case 0x6E: if !readNull() { throw fail("invalid literal") }
        default: _ = try readDouble()
        }
    }
}

extension UnsafeRawBufferPointer {
    /// Compares raw bytes (a scanned key) with a literal.
    @inline(__always) public func equals(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, literal.utf8Start, count) == 0)
    }
}
