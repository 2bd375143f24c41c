#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads and writes the JSON Lines records that flow between stages (see docs/FORMATS.md).
public enum RecordCodec {
    /// How `embed` writes vectors: base64 of little-endian float32 in `vector` (the default,
    /// compact and fast), or a JSON number array in `embedding` (readable).
    public enum VectorEncoding: String, CaseIterable, Sendable {
        case base64
        case array
    }

    /// Appends one record line (with the trailing newline). With `vector`, also `model`, `dim` and
    /// the vector in the given encoding.
    public static func appendLine(_ r: ChunkRecord, model: String? = nil,
                                  vector: UnsafeBufferPointer<Float>? = nil,
                                  encoding: VectorEncoding = .base64, to out: inout [UInt8]) {
        var text = r.text
        text.withUTF8 { bytes in
            appendLine(id: r.id, source: r.source, title: r.title, headings: r.headings,
                       text: UnsafeRawBufferPointer(bytes), start: r.start, end: r.end, tokens: r.tokens,
                       position: r.position, origin: r.origin, model: model, vector: vector, encoding: encoding, to: &out)
        }
    }

    /// The same line from parts, with the text as UTF-8 bytes (the chunker writes straight from
    /// the document's bytes).
    public static func appendLine(id: String, source: String, title: String, headings: [String],
                                  text: UnsafeRawBufferPointer, start: Int, end: Int, tokens: Int, position: Int,
                                  origin: ChunkOrigin? = nil, model: String? = nil, vector: UnsafeBufferPointer<Float>? = nil,
                                  encoding: VectorEncoding = .base64, to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.field("id", id)
            o.field("source", source)
            o.field("title", title)
            o.field("headings", headings)
            o.field("text", utf8: text)
            o.field("start", start)
            o.field("end", end)
            o.field("tokens", tokens)
            o.field("position", position)
            origin?.write(to: &o)
            if let vector { writeVectorFields(model: model, vector: vector, encoding: encoding, to: &o) }
        }
        out.append(0x0A)
    }

    /// `"model":…,"dim":…,"vector":"…"` (or `"embedding":[…]`), in an object being written.
    package static func writeVectorFields(model: String?, vector: UnsafeBufferPointer<Float>,
                                          encoding: VectorEncoding, to o: inout JSONObjectWriter) {
        if let model { o.field("model", model) }
        o.field("dim", vector.count)
        switch encoding {
        case .base64:
            o.field("vector", writtenBy: { out in out.append(0x22); VectorBase64.append(vector, to: &out); out.append(0x22) })
        case .array:
            o.array("embedding") { a in for x in vector { a.element(x) } }
        }
    }

    /// What a parsed line carried besides the chunk fields.
    public struct VectorInfo {
        public var model: String?
        /// Number of floats appended to the caller's vector buffer (0 when the line had none).
        public var dimension: Int
        public var declaredDimension: Int?
    }

    /// Parses one record line. A vector (`vector` base64 or `embedding` array), if present, is
    /// appended to `vectors` so a whole stream lands in one contiguous buffer.
    /// Unknown keys are skipped, so newer writers stay readable.
    public static func parseLine(_ line: UnsafeRawBufferPointer, vectors: inout [Float]) throws
        -> (ChunkRecord, VectorInfo)
    {
        var s = JSONScanner(line)
        var r = ChunkRecord(id: "", source: "", title: "", headings: [], text: "", start: 0, end: -1, tokens: 0, position: 0)
        var info = VectorInfo(model: nil, dimension: 0, declaredDimension: nil)
        var sawID = false, sawText = false
        let vectorStart = vectors.count
        do {
            try s.beginObject()
            while let key = try s.nextKey() {
                if key.equals("text") { r.text = try s.readString(); sawText = true }
                else if key.equals("vector") {
                    guard info.dimension == 0 else { throw s.fail("two vectors in one record") }
                    let bytes = try s.readRawString()
                    guard let n = VectorBase64.decode(bytes, appendingTo: &vectors) else {
                        throw s.fail("\"vector\" is not base64 of little-endian float32 values")
                    }
                    info.dimension = n
                }
                else if key.equals("embedding") {
                    guard info.dimension == 0 else { throw s.fail("two vectors in one record") }
                    info.dimension = try s.readFloatArray(into: &vectors)
                }
                else if key.equals("id") { r.id = try s.readString(); sawID = true }
                else if key.equals("source") { r.source = try s.readString() }
                else if key.equals("title") { r.title = try s.readString() }
                else if key.equals("headings") { r.headings = try s.readStringArray() }
                else if key.equals("start") { r.start = try s.readInt() }
                else if key.equals("end") { r.end = try s.readInt() }
                else if key.equals("tokens") { r.tokens = try s.readInt() }
                else if key.equals("position") { r.position = try s.readInt() }
                else if key.equals("pages") {
                    let pages = try s.readIntArray()
                    guard pages.count == 2, pages[0] >= 1, pages[0] <= pages[1] else {
                        throw s.fail("\"pages\" must be [first, last] with 1 <= first <= last")
                    }
                    r.origin = (r.origin ?? ChunkOrigin()); r.origin!.pages = pages[0]...pages[1]
                }
                else if key.equals("anchor") { r.origin = (r.origin ?? ChunkOrigin()); r.origin!.anchor = try s.readString() }
                else if key.equals("element") { r.origin = (r.origin ?? ChunkOrigin()); r.origin!.element = try s.readString() }
                else if key.equals("model") { info.model = try s.readString() }
                else if key.equals("dim") { info.declaredDimension = try s.readInt() }
                else { try s.skipValue() }
            }
            try s.expectEnd()
            guard sawText else { throw s.fail("missing \"text\"") }
            guard sawID else { throw s.fail("missing \"id\"") }
            if r.end < 0 { r.end = r.start + r.text.utf8.count }
            if let declared = info.declaredDimension, info.dimension > 0, declared != info.dimension {
                throw s.fail("\"dim\" is \(declared) but the vector has \(info.dimension) values")
            }
        } catch {
            vectors.removeSubrange(vectorStart...)
            throw error
        }
        return (r, info)
    }
}

extension JSONScanner {
    /// The raw bytes of a string value that has no escapes (base64 has none).
    mutating func readRawString() throws -> UnsafeRawBufferPointer {
        guard peek() == 0x22 else { throw fail("expected a string") }
        let start = pos + 1
        guard let end = memchrQuote(from: start) else { throw fail("unterminated string") }
        pos = end + 1
        return UnsafeRawBufferPointer(start: base + start, count: end - start)
    }

    private func memchrQuote(from start: Int) -> Int? {
        guard start < count, let hit = memchr(base + start, 0x22, count - start) else { return nil }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
    }
}
