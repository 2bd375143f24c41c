import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Collects embedded records and writes one `.ragx` file. Texts are kept compressed, block by
/// block as they fill; vectors are kept in memory up to `spoolThreshold` bytes, then in a
/// spool file in `spoolDirectory` (`VectorSpool`) that the dense build reads chunk by chunk, so
/// a large build's memory is its codes rather than its input.
public final class IndexBuilder {
    public let blockSize: Int
    public let compressionLevel: Int32
    /// Where vectors go past `spoolThreshold` (nil: they stay in memory).
    public let spoolDirectory: String?
    /// Bytes of vectors held in memory before they go to the spool.
    public var spoolThreshold = 64 << 20
    /// Rows per chunk of the build's passes (nil: `BuildVectors`' default); tests set a few.
    package var passChunkRows: Int?
    public private(set) var modelID: String?
    public private(set) var dimension: Int?
    public private(set) var count = 0
    public private(set) var renormalized = 0

    /// Vectors not yet spooled (all of them while `spool` is nil).
    var vectors: [Float] = []
    var spool: VectorSpool?
    /// Blocks waiting to be compressed, in batches on every core.
    var pendingBlocks: [[UInt8]] = []
    var blocks: [CompressedBlock] = []
    var blockFirstRecord: [Int] = []
    var recordsInBlocks = 0
    var currentRecords: [UInt8] = []
    var currentOffsets: [UInt32] = [0]
    var scratchLine: [UInt8] = []
    /// When set, the text an index over chunk texts (BM25) needs is kept per record, in order;
    /// the records themselves are already serialized into blocks.
    public var lexicalText: ((ChunkRecord) -> String)?
    public private(set) var lexicalTexts: [String] = []
    /// Where each id was first read: a query would return both records of a repeated id.
    private var idPlaces: [String: String] = [:]

    struct CompressedBlock {
        var bytes: [UInt8]
        var uncompressedLength: Int
        var crc: UInt32
    }

    public init(blockSize: Int = IndexFormat.defaultBlockSize, compressionLevel: Int32 = 6, spoolDirectory: String? = nil) {
        self.blockSize = max(1024, blockSize)
        self.compressionLevel = compressionLevel
        self.spoolDirectory = spoolDirectory
        currentRecords.reserveCapacity(self.blockSize + 8192)
    }

    /// Parses one line of an `embed` stream and adds it. `place` names the line in errors.
    public func addLine(_ line: UnsafeRawBufferPointer, place: @autoclosure () -> String) throws {
        let before = vectors.count
        let record: ChunkRecord, info: RecordCodec.VectorInfo
        do {
            (record, info) = try RecordCodec.parseLine(line, vectors: &vectors)
        } catch let error as JSONScanError {
            throw RagPipeError.malformedRecord(where: place(), reason: error.description)
        }
        do {
            try accept(record: record, model: info.model, vectorStart: before, place: place())
        } catch {
            vectors.removeSubrange(before...)
            throw error
        }
        try spillIfLarge()
    }

    /// Adds a record whose vector is given directly.
    public func add(_ record: ChunkRecord, vector: [Float], model: String) throws {
        let before = vectors.count
        vectors.append(contentsOf: vector)
        do {
            try accept(record: record, model: model, vectorStart: before, place: "record \(count + 1)")
        } catch {
            vectors.removeSubrange(before...)
            throw error
        }
        try spillIfLarge()
    }

    /// Moves the vectors held in memory to the spool once they pass `spoolThreshold`.
    private func spillIfLarge() throws {
        guard vectors.count * 4 >= (spool == nil ? spoolThreshold : VectorSpool.bufferFloats * 4), let spoolDirectory else { return }
        let first = spool == nil
        if first { spool = try VectorSpool(directory: spoolDirectory) }
        try vectors.withUnsafeBufferPointer { try spool!.append($0) }
        // The threshold's worth of capacity is given back; the spool's buffer batches from here on.
        vectors = first ? [] : vectors
        vectors.removeAll(keepingCapacity: true)
    }

    /// Adds rows of a matrix (row-major, `columns` each, `block.count / columns` rows), record
    /// `record(row)` for each, numbered on from the rows added before. Ids must be unique by
    /// construction (they are not checked); `place(row)` names a row in errors.
    public func addRows(_ block: UnsafeBufferPointer<Float>, columns: Int, model: String, place: (Int) -> String,
                        record: (Int) -> ChunkRecord) throws {
        guard columns > 0, block.count % columns == 0 else { throw RagPipeError.malformedRecord(where: place(count), reason: "no vectors") }
        for r in 0..<(block.count / columns) {
            let start = vectors.count
            vectors.append(contentsOf: UnsafeBufferPointer(rebasing: block[(r * columns)..<((r + 1) * columns)]))
            do {
                try validate(vectorStart: start, dimension: columns, model: model, place: place(count))
            } catch {
                vectors.removeSubrange(start...)
                throw error
            }
            let record = record(count)
            appendRecordBytes(record)
            if let lexicalText { lexicalTexts.append(lexicalText(record)) }
            count += 1
        }
        try spillIfLarge()
    }

