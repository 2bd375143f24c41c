import RagPipeSupport

/// One 32-byte entry of the `TXTI` text block table (docs/FORMAT.md, "`TXTI`"), serialized and
/// parsed field by field in file order:
///
///     0 offset in TXTB (8)   8 compressed length   12 uncompressed length   16 first record
///     20 record count   24 CRC-32 of the uncompressed block   28 reserved
///
/// Whether the entry fits its TXTB section and its neighbours is the reader's check
/// (`IndexReader.textBlocks`), which knows both.
package struct TextBlockEntry: Equatable, Sendable {
    package static let size = IndexFormat.blockEntrySize
    /// The table starts with the block count and a reserved word.
    package static let tableHeaderSize = 8

    package var offset: UInt64
    package var compressedLength: UInt32
    package var uncompressedLength: UInt32
    package var firstRecord: UInt32
    package var recordCount: UInt32
    package var crc: UInt32

    package init(offset: UInt64, compressedLength: UInt32, uncompressedLength: UInt32, firstRecord: UInt32,
                 recordCount: UInt32, crc: UInt32) {
        self.offset = offset; self.compressedLength = compressedLength; self.uncompressedLength = uncompressedLength
        self.firstRecord = firstRecord; self.recordCount = recordCount; self.crc = crc
    }

    package func serialize(into out: inout [UInt8]) {
        appendLE(offset, to: &out)
        appendLE(compressedLength, to: &out)
        appendLE(uncompressedLength, to: &out)
        appendLE(firstRecord, to: &out)
        appendLE(recordCount, to: &out)
        appendLE(crc, to: &out)
        appendLE(UInt32(0), to: &out)           // reserved
    }

    /// The entry at `offset` in `raw`; the caller checked the table's length.
    package init(parsing raw: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + Self.size <= raw.count, "text block entry outside its table")
        self.init(offset: raw.u64(at: offset), compressedLength: raw.u32(at: offset + 8), uncompressedLength: raw.u32(at: offset + 12),
                  firstRecord: raw.u32(at: offset + 16), recordCount: raw.u32(at: offset + 20), crc: raw.u32(at: offset + 24))
    }

    /// The `TXTI` section: block count, reserved, the entries.
    package static func serializeTable(_ entries: [TextBlockEntry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(tableHeaderSize + entries.count * size)
        appendLE(UInt32(entries.count), to: &out)
        appendLE(UInt32(0), to: &out)           // reserved
        for e in entries { e.serialize(into: &out) }
        return out
    }

    /// The entries of a `TXTI` section, whose length must be exactly what its count says.
    package static func parseTable(_ raw: UnsafeRawBufferPointer) throws(IndexFileError) -> [TextBlockEntry] {
        guard raw.count >= tableHeaderSize else { throw .corrupt("TXTI section too short") }
        let count = Int(raw.u32(at: 0))
        guard raw.count == tableHeaderSize + count * size else {
            throw .corrupt("TXTI section is \(raw.count) bytes for \(count) blocks")
        }
        return (0..<count).map { TextBlockEntry(parsing: raw, at: tableHeaderSize + $0 * size) }
    }
}
