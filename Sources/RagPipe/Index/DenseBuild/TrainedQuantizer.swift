import RagPipeSupport
import RagPipeRecords
import CKernels

/// What every shard of a sharded build must share, trained once (`build-index --train-only`):
/// the IVF centroids as `IVFC` stores them, the codec's parameter sections (sq8's `SQ8P`), and
/// the default nprobe, tuned on the training input. `build-index --centroids FILE` assigns its
/// rows to these centroids and encodes them with these parameters, so shards built apart hold
/// the lists and codes one build over all their rows would hold (docs/FORMAT.md, "Trained
/// quantizer file").
public struct TrainedQuantizer: Equatable, Sendable {
    public var modelID: String
    public var dimension: Int
    public var metric: IndexMetric = .cosine
    public var kind: IndexKind
    public var coding: VectorCoding
    /// IVF lists (0 for flat).
    public var nlist: Int
    /// IVF: the default nprobe every shard stores (0 for flat).
    public var nprobe: Int
    /// nlist × d IEEE half (empty for flat).
    public var halfCentroids: [UInt16]
    /// The codec's parameter sections (sq8: `SQ8P`), in `VectorCodec.parameterSections` order.
    public var parameters: [UInt8]
    /// Rows of the training input and what training measured on them (informational).
    public var trainingRows: Int
    public var report: DenseReport
    public var toolVersion = RagPipeVersion.string
    /// The file it was read from (not stored): errors name it.
    public var path = "trained quantizer"

    /// 16 hex digits over everything a shard's codes depend on; every shard's META carries it
    /// as `quantizer`, and a shard set refuses shards whose values differ.
    public var fingerprint: String {
        var h = StableHash()
        h.combine("ragpipe quantizer 1\0\(kind.rawValue)\0\(coding.rawValue)\0\(metric.rawValue)\0")
        h.combine(UInt64(dimension)); h.combine(UInt64(nlist)); h.combine(UInt64(nprobe))
        halfCentroids.withUnsafeBytes { h.combine($0) }
        parameters.withUnsafeBytes { h.combine($0) }
        return StableHash.hex(h.finalized)
    }

    /// The stored centroids as the rows are assigned with them: exactly what queries score.
    var storedCentroids: [Float] {
        var out = [Float](repeating: 0, count: halfCentroids.count)
        if !out.isEmpty { rp_f16_to_f32(halfCentroids, &out, halfCentroids.count) }
        return out
    }

    /// Why `count` records of `modelID`/`dimension` cannot be built with this quantizer, as
    /// the error a build reports (naming the file); nil when they can.
    public func mismatch(modelID other: String, dimension d: Int, count: Int) -> RagPipeError? {
        if d != dimension { return .dimensionMismatch("\(path) was trained on \(dimension)-d vectors, the records have \(d)") }
        if other != modelID { return .modelMismatch("\(path) was trained on '\(modelID)' vectors, the records have '\(other)'") }
        if kind == .ivf && count < nlist {
            return .usage("\(path) has \(nlist) lists, more than the \(count) records to index (a shard needs at least one row per list)")
        }
        return nil
    }
}

/// The file: a 32-byte header, a JSON object, the centroids, the codec parameters.
extension TrainedQuantizer {
    /// `\x89 R A G Q \r \n \x1a`, as the index's magic with Q for quantizer.
    public static let magic: [UInt8] = [0x89, 0x52, 0x41, 0x47, 0x51, 0x0D, 0x0A, 0x1A]
    public static let version: UInt32 = 1
    static let headerSize = 32
    /// A META of more than this is damage (a real one is a few hundred bytes).
    static let maxMetadataBytes = 1 << 16
    /// More lists than any build makes (4·√N lists at N = 2^32 is 2^18).
    static let maxLists = 1 << 20

