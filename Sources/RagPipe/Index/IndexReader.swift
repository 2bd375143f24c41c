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

    let sections: Sections
    let blocks: [Block]
    /// The searchable vectors (flat or IVF, fp32/fp16/sq8 codes).
    public let dense: DenseIndex

    /// Opens and checks the file in named steps (`IndexReader+Opening.swift`), each trusting only
    /// what the steps before it checked.
    public init(path: String) throws {
        file = try MappedFile(path: path)
        do throws(IndexFileError) {
            let header = try Self.header(of: file.bytes)
            sections = try Self.sectionTable(of: file.bytes, header: header)
            metadata = try Self.metadata(in: sections, version: header.version)
            dense = try DenseIndex.open(sections, metadata: metadata, name: path, owner: file)
            blocks = try Self.textBlocks(in: sections, count: metadata.count)
        } catch {
            throw error.error(path: path)
        }
    }

    /// An optional section's bytes (bounds were checked on open; its checksum by `verify()`).
    public func section(_ kind: IndexFormat.SectionKind) -> UnsafeRawBufferPointer? {
        sections[kind].map { sections.bytes(of: $0) }
    }

    /// Checks the checksum of every section and every text block.
    public func verify() throws {
        for section in sections.byKind.values.sorted(by: { $0.range.lowerBound < $1.range.lowerBound }) {
            guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: file.bytes[section.range])) == section.crc else {
                throw RagPipeError.corruptIndex(path: path, reason: "\(section.kind.fourCC) section checksum mismatch")
            }
        }
        for b in blocks.indices { _ = try block(b) }
    }

    /// The chunk record `i` (0-based, the vector row). Costs one block inflate.
    public func record(_ i: Int) throws -> ChunkRecord {
        try records([i])[0]
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
