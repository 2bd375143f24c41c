import RagPipeRecords
import RagPipeChunking

/// Layout constants of the `.ragx` index file (docs/FORMAT.md is the full specification).
/// All integers are little-endian.
public enum IndexFormat {
    /// `\x89 R A G X \r \n \x1a`: the high byte and CR LF / SUB catch text-mode transfers.
    public static let magic: [UInt8] = [0x89, 0x52, 0x41, 0x47, 0x58, 0x0D, 0x0A, 0x1A]
    /// The newest version this build reads and writes. Version 1 files hold flat fp32 vectors
    /// only; version 2 added IVF lists and fp16/sq8 codes; version 3 the 1-bit IVF codes
    /// (`rabitq`). A writer stamps the lowest version that can describe the file, so flat fp32
    /// indexes stay readable by version-1 readers and sq8 ones by version-2 readers.
    public static let version: UInt32 = 3
    public static let headerSize = 64
    public static let sectionEntrySize = 32
    public static let blockEntrySize = 32
    public static let listEntrySize = 16
    public static let alignment = 64
    /// The largest vector dimension an index may hold (readers refuse more, writers never write it).
    public static let maxDimension = VectorLimits.maxDimension
    /// The most sections a reader accepts in one file.
    public static let maxSections = 1024
    /// Target uncompressed size of a text block.
    public static let defaultBlockSize = 64 * 1024

    /// Section kinds, as four ASCII characters read as a little-endian UInt32.
    public enum SectionKind: UInt32, CaseIterable, Sendable {
        case metadata = 0x4154_454D      // "META"
        case vectorsF32 = 0x3233_4656    // "VF32"
        case textBlocks = 0x4254_5854    // "TXTB"
        case textIndex = 0x4954_5854     // "TXTI"
        case bm25Vocabulary = 0x5654_4D42    // "BMTV"
        case bm25Postings = 0x5350_4D42      // "BMPS"
        case bm25Lengths = 0x4C44_4D42       // "BMDL"
        case vectorsF16 = 0x3631_4656        // "VF16"  flat fp16 codes
        case vectorsSQ8 = 0x3851_5356        // "VSQ8"  flat sq8 codes
        case sq8Parameters = 0x5038_5153     // "SQ8P"  per-dimension minimum and step
        case ivfCentroids = 0x4346_5649      // "IVFC"
        case ivfDirectory = 0x4446_5649      // "IVFD"  per list: offset, count
        case ivfLists = 0x4C46_5649          // "IVFL"  per list: ids, then codes
        case ivfRowPositions = 0x5246_5649   // "IVFR"  row → position in list order
        case rabitqParameters = 0x5051_4252  // "RBQP"  1-bit codes: rotation seed, rounds, padded dimension
        case rabitqCodes = 0x3151_4252       // "RBQ1"  1-bit codes and factors, per list

        public var fourCC: String {
            withUnsafeBytes(of: rawValue.littleEndian) { String(decoding: $0, as: UTF8.self) }
        }
    }

    static func align(_ offset: Int) -> Int { (offset + alignment - 1) / alignment * alignment }
}

/// How scores compare vectors, as META records it.
public enum IndexMetric: String, CaseIterable, Sendable {
    /// Stored vectors are unit length and scores are dot products.
    case cosine
}

/// What the `META` section records: enough to embed a query the same way and to check it.
public struct IndexMetadata: Equatable, Sendable {
    public var modelID: String
    public var dimension: Int
    public var metric: IndexMetric
    public var count: Int
    public var kind: IndexKind
    public var codes: VectorCoding
    public var blockSize: Int
    public var toolVersion: String
    /// Present when the index has BM25 sections.
    public var bm25: BM25Settings?
    /// IVF parameters and the build's measured quality (zeros and nils for exact flat indexes).
    public var dense = DenseReport()
    /// The fingerprint of the trained quantizer the build used (`build-index --centroids`):
    /// shards with the same one share centroids, codec parameters and nprobe.
    public var quantizer: String?

