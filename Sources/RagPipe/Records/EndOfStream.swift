import RagPipeSupport

/// The last line of every `chunk` and `embed` output: how many records came before it
/// (docs/FORMATS.md, "End of stream"). A stage killed mid-stream never writes it, so the next
/// stage can tell a stream cut short at a line boundary from a complete one.
public struct EndOfStream: Equatable, Sendable {
    /// Incremented on incompatible changes to the line.
    public static let version = 1

    public var stage: String
    public var records: Int

    public init(stage: String, records: Int) { self.stage = stage; self.records = records }

    /// `{"end_of_stream":{"version":1,"stage":"…","records":N}}` and a newline.
    public func append(to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.object("end_of_stream") { o in
                o.field("version", Self.version)
                o.field("stage", stage)
                o.field("records", records)
            }
        }
        out.append(0x0A)
    }

    /// The marker a line holds, or nil when it is not one: a marker is an object whose first
    /// key is `end_of_stream` (so records are told apart by their first key, not a full parse).
    public static func parse(_ line: UnsafeRawBufferPointer) throws -> EndOfStream? {
        var s = JSONScanner(line)
        guard (try? s.beginObject()) != nil, let first = try? s.nextKey(), first.equals("end_of_stream") else { return nil }
        var version: Int?, stage: String?, records: Int?
        try s.beginObject()
        while let key = try s.nextKey() {
            if key.equals("version") { version = try s.readInt() }
            else if key.equals("stage") { stage = try s.readString() }
            else if key.equals("records") { records = try s.readInt() }
            else { try s.skipValue() }
        }
        guard try s.nextKey() == nil else { throw s.fail("an end_of_stream line holds only \"end_of_stream\"") }
        try s.expectEnd()
        guard let version, let stage, let records else { throw s.fail("end_of_stream needs \"version\", \"stage\" and \"records\"") }
        guard version <= Self.version else {
            throw s.fail("end_of_stream version \(version) is newer than this ragpipe reads (\(Self.version)); upgrade ragpipe")
        }
        guard records >= 0 else { throw s.fail("end_of_stream records \(records) is negative") }
        return EndOfStream(stage: stage, records: records)
    }
}

/// Checks the end-of-stream lines of one input: each closes the segment of records since the
/// previous one and must count them exactly (streams may be concatenated: one segment per
/// producer, e.g. per Spark part file), and the input must end with one.
public struct StreamSegments {
    public let name: String
    /// Records seen since the last end-of-stream line.
    public private(set) var open = 0
    public private(set) var segments = 0
    private var lastLine = 0
    /// Whether the last line seen was an end-of-stream line.
    public private(set) var terminated = false

    public init(name: String) { self.name = name }

    /// The end-of-stream line at `number`, checked against its segment, or nil for a record line
    /// (which the caller must then count with `record()`).
    public mutating func marker(_ line: UnsafeRawBufferPointer, number: Int) throws -> EndOfStream? {
        lastLine = number
        let marker: EndOfStream?
        do { marker = try EndOfStream.parse(line) } catch let error as JSONScanError {
            throw RagPipeError.malformedRecord(where: "\(name):\(number)", reason: error.description)
        }
        guard let marker else { terminated = false; return nil }
        guard marker.records == open else {
            throw RagPipeError.malformedRecord(where: "\(name):\(number)",
                reason: "end_of_stream from \(marker.stage) counts \(marker.records) records, its segment has \(open): records were lost or added")
        }
        open = 0
        segments += 1
        terminated = true
        return marker
    }

    public mutating func record() { open += 1; terminated = false }

    /// Throws unless the input ended with an end-of-stream line (`allowUnterminated` accepts
    /// streams made without one, by hand or by other tools).
    public func finish(allowUnterminated: Bool) throws {
        guard !terminated && !allowUnterminated else { return }
        // Nothing at all is a missing input (its producer died before writing, or never ran).
        if segments == 0 && open == 0 { throw RagPipeError.emptyInput("\(name) holds no records and no end_of_stream line") }
        throw RagPipeError.malformedRecord(where: lastLine > 0 ? "\(name):\(lastLine)" : name,
            reason: "the stream ends without an end_of_stream line (\(open) records since the last one): the stage that wrote it stopped "
                + "before finishing; a stream made by hand needs --allow-unterminated")
    }
}
