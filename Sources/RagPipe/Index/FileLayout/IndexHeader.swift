import RagPipeSupport

/// The 64-byte header at offset 0 (docs/FORMAT.md, "Header"). `serialize()` and `parse(_:)`
/// mirror each other field by field, in file order, as hnswlib's `saveIndex`/`loadIndex` do:
///
///     0  magic (8)   8  version   12  header size   16  file size (8)   24  table offset (8)
///     32 section count   36 table CRC   40 reserved (20)   60 header CRC over bytes 0..<60
///
/// The magic, the header size and the CRC are not stored: `serialize` writes the values the
/// format fixes and `parse` refuses any other. Checks that need the rest of the file (the file
/// size against the real size, the table's bounds and CRC) are the reader's.
package struct IndexHeader: Equatable, Sendable {
    package static let size = IndexFormat.headerSize
    /// The header CRC covers everything before it.
    static let crcOffset = 60

    package var version: UInt32
    package var fileSize: UInt64
    package var tableOffset: UInt64
    package var sectionCount: UInt32
    package var tableCRC: UInt32

    package init(version: UInt32, fileSize: UInt64, tableOffset: UInt64, sectionCount: UInt32, tableCRC: UInt32) {
        self.version = version; self.fileSize = fileSize; self.tableOffset = tableOffset
        self.sectionCount = sectionCount; self.tableCRC = tableCRC
    }

    package func serialize() -> [UInt8] {
        var out = IndexFormat.magic
        out.reserveCapacity(Self.size)
        appendLE(version, to: &out)
        appendLE(UInt32(Self.size), to: &out)
        appendLE(fileSize, to: &out)
        appendLE(tableOffset, to: &out)
        appendLE(sectionCount, to: &out)
        appendLE(tableCRC, to: &out)
        out.append(contentsOf: [UInt8](repeating: 0, count: Self.crcOffset - out.count))     // reserved
        appendLE(out.withUnsafeBytes { Zlib.crc32($0) }, to: &out)
        return out
    }

    /// Reads the header at the start of `bytes` (the whole file, whose size the messages name).
    /// Checks in the order docs/FORMAT.md gives: length, magic, version, CRC, then the header
    /// size, which only a writer of another layout would get wrong once the CRC matches. The
    /// reserved bytes are not checked: they are kept for additions old readers can ignore, and
    /// the CRC already catches their damage.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(IndexFileError) -> IndexHeader {
        guard bytes.count >= size else {
            throw .corrupt("truncated: \(bytes.count) bytes, shorter than the \(size)-byte header")
        }
        guard Array(bytes[0..<8]) == IndexFormat.magic else { throw .corrupt("not a ragpipe index (bad magic)") }
        let version = bytes.u32(at: 8)
        // Before the CRC: a newer writer may have changed what the CRC covers.
        guard version <= IndexFormat.version else { throw .versionTooNew(version) }
        guard version >= 1 else { throw .corrupt("format version 0 is invalid") }
        let headerSize = bytes.u32(at: 12)
        let header = IndexHeader(version: version, fileSize: bytes.u64(at: 16), tableOffset: bytes.u64(at: 24),
                                 sectionCount: bytes.u32(at: 32), tableCRC: bytes.u32(at: 36))
        guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: bytes[0..<crcOffset])) == bytes.u32(at: crcOffset) else {
            throw .corrupt("header checksum mismatch")
        }
        guard headerSize == UInt32(size) else {
            throw .corrupt("header size field is \(headerSize), version \(version) headers are \(size) bytes")
        }
        return header
    }
}