    private func accept(record: ChunkRecord, model: String?, vectorStart: Int, place: String) throws {
        let dim = vectors.count - vectorStart
        guard dim > 0 else { throw RagPipeError.malformedRecord(where: place, reason: "no \"vector\" or \"embedding\" (is this `chunk` output? pipe it through `embed`)") }
        guard let model, !model.isEmpty else { throw RagPipeError.malformedRecord(where: place, reason: "missing \"model\"") }
        try validate(vectorStart: vectorStart, dimension: dim, model: model, place: place)
        if let first = idPlaces.updateValue(place, forKey: record.id) {
            throw RagPipeError.malformedRecord(where: place, reason: "id '\(record.id)' again (first at \(first))")
        }
        appendRecordBytes(record)
        if let lexicalText { lexicalTexts.append(lexicalText(record)) }
        count += 1
    }

    /// The checks every vector passes (one dimension and model per index, finite) and its
    /// normalization to unit length, in place at `vectorStart`.
    private func validate(vectorStart: Int, dimension dim: Int, model: String, place: String) throws {
        if let expected = dimension {
            guard dim == expected else {
                throw RagPipeError.dimensionMismatch("\(place): vector has \(dim) values, earlier records have \(expected)")
            }
            guard model == modelID else {
                throw RagPipeError.modelMismatch("\(place): model '\(model)', earlier records have '\(modelID!)'")
            }
        } else {
            guard dim <= IndexFormat.maxDimension else {
                throw RagPipeError.malformedRecord(where: place, reason: "vector has \(dim) values; an index holds at most \(IndexFormat.maxDimension)")
            }
            dimension = dim
            modelID = model
        }
        try vectors.withUnsafeMutableBufferPointer { all in
            let v = UnsafeMutableBufferPointer(rebasing: all[vectorStart..<(vectorStart + dim)])
            // NaN and infinities propagate into the sum of squares, so one SIMD pass checks both.
            let sum = VectorMath.dot(v.baseAddress!, v.baseAddress!, v.count)
            if !sum.isFinite {
                throw RagPipeError.malformedRecord(where: place, reason: "vector holds NaN, infinity or values too large to square")
            }
            // Cosine metric: stored vectors are unit length, so a dot product is the score.
            if sum > 0 && abs(sum - 1) > 1e-3 {
                normalize(v)
                renormalized += 1
            }
        }
    }

    private func appendRecordBytes(_ r: ChunkRecord) {
        scratchLine.removeAll(keepingCapacity: true)
        RecordCodec.appendLine(r, to: &scratchLine)
        scratchLine.removeLast()                  // the newline: records are framed by offsets
        currentRecords.append(contentsOf: scratchLine)
        currentOffsets.append(UInt32(currentRecords.count))
        if currentRecords.count >= blockSize { finishBlock() }
    }

    private func finishBlock(last: Bool = false) {
        let m = currentOffsets.count - 1
        guard m > 0 else { if last { compressPending() }; return }
        var block = [UInt8]()
        block.reserveCapacity(4 + 4 * (m + 1) + currentRecords.count)
        appendLE(UInt32(m), to: &block)
        for o in currentOffsets { appendLE(o, to: &block) }
        block.append(contentsOf: currentRecords)
        pendingBlocks.append(block)
        blockFirstRecord.append(recordsInBlocks)
        recordsInBlocks += m
        currentRecords.removeAll(keepingCapacity: true)
        currentOffsets = [0]
        if last || pendingBlocks.count >= 4 * Cores.available { compressPending() }
    }

    /// Compresses the waiting blocks on all cores.
    private func compressPending() {
        let pending = pendingBlocks, level = compressionLevel
        blocks += Parallel.map(count: pending.count) { i in
            CompressedBlock(bytes: Zlib.compress(pending[i], level: level), uncompressedLength: pending[i].count,
                            crc: pending[i].withUnsafeBytes { Zlib.crc32($0) })
        }
        pendingBlocks.removeAll()
    }

    public struct Summary: Sendable {
        public var count: Int
        public var dimension: Int
        public var modelID: String
        public var fileSize: Int
        public var textBytes: Int
        public var compressedTextBytes: Int
        public var blocks: Int
        public var kind: IndexKind
        public var coding: VectorCoding
        public var dense: DenseReport
    }

    /// Writes the index atomically: a temporary file beside `path`, fsynced, then renamed over
    /// it, so `path` holds either the old index or the complete new one.
    /// Extra sections (BM25) go after the required ones; `bm25` settings land in META.
    /// `dense` chooses flat or IVF and the codes; `status` hears about long steps (k-means).
    public func write(to path: String,
                      extraSections: [(IndexFormat.SectionKind, [UInt8])] = [],
                      bm25: IndexMetadata.BM25Settings? = nil,
                      dense: DenseIndexOptions = DenseIndexOptions(),
                      status: (String) -> Void = { _ in }) throws -> Summary {
        finishBlock(last: true)
        guard count > 0, let dimension, let modelID else { throw RagPipeError.emptyInput("no records to index") }
        try dense.tuning.checkModel(modelID)
        if let spool {
            try vectors.withUnsafeBufferPointer { try spool.append($0) }
            vectors = []
            let all = try spool.finish()
            return try write(to: path, rows: BuildVectors(all, dimension: dimension, spool: spool, chunkRows: passChunkRows), extraSections: extraSections,
                             bm25: bm25, dense: dense, status: status)
        }
        return try vectors.withUnsafeBufferPointer {
            try write(to: path, rows: BuildVectors($0, dimension: dimension, chunkRows: passChunkRows), extraSections: extraSections,
                      bm25: bm25, dense: dense, status: status)
        }
    }

