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

/// Collects embedded records and writes one `.ragx` file. Holds all vectors and (uncompressed)
/// texts in memory: the one stage that needs the whole corpus.
public final class IndexBuilder {
    public let blockSize: Int
    public private(set) var modelID: String?
    public private(set) var dimension: Int?
    public private(set) var count = 0
    public private(set) var renormalized = 0

    var vectors: [Float] = []
    var blocks: [[UInt8]] = []
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

    public init(blockSize: Int = IndexFormat.defaultBlockSize) {
        self.blockSize = max(1024, blockSize)
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
    }

    /// Adds a whole matrix of vectors (row-major, `columns` each) at once, taking over its
    /// storage instead of copying it, so a large `.npy` is in memory once. Records come from
    /// `record(row)`; ids must be unique by construction (they are not checked). Only into an
    /// empty builder, which an error leaves unusable.
    public func addMatrix(_ values: inout [Float], columns: Int, model: String, place: (Int) -> String,
                          record: (Int) -> ChunkRecord) throws {
        precondition(count == 0 && vectors.isEmpty, "addMatrix needs an empty builder")
        guard columns > 0, values.count % columns == 0 else { throw RagPipeError.malformedRecord(where: place(0), reason: "no vectors") }
        swap(&vectors, &values)
        for row in 0..<(vectors.count / columns) {
            try validate(vectorStart: row * columns, dimension: columns, model: model, place: place(row))
            let r = record(row)
            appendRecordBytes(r)
            if let lexicalText { lexicalTexts.append(lexicalText(r)) }
            count += 1
        }
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

    private func finishBlock() {
        let m = currentOffsets.count - 1
        guard m > 0 else { return }
        var block = [UInt8]()
        block.reserveCapacity(4 + 4 * (m + 1) + currentRecords.count)
        appendLE(UInt32(m), to: &block)
        for o in currentOffsets { appendLE(o, to: &block) }
        block.append(contentsOf: currentRecords)
        blocks.append(block)
        blockFirstRecord.append(recordsInBlocks)
        recordsInBlocks += m
        currentRecords.removeAll(keepingCapacity: true)
        currentOffsets = [0]
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
    public func write(to path: String, compressionLevel: Int32 = 6,
                      extraSections: [(IndexFormat.SectionKind, [UInt8])] = [],
                      bm25: IndexMetadata.BM25Settings? = nil,
                      dense: DenseIndexOptions = DenseIndexOptions(),
                      status: (String) -> Void = { _ in }) throws -> Summary {
        finishBlock()
        guard count > 0, let dimension, let modelID else { throw RagPipeError.emptyInput("no records to index") }
        try dense.tuning.checkModel(modelID)
        let layout = try vectors.withUnsafeBufferPointer {
            try DenseIndexBuilder.build(vectors: $0, dimension: dimension, options: dense, status: status)
        }
        var metadata = IndexMetadata(modelID: modelID, dimension: dimension, count: count, kind: layout.kind,
                                     codes: layout.coding, blockSize: blockSize)
        metadata.bm25 = bm25
        metadata.dense = layout.report
        if let problem = metadata.problem { throw RagPipeError.usage("\(path): refusing to write an index that no reader accepts: META: \(problem)") }
        let version = metadata.formatVersion

        // Compress text blocks on all cores.
        let blockCount = blocks.count
        let compressed = Parallel.map(count: blockCount) { i in Zlib.compress(blocks[i], level: compressionLevel) }

        var blockEntries: [TextBlockEntry] = []
        blockEntries.reserveCapacity(blockCount)
        var blockOffset = 0
        var textBytes = 0
        for i in 0..<blockCount {
            let next = i + 1 < blockCount ? blockFirstRecord[i + 1] : count
            blockEntries.append(TextBlockEntry(offset: UInt64(blockOffset), compressedLength: UInt32(compressed[i].count),
                                               uncompressedLength: UInt32(blocks[i].count), firstRecord: UInt32(blockFirstRecord[i]),
                                               recordCount: UInt32(next - blockFirstRecord[i]), crc: blocks[i].withUnsafeBytes { Zlib.crc32($0) }))
            blockOffset += compressed[i].count
            textBytes += blocks[i].count
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
                    try vectors.withUnsafeBytes { raw in
                        try file.write(raw)
                        return Zlib.crc32(raw)
                    }
                }
            }
            for (kind, bytes) in layout.sections {
                try section(kind) { try file.write(bytes.buffer); return Zlib.crc32(bytes.buffer) }
            }
            try section(.textBlocks) {
                var crc: UInt32 = 0
                for i in 0..<blockCount {
                    try compressed[i].withUnsafeBytes { raw in
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
