import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// An open `.ragx` index. Opening maps the file and validates the header, the section table,
/// the metadata and the text block table (their sizes grow with N/records-per-block at most),
/// never the vector or text sections: open cost does not grow with the collection.
/// `verify()` checks every checksum.
public final class IndexReader: @unchecked Sendable {
    public let file: MappedFile
    public let metadata: IndexMetadata
    public var path: String { file.path }
    public var count: Int { metadata.count }
    public var dimension: Int { metadata.dimension }

    struct Section {
        let kind: IndexFormat.SectionKind
        let range: Range<Int>
        let crc: UInt32
    }

    struct Block {
        let range: Range<Int>       // compressed bytes, absolute in the file
        let uncompressedSize: Int
        let firstRecord: Int
        let recordCount: Int
        let crc: UInt32
    }

    let sections: [IndexFormat.SectionKind: Section]
    let blocks: [Block]
    /// The searchable vectors (flat or IVF, fp32/fp16/sq8 codes).
    public let dense: DenseIndex

    public init(path: String) throws {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func corrupt(_ reason: String) -> RagPipeError { .corruptIndex(path: path, reason: reason) }

        let header: IndexHeader
        do throws(IndexFileError) { header = try IndexHeader.parse(bytes) } catch { throw error.error(path: path) }
        let version = header.version
        guard header.fileSize == UInt64(bytes.count) else {
            throw corrupt(header.fileSize > UInt64(bytes.count)
                ? "truncated: header says \(header.fileSize) bytes, file has \(bytes.count)"
                : "file is \(bytes.count) bytes, header says \(header.fileSize)")
        }
        let tableOffset = header.tableOffset
        let sectionCount = UInt64(header.sectionCount)
        let tableLength = sectionCount * UInt64(SectionTableEntry.size)
        // 14 kinds exist; the bound keeps a damaged count from costing a long parse.
        guard sectionCount <= 1024 else { throw corrupt("section table: \(sectionCount) sections, more than the 1024 a reader accepts") }
        guard tableOffset <= UInt64(bytes.count), tableLength <= UInt64(bytes.count) - tableOffset else {
            throw corrupt("section table out of bounds: \(sectionCount) entries of \(SectionTableEntry.size) bytes at offset \(tableOffset), file is \(bytes.count) bytes")
        }
        let table = UnsafeRawBufferPointer(rebasing: bytes[Int(tableOffset)..<Int(tableOffset + tableLength)])
        guard Zlib.crc32(table) == header.tableCRC else { throw corrupt("section table checksum mismatch") }

        var sections: [IndexFormat.SectionKind: Section] = [:]
        for (i, entry) in SectionTableEntry.parseTable(table).enumerated() {
            guard entry.offset <= UInt64(bytes.count), entry.length <= UInt64(bytes.count) - entry.offset else {
                throw corrupt("section \(i)\(entry.kind.map { " (\($0.fourCC))" } ?? "") out of bounds: offset \(entry.offset), length \(entry.length), file is \(bytes.count) bytes")
            }
            // Unknown kinds are skipped: a newer minor writer may add optional sections.
            guard let kind = entry.kind else { continue }
            guard sections[kind] == nil else { throw corrupt("duplicate \(kind.fourCC) section") }
            sections[kind] = Section(kind: kind, range: Int(entry.offset)..<Int(entry.offset + entry.length), crc: entry.crc)
        }
        func require(_ kind: IndexFormat.SectionKind) throws -> Section {
            guard let s = sections[kind] else { throw corrupt("missing \(kind.fourCC) section") }
            return s
        }
        func checked(_ s: Section) throws -> UnsafeRawBufferPointer {
            let view = UnsafeRawBufferPointer(rebasing: bytes[s.range])
            guard Zlib.crc32(view) == s.crc else { throw corrupt("\(s.kind.fourCC) section checksum mismatch") }
            return view
        }

        let metaView = try checked(try require(.metadata))
        let metadata: IndexMetadata
        do {
            metadata = try IndexMetadata.parse(metaView)
        } catch let error as IndexFileError {
            throw error.error(path: path)
        } catch {
            throw corrupt("META section: \(error)")
        }
        if let problem = metadata.problem { throw corrupt("META: \(problem)") }
        // The version the header stamps must describe what META names.
        guard metadata.formatVersion <= version else {
            throw corrupt("META: index kind '\(metadata.kind.rawValue)' with '\(metadata.codes.rawValue)' codes is not readable by this version")
        }
        self.metadata = metadata
        dense = try IndexReader.openDense(bytes: bytes, sections: sections, metadata: metadata, kind: metadata.kind, coding: metadata.codes,
                                          path: path, owner: file)

        let textBlocks = try require(.textBlocks)
        let indexView = try checked(try require(.textIndex))
        let entries: [TextBlockEntry]
        do throws(IndexFileError) { entries = try TextBlockEntry.parseTable(indexView) } catch { throw error.error(path: path) }
        var blocks: [Block] = []
        blocks.reserveCapacity(entries.count)
        var nextRecord = 0
        for (b, entry) in entries.enumerated() {
            let offset = entry.offset
            let compressed = UInt64(entry.compressedLength)
            let uncompressed = Int(entry.uncompressedLength)
            let first = Int(entry.firstRecord), n = Int(entry.recordCount)
            guard offset <= UInt64(textBlocks.range.count), compressed <= UInt64(textBlocks.range.count) - offset else {
                throw corrupt("TXTI block \(b) points outside the TXTB section")
            }
            guard first == nextRecord else { throw corrupt("TXTI block \(b) starts at record \(first), the blocks before it end at \(nextRecord)") }
            guard n > 0, n <= metadata.count - nextRecord else {
                throw corrupt("TXTI block \(b) holds \(n) records, \(metadata.count - nextRecord) of the \(metadata.count) are left")
            }
            guard uncompressed >= 4 + 4 * (n + 1) else {
                throw corrupt("TXTI block \(b) is \(uncompressed) bytes uncompressed, too few for the offsets of its \(n) records")
            }
            // deflate expands at most ~1032:1, so a larger claimed size is damage, and checking it
            // here bounds what a damaged table can make a reader allocate.
            guard UInt64(uncompressed) <= compressed * 1032 + 64 else {
                throw corrupt("TXTI block \(b) claims \(uncompressed) bytes from \(compressed) compressed")
            }
            let start = textBlocks.range.lowerBound + Int(offset)
            blocks.append(Block(range: start..<(start + Int(compressed)), uncompressedSize: uncompressed,
                                firstRecord: first, recordCount: n, crc: entry.crc))
            nextRecord += n
        }
        guard nextRecord == metadata.count else {
            throw corrupt("TXTI blocks hold \(nextRecord) records, META says \(metadata.count)")
        }
        self.sections = sections
        self.blocks = blocks
    }

