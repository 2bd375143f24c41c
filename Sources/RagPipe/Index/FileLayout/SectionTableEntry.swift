import RagPipeSupport

/// One 32-byte entry of the section table (docs/FORMAT.md, "Section table"), serialized and
/// parsed field by field in file order:
///
///     0 kind (4 ASCII)   4 flags   8 offset (8)   16 length (8)   24 CRC-32   28 reserved
///
/// Flags and reserved are written as zero and not read: the format keeps them for additions an
/// old reader can ignore, as it ignores unknown kinds. Bounds are checked by the reader, which
/// knows the file size.
package struct SectionTableEntry: Equatable, Sendable {
    package static let size = IndexFormat.sectionEntrySize

    /// The kind as stored, known or not: a reader skips kinds it does not know.
    package var rawKind: UInt32
    package var offset: UInt64
    package var length: UInt64
    package var crc: UInt32

    package var kind: IndexFormat.SectionKind? { IndexFormat.SectionKind(rawValue: rawKind) }

    package init(rawKind: UInt32, offset: UInt64, length: UInt64, crc: UInt32) {
        self.rawKind = rawKind; self.offset = offset; self.length = length; self.crc = crc
    }

    package init(kind: IndexFormat.SectionKind, offset: Int, length: Int, crc: UInt32) {
        self.init(rawKind: kind.rawValue, offset: UInt64(offset), length: UInt64(length), crc: crc)
    }

    package func serialize(into out: inout [UInt8]) {
        appendLE(rawKind, to: &out)
        appendLE(UInt32(0), to: &out)           // flags
        appendLE(offset, to: &out)
        appendLE(length, to: &out)
        appendLE(crc, to: &out)
        appendLE(UInt32(0), to: &out)           // reserved
    }

    /// The entry at `offset` in `table`; the caller sized the table from the header's count.
    package init(parsing table: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + Self.size <= table.count, "section entry outside its table")
        self.init(rawKind: table.u32(at: offset), offset: table.u64(at: offset + 8), length: table.u64(at: offset + 16),
                  crc: table.u32(at: offset + 24))
    }

    /// The whole table, `entries.count × 32` bytes.
    package static func serialize(_ entries: [SectionTableEntry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.count * size)
        for e in entries { e.serialize(into: &out) }
        return out
    }

    /// Every entry of a table whose length the caller computed as `count × 32`.
    package static func parseTable(_ table: UnsafeRawBufferPointer) -> [SectionTableEntry] {
        (0..<(table.count / size)).map { SectionTableEntry(parsing: table, at: $0 * size) }
    }
}