    func metadataJSON() -> [UInt8] {
        JSONObjectWriter.bytes { o in
            o.field("format", Int(Self.version))
            o.field("tool", toolVersion)
            o.field("model", modelID)
            o.field("dim", dimension)
            o.field("metric", metric.rawValue)
            o.field("kind", kind.rawValue)
            o.field("codes", coding.rawValue)
            o.field("nlist", nlist)
            o.field("nprobe", nprobe)
            o.field("train_rows", trainingRows)
            if kind == .ivf {
                o.field("train_points", report.trainingPoints)
                o.field("train_iterations", report.trainingIterations)
            }
            if let r = report.recallAt10 {
                o.field("recall_at_10", r, decimals: 4)
                o.field("target_recall", report.targetRecall ?? 0)
                o.field("tuning_queries", report.tuningQueries)
                if let t = report.tuning { o.field("tuning", t.rawValue) }
            }
            o.field("fingerprint", fingerprint)
        }
    }

    /// The whole file's bytes.
    public func serialize() -> [UInt8] {
        let meta = metadataJSON()
        var body = meta
        halfCentroids.withUnsafeBytes { body.append(contentsOf: $0) }
        body.append(contentsOf: parameters)
        var out = Self.magic
        appendLE(Self.version, to: &out)
        appendLE(UInt32(meta.count), to: &out)
        appendLE(UInt64(Self.headerSize + body.count), to: &out)
        appendLE(body.withUnsafeBytes { Zlib.crc32($0) }, to: &out)
        appendLE(out.withUnsafeBytes { Zlib.crc32($0) }, to: &out)
        return out + body
    }

