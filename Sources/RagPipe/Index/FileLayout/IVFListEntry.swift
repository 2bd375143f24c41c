import RagPipeSupport

/// One 16-byte entry of the `IVFD` list directory (docs/FORMAT.md, "IVF"), serialized and
/// parsed field by field in file order:
///
///     0 offset of the list in IVFL (8)   8 row count   12 reserved
///
/// Alignment, bounds and the row counts' sum are the reader's checks (`DenseIndex.open`).
package struct IVFListEntry: Equatable, Sendable {
    package static let size = IndexFormat.listEntrySize

    package var offset: UInt64
    package var count: UInt32

    package init(offset: UInt64, count: UInt32) { self.offset = offset; self.count = count }

    package func serialize(into out: inout [UInt8]) {
        appendLE(offset, to: &out)
        appendLE(count, to: &out)
        appendLE(UInt32(0), to: &out)           // reserved
    }

    /// The entry at `offset` in `raw`; the caller checked the directory's length.
    package init(parsing raw: UnsafeRawBufferPointer, at offset: Int) {
        precondition(offset >= 0 && offset + Self.size <= raw.count, "list entry outside its directory")
        self.init(offset: raw.u64(at: offset), count: raw.u32(at: offset + 8))
    }
}