    private func write(to path: String, rows: BuildVectors, extraSections: [(IndexFormat.SectionKind, [UInt8])],
                       bm25: IndexMetadata.BM25Settings?, dense: DenseIndexOptions, status: (String) -> Void) throws -> Summary {
        let dimension = rows.dimension, modelID = modelID!
        let layout = try DenseIndexBuilder.build(rows, options: dense, status: status)
        var metadata = IndexMetadata(modelID: modelID, dimension: dimension, count: count, kind: layout.kind,
                                     codes: layout.coding, blockSize: blockSize)
        metadata.bm25 = bm25
        metadata.dense = layout.report
        metadata.quantizer = dense.trained?.fingerprint
        if let problem = metadata.problem { throw RagPipeError.usage("\(path): refusing to write an index that no reader accepts: META: \(problem)") }
        let version = metadata.formatVersion

        let blockCount = blocks.count

        var blockEntries: [TextBlockEntry] = []
        blockEntries.reserveCapacity(blockCount)
        var blockOffset = 0
        var textBytes = 0
        for i in 0..<blockCount {
            let next = i + 1 < blockCount ? blockFirstRecord[i + 1] : count
            blockEntries.append(TextBlockEntry(offset: UInt64(blockOffset), compressedLength: UInt32(blocks[i].bytes.count),
                                               uncompressedLength: UInt32(blocks[i].uncompressedLength), firstRecord: UInt32(blockFirstRecord[i]),
                                               recordCount: UInt32(next - blockFirstRecord[i]), crc: blocks[i].crc))
            blockOffset += blocks[i].bytes.count
            textBytes += blocks[i].uncompressedLength
        }
        let textIndex = TextBlockEntry.serializeTable(blockEntries)

        let file = try AtomicFile(target: path)
        do {
            var table: [SectionTableEntry] = []
            // The header's fields are known only at the end: a placeholder now, the header last.
            try file.write(bytes: [UInt8](repeating: 0, count: IndexHeader.size))
            func section(_ kind: IndexFormat.SectionKind, _ body: () throws -> UInt32) throws {
                try file.pad(to: IndexFormat.align(file.position))
                let start = file.position
                let crc = try body()
                table.append(SectionTableEntry(kind: kind, offset: start, length: file.position - start, crc: crc))
            }
            let meta = metadata.jsonBytes()
            try section(.metadata) { try file.write(bytes: meta); return meta.withUnsafeBytes { Zlib.crc32($0) } }
            try section(.textIndex) { try file.write(bytes: textIndex); return textIndex.withUnsafeBytes { Zlib.crc32($0) } }
            if layout.writesExactVectors {
                try section(.vectorsF32) {
                    var crc: UInt32 = 0
                    try rows.forEachChunk { _, chunk in
                        let raw = UnsafeRawBufferPointer(chunk)
                        try file.write(raw)
                        crc = Zlib.crc32(raw, seed: crc)
                    }
                    return crc
                }
            }
            for (kind, bytes) in layout.sections {
                try section(kind) { try file.write(bytes.buffer); return Zlib.crc32(bytes.buffer) }
            }
            try section(.textBlocks) {
                var crc: UInt32 = 0
                for i in 0..<blockCount {
                    try blocks[i].bytes.withUnsafeBytes { raw in
                        try file.write(raw)
                        crc = Zlib.crc32(raw, seed: crc)
                    }
                }
                return crc
            }
            for (kind, bytes) in extraSections {
                try section(kind) { try file.write(bytes: bytes); return bytes.withUnsafeBytes { Zlib.crc32($0) } }
            }
            try file.pad(to: IndexFormat.align(file.position))
            let tableOffset = file.position
            let tableBytes = SectionTableEntry.serialize(table)
            try file.write(bytes: tableBytes)
            let fileSize = file.position

            let header = IndexHeader(version: version, fileSize: UInt64(fileSize), tableOffset: UInt64(tableOffset),
                                     sectionCount: UInt32(table.count), tableCRC: tableBytes.withUnsafeBytes { Zlib.crc32($0) })
            try file.write(bytes: header.serialize(), at: 0)
            try file.commit()
            return Summary(count: count, dimension: dimension, modelID: modelID, fileSize: fileSize,
                           textBytes: textBytes, compressedTextBytes: blockOffset, blocks: blockCount,
                           kind: layout.kind, coding: layout.coding, dense: layout.report)
        } catch {
            file.abandon()
            throw error
        }
    }
}