    /// Writes the file atomically (temporary file, fsync, rename), as the index is written.
    public func write(to path: String) throws {
        let file = try AtomicFile(target: path)
        do {
            try file.write(bytes: serialize())
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
    }

    public init(path: String) throws {
        let bytes = try readFileBytes(path)
        let parsed: Result<TrainedQuantizer, IndexFileError> = bytes.withUnsafeBytes { raw in Result { () throws(IndexFileError) in try Self.parse(raw) } }
        switch parsed {
        case .success(let q): self = q; self.path = path
        case .failure(.corrupt(let reason)): throw RagPipeError.corruptIndex(path: path, reason: "trained quantizer: \(reason)")
        case .failure(.versionTooNew(let v)): throw RagPipeError.versionTooNew(path: path, found: v, supported: Self.version)
        }
    }

    /// Reads the file's bytes, which are untrusted: every length is checked before it is used,
    /// both checksums, every field's range, and the fingerprint against the content.
    package static func parse(_ raw: UnsafeRawBufferPointer) throws(IndexFileError) -> TrainedQuantizer {
        guard raw.count >= headerSize else { throw .corrupt("\(raw.count) bytes, shorter than the \(headerSize)-byte header") }
        guard raw.prefix(8).elementsEqual(magic) else { throw .corrupt("not a trained quantizer file (magic)") }
        guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[0..<28])) == raw.u32(at: 28) else { throw .corrupt("header checksum mismatch") }
        let version = raw.u32(at: 8)
        guard version >= 1 else { throw .corrupt("version 0") }
        guard version <= Self.version else { throw .versionTooNew(version) }
        let metaLength = Int(raw.u32(at: 12)), size = raw.u64(at: 16)
        guard size == UInt64(raw.count) else { throw .corrupt("file is \(raw.count) bytes, header says \(size)") }
        guard metaLength >= 2, metaLength <= maxMetadataBytes, headerSize + metaLength <= raw.count else {
            throw .corrupt("META length \(metaLength) out of range")
        }
        let body = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
        guard Zlib.crc32(body) == raw.u32(at: 24) else { throw .corrupt("checksum mismatch") }
        var q = TrainedQuantizer(modelID: "", dimension: 0, kind: .flat, coding: .fp32, nlist: -1, nprobe: -1, halfCentroids: [],
                                 parameters: [], trainingRows: 0, report: DenseReport())
        var metric = "", kind = "", codes = "", fingerprint = ""
        do {
            var s = JSONScanner(UnsafeRawBufferPointer(rebasing: body[..<metaLength]))
            try s.beginObject()
            while let key = try s.nextKey() {
                if key.equals("model") { q.modelID = try s.readString() }
                else if key.equals("dim") { q.dimension = try s.readInt() }
                else if key.equals("metric") { metric = try s.readString() }
                else if key.equals("kind") { kind = try s.readString() }
                else if key.equals("codes") { codes = try s.readString() }
                else if key.equals("nlist") { q.nlist = try s.readInt() }
                else if key.equals("nprobe") { q.nprobe = try s.readInt() }
                else if key.equals("train_rows") { q.trainingRows = try s.readInt() }
                else if key.equals("train_points") { q.report.trainingPoints = try s.readInt() }
                else if key.equals("train_iterations") { q.report.trainingIterations = try s.readInt() }
                else if key.equals("recall_at_10") { q.report.recallAt10 = try s.readDouble() }
                else if key.equals("target_recall") { q.report.targetRecall = try s.readDouble() }
                else if key.equals("tuning_queries") { q.report.tuningQueries = try s.readInt() }
                else if key.equals("tuning") { q.report.tuning = TuningSource(rawValue: try s.readString()) }
                else if key.equals("tool") { q.toolVersion = try s.readString() }
                else if key.equals("fingerprint") { fingerprint = try s.readString() }
                else { try s.skipValue() }
            }
            try s.expectEnd()
        } catch {
            throw .corrupt("META: \(error)")
        }
        let d = q.dimension
        guard d >= 1 && d <= IndexFormat.maxDimension else { throw .corrupt("META: dimension \(d) out of range 1...\(IndexFormat.maxDimension)") }
        guard !q.modelID.isEmpty else { throw .corrupt("META: no model") }
        guard let typedMetric = IndexMetric(rawValue: metric) else { throw .corrupt("META: unknown metric '\(metric)'") }
        guard let typedKind = IndexKind(rawValue: kind), let typedCodes = VectorCoding(rawValue: codes) else {
            throw .corrupt("META: kind '\(kind)' with '\(codes)' codes is not known")
        }
        q.metric = typedMetric; q.kind = typedKind; q.coding = typedCodes
        switch typedKind {
        case .ivf:
            guard q.nlist >= 1 && q.nlist <= maxLists else { throw .corrupt("META: nlist \(q.nlist) out of range 1...\(maxLists)") }
            guard q.nprobe >= 1 && q.nprobe <= q.nlist else { throw .corrupt("META: nprobe \(q.nprobe) out of range 1...\(q.nlist)") }
        case .flat:
            guard q.nlist == 0 && q.nprobe == 0 else { throw .corrupt("META: a flat quantizer has nlist and nprobe 0") }
        }
        guard q.trainingRows >= 0 else { throw .corrupt("META: train_rows \(q.trainingRows) out of range") }
        // Sizes are bounded above (d ≤ 65536, nlist ≤ 2^20), so these products cannot overflow.
        let centroidBytes = q.nlist * d * 2
        let parameterBytes = typedCodes == .sq8 ? 8 * d : 0
        guard body.count == metaLength + centroidBytes + parameterBytes else {
            throw .corrupt("\(body.count - metaLength) bytes after META, expected \(centroidBytes) of centroids and \(parameterBytes) of codec parameters")
        }
        let centroids = UnsafeRawBufferPointer(rebasing: body[metaLength..<(metaLength + centroidBytes)])
        q.halfCentroids = (0..<(q.nlist * d)).map { UInt16(littleEndian: centroids.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) }
        // fp16 exponent all ones: infinity or NaN, which no unit centroid rounds to.
        if let bad = q.halfCentroids.firstIndex(where: { $0 & 0x7C00 == 0x7C00 }) { throw .corrupt("centroid \(bad / d) holds an infinity or NaN") }
        let parameters = UnsafeRawBufferPointer(rebasing: body[(metaLength + centroidBytes)...])
        if typedCodes == .sq8 {
            guard SQ8Quantizer.parse(parameters, dimension: d) != nil else {
                throw .corrupt("sq8 parameters are not \(d) minimums in [-1.001, 1.001] and \(d) steps in [0, 2.002/255]")
            }
        }
        q.parameters = Array(parameters)
        guard fingerprint == q.fingerprint else { throw .corrupt("fingerprint '\(fingerprint)' does not match the content (\(q.fingerprint))") }
        return q
    }
}
