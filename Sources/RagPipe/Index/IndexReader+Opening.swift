import RagPipeSupport

/// The steps of `IndexReader.init`, in the order docs/FORMAT.md ("Validation a reader must do")
/// gives: header, section table, metadata, dense sections, text blocks. Each reads only what
/// the steps before it have checked, and throws `IndexFileError` without the path.
extension IndexReader {
    /// The header, and its file size against the real one.
    static func header(of bytes: UnsafeRawBufferPointer) throws(IndexFileError) -> IndexHeader {
        let header = try IndexHeader.parse(bytes)
        guard header.fileSize == UInt64(bytes.count) else {
            throw .corrupt(header.fileSize > UInt64(bytes.count)
                ? "truncated: header says \(header.fileSize) bytes, file has \(bytes.count)"
                : "file is \(bytes.count) bytes, header says \(header.fileSize)")
        }
        return header
    }

    /// The section table: its bounds and CRC, then each entry's bounds; kinds this build does
    /// not know are skipped, a known kind may appear once.
    static func sectionTable(of bytes: UnsafeRawBufferPointer, header: IndexHeader) throws(IndexFileError) -> Sections {
        let size = UInt64(bytes.count)
        let offset = header.tableOffset, count = UInt64(header.sectionCount)
        // 14 kinds exist; the bound keeps a damaged count from costing a long parse.
        guard count <= IndexFormat.maxSections else { throw .corrupt("section table: \(count) sections, more than the \(IndexFormat.maxSections) a reader accepts") }
        let length = count * UInt64(SectionTableEntry.size)
        guard offset <= size, length <= size - offset else {
            throw .corrupt("section table out of bounds: \(count) entries of \(SectionTableEntry.size) bytes at offset \(offset), file is \(size) bytes")
        }
        let table = UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + length)])
        guard Zlib.crc32(table) == header.tableCRC else { throw .corrupt("section table checksum mismatch") }
        var sections: [IndexFormat.SectionKind: Section] = [:]
        for (i, entry) in SectionTableEntry.parseTable(table).enumerated() {
            guard entry.offset <= size, entry.length <= size - entry.offset else {
                throw .corrupt("section \(i)\(entry.kind.map { " (\($0.fourCC))" } ?? "") out of bounds: offset \(entry.offset), length \(entry.length), file is \(size) bytes")
            }
            // Unknown kinds are skipped: a newer minor writer may add optional sections.
            guard let kind = entry.kind else { continue }
            guard sections[kind] == nil else { throw .corrupt("duplicate \(kind.fourCC) section") }
            sections[kind] = Section(kind: kind, range: Int(entry.offset)..<Int(entry.offset + entry.length), crc: entry.crc)
        }
        return Sections(bytes: bytes, byKind: sections)
    }

    /// META: its CRC, its fields, and that the header's version can describe what it names.
    static func metadata(in sections: Sections, version: UInt32) throws(IndexFileError) -> IndexMetadata {
        let view = try sections.checked(sections.require(.metadata))
        let metadata: IndexMetadata
        do {
            metadata = try IndexMetadata.parse(view)
        } catch let error as IndexFileError {
            throw error
        } catch {
            throw .corrupt("META section: \(error)")
        }
        if let problem = metadata.problem { throw .corrupt("META: \(problem)") }
        guard metadata.formatVersion <= version else {
            throw .corrupt("META: index kind '\(metadata.kind.rawValue)' with '\(metadata.codes.rawValue)' codes is not readable by this version")
        }
        return metadata
    }

    /// TXTI: its CRC and length, each block inside TXTB, and blocks covering records `0 ..< count`
    /// in order without gaps.
    static func textBlocks(in sections: Sections, count: Int) throws(IndexFileError) -> [Block] {
        let textBlocks = try sections.require(.textBlocks)
        let entries = try TextBlockEntry.parseTable(try sections.checked(sections.require(.textIndex)))
        let available = UInt64(textBlocks.range.count)
        var blocks: [Block] = []
        blocks.reserveCapacity(entries.count)
        var nextRecord = 0
        for (b, entry) in entries.enumerated() {
            let offset = entry.offset, compressed = UInt64(entry.compressedLength)
            let uncompressed = Int(entry.uncompressedLength)
            let first = Int(entry.firstRecord), n = Int(entry.recordCount)
            guard offset <= available, compressed <= available - offset else {
                throw .corrupt("TXTI block \(b) points outside the TXTB section")
            }
            guard first == nextRecord else { throw .corrupt("TXTI block \(b) starts at record \(first), the blocks before it end at \(nextRecord)") }
            guard n > 0, n <= count - nextRecord else {
                throw .corrupt("TXTI block \(b) holds \(n) records, \(count - nextRecord) of the \(count) are left")
            }
            guard uncompressed >= 4 + 4 * (n + 1) else {
                throw .corrupt("TXTI block \(b) is \(uncompressed) bytes uncompressed, too few for the offsets of its \(n) records")
            }
            // deflate expands at most ~1032:1, so a larger claimed size is damage, and checking it
            // here bounds what a damaged table can make a reader allocate.
            guard UInt64(uncompressed) <= compressed * 1032 + 64 else {
                throw .corrupt("TXTI block \(b) claims \(uncompressed) bytes from \(compressed) compressed")
            }
            let start = textBlocks.range.lowerBound + Int(offset)
            blocks.append(Block(range: start..<(start + Int(compressed)), uncompressedSize: uncompressed,
                                firstRecord: first, recordCount: n, crc: entry.crc))
            nextRecord += n
        }
        guard nextRecord == count else { throw .corrupt("TXTI blocks hold \(nextRecord) records, META says \(count)") }
        return blocks
    }
}

extension IndexReader {
    /// The sections of an open file, by kind, with the file's bytes.
    struct Sections {
        let bytes: UnsafeRawBufferPointer
        let byKind: [IndexFormat.SectionKind: Section]

        subscript(kind: IndexFormat.SectionKind) -> Section? { byKind[kind] }

        func require(_ kind: IndexFormat.SectionKind) throws(IndexFileError) -> Section {
            guard let s = byKind[kind] else { throw .corrupt("missing \(kind.fourCC) section") }
            return s
        }

        /// The section's bytes (bounds were checked by `sectionTable`).
        func bytes(of s: Section) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[s.range]) }

        /// The section's bytes after checking its CRC: for the sections read on open.
        func checked(_ s: Section) throws(IndexFileError) -> UnsafeRawBufferPointer {
            let view = bytes(of: s)
            guard Zlib.crc32(view) == s.crc else { throw .corrupt("\(s.kind.fourCC) section checksum mismatch") }
            return view
        }

        /// The section's start, when present, after checking its exact length and alignment.
        func aligned(_ kind: IndexFormat.SectionKind, bytes expected: Int) throws(IndexFileError) -> UnsafeRawPointer? {
            guard let s = byKind[kind] else { return nil }
            guard s.range.count == expected else {
                throw .corrupt("\(kind.fourCC) section is \(s.range.count) bytes, expected \(expected)")
            }
            guard s.range.lowerBound % IndexFormat.alignment == 0 else { throw .corrupt("\(kind.fourCC) section is not 64-byte aligned") }
            return UnsafeRawPointer(bytes.baseAddress! + s.range.lowerBound)
        }
    }
}