    /// Checks the dense sections' sizes, alignment and list directory (O(nlist), never O(N))
    /// and returns the view that searches them. Row ids inside lists are checked as they are used.
    static func openDense(bytes: UnsafeRawBufferPointer, sections: [IndexFormat.SectionKind: Section], metadata: IndexMetadata,
                          kind: IndexKind, coding: VectorCoding, path: String, owner: AnyObject) throws -> DenseIndex {
        func corrupt(_ reason: String) -> RagPipeError { .corruptIndex(path: path, reason: reason) }
        let n = metadata.count, d = metadata.dimension
        let codeSize = d * coding.bytesPerComponent
        func view(_ kind: IndexFormat.SectionKind, bytes expected: Int) throws -> UnsafeRawPointer? {
            guard let s = sections[kind] else { return nil }
            guard s.range.count == expected else {
                throw corrupt("\(kind.fourCC) section is \(s.range.count) bytes, expected \(expected)")
            }
            guard s.range.lowerBound % IndexFormat.alignment == 0 else { throw corrupt("\(kind.fourCC) section is not 64-byte aligned") }
            return UnsafeRawPointer(bytes.baseAddress! + s.range.lowerBound)
        }
        let (vectorBytes, overflow) = n.multipliedReportingOverflow(by: d * 4)
        guard !overflow else { throw corrupt("META: \(n) × \(d) vectors overflow") }
        let exact = try view(.vectorsF32, bytes: vectorBytes).map {
            UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Float.self), count: n * d)
        }
        var quantizer: SQ8Quantizer? = nil
        if coding == .sq8 {
            guard let s = sections[.sq8Parameters] else { throw corrupt("missing SQ8P section") }
            guard let q = SQ8Quantizer.parse(UnsafeRawBufferPointer(rebasing: bytes[s.range]), dimension: d) else {
                throw corrupt("SQ8P section is not \(d) finite minimums and \(d) non-negative steps")
            }
            quantizer = q
        }
        switch kind {
        case .flat:
            if coding == .fp32 {
                guard let exact else { throw corrupt("missing VF32 section") }
                return DenseIndex(name: path, count: n, dimension: d, kind: .flat, coding: .fp32, quantizer: nil, exact: exact,
                                  flatCodes: UnsafeRawPointer(exact.baseAddress!), ivf: nil, defaultNProbe: 0, owner: owner)
            }
            guard let codes = try view(coding.flatSection, bytes: n * codeSize) else { throw corrupt("missing \(coding.flatSection.fourCC) section") }
            return DenseIndex(name: path, count: n, dimension: d, kind: .flat, coding: coding, quantizer: quantizer, exact: exact,
                              flatCodes: codes, ivf: nil, defaultNProbe: 0, owner: owner)
        case .ivf:
            let nlist = metadata.dense.nlist
            guard nlist >= 1 && nlist <= n else { throw corrupt("META: nlist \(nlist) out of range 1...\(n)") }
            guard metadata.dense.nprobe >= 1 && metadata.dense.nprobe <= nlist else {
                throw corrupt("META: nprobe \(metadata.dense.nprobe) out of range 1...\(nlist)")
            }
            guard let centroids = try view(.ivfCentroids, bytes: nlist * d * 2) else { throw corrupt("missing IVFC section") }
            guard let directory = try view(.ivfDirectory, bytes: nlist * IndexFormat.listEntrySize) else { throw corrupt("missing IVFD section") }
            guard let listSection = sections[.ivfLists] else { throw corrupt("missing IVFL section") }
            guard listSection.range.lowerBound % IndexFormat.alignment == 0 else { throw corrupt("IVFL section is not 64-byte aligned") }
            let listBase = bytes.baseAddress! + listSection.range.lowerBound
            let dir = UnsafeRawBufferPointer(start: directory, count: nlist * IndexFormat.listEntrySize)
            var lists: [DenseIndex.IVFLists.List] = []
            lists.reserveCapacity(nlist)
            var position = 0, largest = 0
            for l in 0..<nlist {
                let entry = IVFListEntry(parsing: dir, at: l * IVFListEntry.size)
                let offset = entry.offset, size = Int(entry.count)
                guard size <= n - position else { throw corrupt("IVFD: list \(l) holds \(size) rows, more than the \(n - position) left") }
                let needed = UInt64(IndexFormat.align(4 * size) + size * codeSize)
                guard offset % UInt64(IndexFormat.alignment) == 0 else {
                    throw corrupt("IVFD: list \(l) is at offset \(offset), not a multiple of \(IndexFormat.alignment)")
                }
                guard offset <= UInt64(listSection.range.count), needed <= UInt64(listSection.range.count) - offset else {
                    throw corrupt("IVFD: list \(l) points outside the IVFL section")
                }
                let start = listBase + Int(offset)
                lists.append(.init(ids: start.assumingMemoryBound(to: UInt32.self), codes: UnsafeRawPointer(start + IndexFormat.align(4 * size)),
                                   count: size, firstPosition: position))
                position += size
                largest = max(largest, size)
            }
            guard position == n else { throw corrupt("IVFD lists hold \(position) rows, META says \(n)") }
            let positions = try view(.ivfRowPositions, bytes: 4 * n)?.assumingMemoryBound(to: UInt32.self)
            guard exact != nil || positions != nil else { throw corrupt("missing IVFR section (needed without VF32)") }
            let ivf = DenseIndex.IVFLists(centroids: centroids.assumingMemoryBound(to: UInt16.self), lists: lists,
                                          rowPositions: positions, largestList: largest)
            return DenseIndex(name: path, count: n, dimension: d, kind: .ivf, coding: coding, quantizer: quantizer, exact: exact,
                              flatCodes: nil, ivf: ivf, defaultNProbe: metadata.dense.nprobe, owner: owner)
        }
    }

    /// An optional section's bytes (bounds were checked on open; its checksum by `verify()`).
    public func section(_ kind: IndexFormat.SectionKind) -> UnsafeRawBufferPointer? {
        sections[kind].map { UnsafeRawBufferPointer(rebasing: file.bytes[$0.range]) }
    }

    /// Checks the checksum of every section and every text block.
    public func verify() throws {
        for section in sections.values.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: file.bytes[section.range])) == section.crc else {
                throw RagPipeError.corruptIndex(path: path, reason: "\(section.kind.fourCC) section checksum mismatch")
            }
        }
        for b in blocks.indices { _ = try block(b) }
    }

    /// The chunk record `i` (0-based, the vector row). Costs one block inflate.
    public func record(_ i: Int) throws -> ChunkRecord {
        precondition(i >= 0 && i < count, "record index out of range")
        var lo = 0, hi = blocks.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if blocks[mid].firstRecord <= i { lo = mid } else { hi = mid - 1 }
        }
        return try record(i - blocks[lo].firstRecord, of: lo, in: try block(lo))
    }

    /// Every record in row order, inflating each block once (whole-index passes).
    public func forEachRecord(_ body: (Int, ChunkRecord) throws -> Void) throws {
        for b in blocks.indices {
            let data = try block(b)
            for local in 0..<blocks[b].recordCount {
                try body(blocks[b].firstRecord + local, try record(local, of: b, in: data))
            }
        }
    }

    /// Record `local` of block `b`, whose inflated bytes (checked by `block(_:)`) are `data`.
    func record(_ local: Int, of b: Int, in data: [UInt8]) throws -> ChunkRecord {
        let i = blocks[b].firstRecord + local
        return try data.withUnsafeBytes { raw in
            let m = Int(raw.u32(at: 0))
            let dataStart = 4 + 4 * (m + 1)
            let start = Int(raw.u32(at: 4 + 4 * local)), end = Int(raw.u32(at: 8 + 4 * local))
            guard start <= end, dataStart + end <= raw.count else {
                throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): record \(i) out of bounds")
            }
            var ignored: [Float] = []
            do {
                return try RecordCodec.parseLine(UnsafeRawBufferPointer(rebasing: raw[(dataStart + start)..<(dataStart + end)]),
                                                 vectors: &ignored).0
            } catch {
                throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): record \(i): \(error)")
            }
        }
    }

    func block(_ b: Int) throws -> [UInt8] {
        let entry = blocks[b]
        let data: [UInt8]
        switch Zlib.uncompress(UnsafeRawBufferPointer(rebasing: file.bytes[entry.range]), expectedSize: entry.uncompressedSize) {
        case .success(let d): data = d
        case .failure(let status):
            throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): \(status)")
        }
        guard data.withUnsafeBytes({ Zlib.crc32($0) }) == entry.crc else {
            throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): checksum mismatch")
        }
        try data.withUnsafeBytes { raw in
            guard Int(raw.u32(at: 0)) == entry.recordCount else {
                throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): record count disagrees with TXTI")
            }
            var previous = 0
            for k in 0...entry.recordCount {
                let o = Int(raw.u32(at: 4 + 4 * k))
                guard o >= previous else { throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): offsets out of order") }
                previous = o
            }
            guard 4 + 4 * (entry.recordCount + 1) + previous == raw.count else {
                throw RagPipeError.corruptIndex(path: path, reason: "TXTB block \(b): size disagrees with its offsets")
            }
        }
        return data
    }
}