    public struct BM25Settings: Equatable, Sendable {
        public var k1: Double
        public var b: Double
        public var averageLength: Double
        public init(k1: Double, b: Double, averageLength: Double) { self.k1 = k1; self.b = b; self.averageLength = averageLength }
    }

    public init(modelID: String, dimension: Int, metric: IndexMetric = .cosine, count: Int, kind: IndexKind = .flat,
                codes: VectorCoding = .fp32, blockSize: Int = IndexFormat.defaultBlockSize,
                toolVersion: String = RagPipeVersion.string) {
        self.modelID = modelID; self.dimension = dimension; self.metric = metric; self.count = count
        self.kind = kind; self.codes = codes; self.blockSize = blockSize; self.toolVersion = toolVersion
    }

    /// Why this metadata cannot describe a readable index, or nil. The reader refuses such META
    /// as corrupt and the writer refuses to write it: one rule for both sides. (An unknown
    /// metric, kind or coding cannot be held at all: `parse` refuses it.)
    public var problem: String? {
        if let problem = Self.sizeProblem(dimension: dimension, count: count) { return problem }
        if kind == .ivf {
            guard dense.nlist >= 1 && dense.nlist <= count else { return "nlist \(dense.nlist) out of range 1...\(count)" }
            guard dense.nprobe >= 1 && dense.nprobe <= dense.nlist else { return "nprobe \(dense.nprobe) out of range 1...\(dense.nlist)" }
        }
        if codes == .rabitq && kind != .ivf { return "rabitq codes need kind ivf" }
        if let bm25 {
            if let problem = BM25Parameters.problem(k1: bm25.k1, b: bm25.b) { return problem }
            guard bm25.averageLength.isFinite, bm25.averageLength >= 0 else { return "bm25_avgdl \(bm25.averageLength) out of range" }
        }
        return nil
    }

    /// The first rules of `problem`, which `parse` applies before it reads the names, so a META
    /// with several faults is refused for the same one as when names were strings.
    static func sizeProblem(dimension: Int, count: Int) -> String? {
        guard dimension > 0 && dimension <= IndexFormat.maxDimension else { return "dimension \(dimension) out of range 1...\(IndexFormat.maxDimension)" }
        guard count > 0 else { return "count \(count) out of range" }
        return nil
    }

    /// The lowest format version that can describe this index.
    public var formatVersion: UInt32 { codes == .rabitq ? 3 : kind == .flat && codes == .fp32 ? 1 : 2 }

    func jsonBytes() -> [UInt8] {
        JSONObjectWriter.bytes { o in
            o.field("format", Int(formatVersion))
            o.field("tool", toolVersion)
            o.field("model", modelID)
            o.field("dim", dimension)
            o.field("metric", metric.rawValue)
            o.field("count", count)
            o.field("kind", kind.rawValue)
            o.field("codes", codes.rawValue)
            o.field("block_size", blockSize)
            if kind != .flat || codes != .fp32 { o.field("rerank", dense.rerank) }
            if kind == .ivf {
                o.field("nlist", dense.nlist)
                o.field("nprobe", dense.nprobe)
                o.field("train_points", dense.trainingPoints)
                o.field("train_iterations", dense.trainingIterations)
                if let t = dense.trainingSeconds { o.field("train_seconds", t, decimals: 3) }
                if let p = dense.trainingFullPasses { o.field("train_full_passes", p, decimals: 2) }
                if let b = dense.listBalance { o.field("list_balance", b, decimals: 3) }
            }
            if let r = dense.recallAt10 {
                o.field("recall_at_10", r, decimals: 4)
                o.field("target_recall", dense.targetRecall ?? 0)
                o.field("tuning_queries", dense.tuningQueries)
                if let t = dense.tuning { o.field("tuning", t.rawValue) }
            }
            if let quantizer { o.field("quantizer", quantizer) }
            if let bm25 {
                o.field("bm25_k1", bm25.k1)
                o.field("bm25_b", bm25.b)
                o.field("bm25_avgdl", bm25.averageLength)
            }
        }
    }

