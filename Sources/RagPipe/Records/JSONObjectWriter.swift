/// One JSON object being written into a byte buffer. It owns its braces and commas: a field call
/// adds the separator it needs, so no caller places one. Fields appear in call order (output is
/// deterministic); values are written by `JSONWriter`.
///
///     JSONObjectWriter.write(to: &out) { o in
///         o.field("rank", 1)
///         o.array("cites") { a in a.element(1); a.element(2) }
///     }
public struct JSONObjectWriter {
    @usableFromInline var out: [UInt8]
    @usableFromInline var empty = true

    @usableFromInline init() { out = [] }

    /// Appends `{…}` to `out`, with the fields `body` writes.
    @inlinable
    public static func write(to out: inout [UInt8], _ body: (inout JSONObjectWriter) throws -> Void) rethrows {
        var writer = JSONObjectWriter()
        swap(&writer.out, &out)             // the buffer moves in and back out: never copied
        defer { swap(&writer.out, &out) }
        writer.out.append(0x7B)
        try body(&writer)
        writer.out.append(0x7D)
    }

    /// The object's bytes alone.
    @inlinable
    public static func bytes(_ body: (inout JSONObjectWriter) throws -> Void) rethrows -> [UInt8] {
        var out: [UInt8] = []
        try write(to: &out, body)
        return out
    }

    @inlinable mutating func key(_ key: StaticString) {
        if !empty { out.append(0x2C) }
        empty = false
        JSONWriter.appendKey(key, to: &out)
    }

    @inlinable public mutating func field(_ key: StaticString, _ value: String) {
        self.key(key); JSONWriter.appendString(value, to: &out)
    }

    /// A string given as its UTF-8 bytes.
    @inlinable public mutating func field(_ key: StaticString, utf8 value: UnsafeRawBufferPointer) {
        self.key(key); JSONWriter.appendStringBytes(value, to: &out)
    }

    @inlinable public mutating func field(_ key: StaticString, _ value: Int) {
        self.key(key); JSONWriter.appendInt(value, to: &out)
    }

    @inlinable public mutating func field(_ key: StaticString, _ value: Bool) {
        self.key(key); JSONWriter.appendBool(value, to: &out)
    }

    /// Shortest round-trip form of the Float itself (not of its Double widening); finite values only.
    @inlinable public mutating func field(_ key: StaticString, _ value: Float) {
        self.key(key); JSONWriter.appendFloat(value, to: &out)
    }

    /// Shortest round-trip form; finite values only.
    @inlinable public mutating func field(_ key: StaticString, _ value: Double) {
        self.key(key); JSONWriter.appendDouble(value, to: &out)
    }

    /// Rounded to `decimals` places, for readable scores and timings; finite values only.
    @inlinable public mutating func field(_ key: StaticString, _ value: Double, decimals: Int) {
        self.key(key); JSONWriter.appendRounded(value, decimals: decimals, to: &out)
    }

    @inlinable public mutating func field(_ key: StaticString, _ values: [String]) {
        self.key(key); JSONWriter.appendStringArray(values, to: &out)
    }

    @inlinable public mutating func field(_ key: StaticString, _ values: [Int]) {
        array(key) { a in for v in values { a.element(v) } }
    }

    @inlinable public mutating func object(_ key: StaticString, _ body: (inout JSONObjectWriter) throws -> Void) rethrows {
        self.key(key); try JSONObjectWriter.write(to: &out, body)
    }

    @inlinable public mutating func array(_ key: StaticString, _ body: (inout JSONArrayWriter) throws -> Void) rethrows {
        self.key(key); try JSONArrayWriter.write(to: &out, body)
    }

    /// A value `body` writes itself (exactly one JSON value, e.g. a base64 string written in place).
    @inlinable public mutating func field(_ key: StaticString, writtenBy body: (inout [UInt8]) throws -> Void) rethrows {
        self.key(key); try body(&out)
    }
}

/// One JSON array being written: owns its brackets and commas, as `JSONObjectWriter` does.
public struct JSONArrayWriter {
    @usableFromInline var out: [UInt8]
    @usableFromInline var empty = true

    @usableFromInline init() { out = [] }

    @inlinable
    public static func write(to out: inout [UInt8], _ body: (inout JSONArrayWriter) throws -> Void) rethrows {
        var writer = JSONArrayWriter()
        swap(&writer.out, &out)
        defer { swap(&writer.out, &out) }
        writer.out.append(0x5B)
        try body(&writer)
        writer.out.append(0x5D)
    }

    @inlinable mutating func separate() {
        if !empty { out.append(0x2C) }
        empty = false
    }

    @inlinable public mutating func element(_ value: String) { separate(); JSONWriter.appendString(value, to: &out) }
    @inlinable public mutating func element(_ value: Int) { separate(); JSONWriter.appendInt(value, to: &out) }
    /// Shortest round-trip form; finite values only.
    @inlinable public mutating func element(_ value: Float) { separate(); JSONWriter.appendFloat(value, to: &out) }

    @inlinable public mutating func object(_ body: (inout JSONObjectWriter) throws -> Void) rethrows {
        separate(); try JSONObjectWriter.write(to: &out, body)
    }

    @inlinable public mutating func array(_ body: (inout JSONArrayWriter) throws -> Void) rethrows {
        separate(); try JSONArrayWriter.write(to: &out, body)
    }
}