    /// Reads META. Malformed JSON throws the scanner's error; a metric, kind or coding this
    /// build does not know throws `IndexFileError.corrupt` with the reason the reader reports.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws -> IndexMetadata {
        var s = JSONScanner(bytes)
        // The names stay text until the end: a missing one reads as "", as before they were typed.
        var metric = "", kind = "", codes = ""
        var m = IndexMetadata(modelID: "", dimension: 0, count: -1, blockSize: 0, toolVersion: "")
        try s.beginObject()
        while let key = try s.nextKey() {
            if key.equals("model") { m.modelID = try s.readString() }
            else if key.equals("dim") { m.dimension = try s.readInt() }
            else if key.equals("metric") { metric = try s.readString() }
            else if key.equals("count") { m.count = try s.readInt() }
            else if key.equals("kind") { kind = try s.readString() }
            else if key.equals("codes") { codes = try s.readString() }
            else if key.equals("block_size") { m.blockSize = try s.readInt() }
            else if key.equals("tool") { m.toolVersion = try s.readString() }
            else if key.equals("bm25_k1") { m.bm25 = m.bm25 ?? BM25Settings(k1: 0, b: 0, averageLength: 0); m.bm25!.k1 = try s.readDouble() }
            else if key.equals("bm25_b") { m.bm25 = m.bm25 ?? BM25Settings(k1: 0, b: 0, averageLength: 0); m.bm25!.b = try s.readDouble() }
            else if key.equals("bm25_avgdl") { m.bm25 = m.bm25 ?? BM25Settings(k1: 0, b: 0, averageLength: 0); m.bm25!.averageLength = try s.readDouble() }
            else if key.equals("rerank") { m.dense.rerank = try s.readBool() }
            else if key.equals("nlist") { m.dense.nlist = try s.readInt() }
            else if key.equals("nprobe") { m.dense.nprobe = try s.readInt() }
            else if key.equals("train_points") { m.dense.trainingPoints = try s.readInt() }
            else if key.equals("train_iterations") { m.dense.trainingIterations = try s.readInt() }
            else if key.equals("train_seconds") { m.dense.trainingSeconds = try s.readDouble() }
            else if key.equals("train_full_passes") { m.dense.trainingFullPasses = try s.readDouble() }
            else if key.equals("list_balance") { m.dense.listBalance = try s.readDouble() }
            else if key.equals("recall_at_10") { m.dense.recallAt10 = try s.readDouble() }
            else if key.equals("target_recall") { m.dense.targetRecall = try s.readDouble() }
            else if key.equals("tuning_queries") { m.dense.tuningQueries = try s.readInt() }
            // Informational: a source this build does not know reads as unrecorded.
            else if key.equals("tuning") { m.dense.tuning = TuningSource(rawValue: try s.readString()) }
            else if key.equals("quantizer") { m.quantizer = try s.readString() }
            else { try s.skipValue() }
        }
        try s.expectEnd()
        if let problem = sizeProblem(dimension: m.dimension, count: m.count) { throw IndexFileError.corrupt("META: \(problem)") }
        guard let typedMetric = IndexMetric(rawValue: metric) else { throw IndexFileError.corrupt("META: unknown metric '\(metric)'") }
        guard let typedKind = IndexKind(rawValue: kind), let typedCodes = VectorCoding(rawValue: codes) else {
            throw IndexFileError.corrupt("META: index kind '\(kind)' with '\(codes)' codes is not known")
        }
        m.metric = typedMetric; m.kind = typedKind; m.codes = typedCodes
        return m
    }
}

public enum RagPipeVersion {
    public static let string = "ragpipe 0.1.0"
}
