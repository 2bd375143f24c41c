import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// One index, or a set of shards searched as one: every shard memory-mapped and opened as
/// `IndexReader` opens a file (header, tables, META; never vectors or texts), so opening costs
/// O(shards). Rows are global: shard `s`'s rows follow the rows of the shards before it, in the
/// order given, so a set built from consecutive parts of one stream numbers its rows as one
/// index of the whole stream does, and hits name the chunk ids their records carry.
///
/// Shards must agree on what makes scores comparable: model, dimension, metric, kind, codes,
/// re-ranking, lists and nprobe, and, where codes are trained (IVF, sq8), the trained quantizer
/// (`quantizer` in META); with BM25, all or none have it, with the same k1 and b.
public final class IndexShards: @unchecked Sendable {
    public let shards: [IndexReader]
    /// The first global row of each shard.
    public let bases: [Int]
    /// The manifest, or the one index file; several files named without a manifest are
    /// named by the first with a count (`a.ragx (+3 shards)`).
    public let path: String
    /// The first shard's META with the set's row count and (with BM25) its mean length.
    public let metadata: IndexMetadata
    public let dense: DenseShards

    public var count: Int { metadata.count }
    public var dimension: Int { metadata.dimension }

    public convenience init(_ reader: IndexReader) {
        try! self.init(readers: [reader], name: reader.path)
    }

    /// The index files `paths`, in that order, as one set.
    public convenience init(paths: [String]) throws {
        precondition(!paths.isEmpty)
        try self.init(readers: try paths.map { try IndexReader(path: $0) },
                      name: paths.count == 1 ? paths[0] : "\(paths[0]) (+\(paths.count - 1) shards)")
    }

    /// `path`: a shard manifest when its first byte past white space is `{` (an index starts
    /// with its magic, `0x89`), else an index file, whose reader then says what is wrong with it.
    public static func open(_ path: String) throws -> IndexShards {
        let file = try MappedFile(path: path)
        guard file.bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) == UInt8(ascii: "{") else {
            return IndexShards(try IndexReader(path: path))
        }
        let manifest = try ShardManifest(path: path)
        let paths = manifest.resolvedPaths(manifestPath: path)
        var readers: [IndexReader] = []
        for (i, (shard, full)) in zip(manifest.shards, paths).enumerated() {
            let reader: IndexReader
            do { reader = try IndexReader(path: full) } catch RagPipeError.unreadable(_, let reason) {
                // A damaged shard's own error names it; a missing one is named through the manifest.
                throw RagPipeError.unreadable(path: path, reason: "shard \(i) (\(shard.path)): \(full): \(reason)")
            }
            let crc = reader.file.bytes.u32(at: 60)
            guard reader.count == shard.count, reader.file.bytes.count == shard.fileSize, crc == shard.headerCRC else {
                throw RagPipeError.corruptIndex(path: path, reason: "shard \(i) (\(shard.path)) is not the file the manifest names: "
                    + "\(reader.count) rows, \(reader.file.bytes.count) bytes, header CRC \(String(crc, radix: 16)); "
                    + "the manifest says \(shard.count), \(shard.fileSize), \(String(shard.headerCRC, radix: 16))")
            }
            readers.append(reader)
        }
        let set = try IndexShards(readers: readers, name: path)
        guard set.metadata.modelID == manifest.modelID, set.dimension == manifest.dimension, set.metadata.quantizer == manifest.quantizer else {
            throw RagPipeError.corruptIndex(path: path, reason: "shard manifest: model, dim or quantizer disagree with the shards'")
        }
        return set
    }

    init(readers: [IndexReader], name: String) throws {
        precondition(!readers.isEmpty)
        let first = readers[0].metadata
        for reader in readers.dropFirst() {
            if let problem = Self.disagreement(first, reader.metadata) {
                throw RagPipeError.usage("\(reader.path) cannot join \(readers[0].path) in a shard set: \(problem)")
            }
        }
        if readers.count > 1 && TrainedQuantizer.needed(kind: first.kind, coding: first.codes) && first.quantizer == nil {
            throw RagPipeError.usage("\(readers[0].path): \(first.kind.rawValue) \(first.codes.rawValue) shards must share trained centroids and codes: "
                + "build each with build-index --centroids FILE from one --train-only")
        }
        var bases: [Int] = [], total = 0
        for reader in readers { bases.append(total); total += reader.count }
        var metadata = first
        metadata.count = total
        if readers.count > 1, metadata.bm25 != nil {
            let terms = readers.reduce(0.0) { $0 + ($1.metadata.bm25!.averageLength * Double($1.count)).rounded() }
            metadata.bm25!.averageLength = terms / Double(total)
        }
        self.shards = readers
        self.bases = bases
        self.path = name
        self.metadata = metadata
        self.dense = DenseShards(shards: readers.map(\.dense), bases: bases)
    }

    /// What makes `other`'s scores incomparable with `first`'s, or nil.
    static func disagreement(_ first: IndexMetadata, _ other: IndexMetadata) -> String? {
        if other.modelID != first.modelID { return "model '\(other.modelID)', not '\(first.modelID)'" }
        if other.dimension != first.dimension { return "\(other.dimension)-d vectors, not \(first.dimension)-d" }
        if other.metric != first.metric { return "metric \(other.metric.rawValue), not \(first.metric.rawValue)" }
        if other.kind != first.kind || other.codes != first.codes {
            return "\(other.kind.rawValue) \(other.codes.rawValue), not \(first.kind.rawValue) \(first.codes.rawValue)"
        }
        if other.dense.rerank != first.dense.rerank { return other.dense.rerank ? "it re-ranks, the first does not" : "it does not re-rank, the first does" }
        if TrainedQuantizer.needed(kind: first.kind, coding: first.codes) && other.quantizer != first.quantizer {
            return "trained quantizer \(other.quantizer ?? "none"), not \(first.quantizer ?? "none") (centroids and codes must be trained once, build-index --centroids)"
        }
        if first.kind == .ivf && (other.dense.nlist != first.dense.nlist || other.dense.nprobe != first.dense.nprobe) {
            return "\(other.dense.nlist) lists and nprobe \(other.dense.nprobe), not \(first.dense.nlist) and \(first.dense.nprobe)"
        }
        switch (first.bm25, other.bm25) {
        case (nil, nil): break
        case let (a?, b?): if a.k1 != b.k1 || a.b != b.b { return "BM25 k1 \(b.k1) b \(b.b), not k1 \(a.k1) b \(a.b)" }
        default: return other.bm25 == nil ? "it has no BM25 sections, the first has" : "it has BM25 sections, the first has none"
        }
        return nil
    }

    /// The BM25 sections of every shard with `parameters` (nil: the stored ones), or nil when
    /// the shards were built without them.
    public func bm25(parameters: BM25Parameters? = nil) throws -> BM25Shards? {
        var searchers: [BM25Searcher] = []
        for reader in shards {
            guard let searcher = try BM25Searcher(index: reader, parameters: parameters) else { return nil }
            searchers.append(searcher)
        }
        return BM25Shards(shards: searchers, bases: bases,
                          totalLengths: shards.map { ($0.metadata.bm25?.averageLength ?? 0) * Double($0.count) })
    }

    /// The shard holding global row `row`, and the row within it.
    public func locate(_ row: Int) -> (shard: Int, row: Int) { dense.locate(row) }

    /// The records of global `rows`, in that order; each shard's blocks inflated once.
    public func records(_ rows: [Int]) throws -> [ChunkRecord] {
        guard shards.count > 1 else { return try shards[0].records(rows) }
        var byShard: [Int: [(position: Int, row: Int)]] = [:]
        for (position, row) in rows.enumerated() {
            guard row >= 0 && row < count else { throw RagPipeError.corruptIndex(path: path, reason: "record \(row) out of range 0..<\(count)") }
            let (s, local) = locate(row)
            byShard[s, default: []].append((position, local))
        }
        var out = [ChunkRecord?](repeating: nil, count: rows.count)
        for (s, wanted) in byShard {
            for (w, record) in zip(wanted, try shards[s].records(wanted.map(\.row))) { out[w.position] = record }
        }
        return out.map { $0! }
    }

    public func record(_ row: Int) throws -> ChunkRecord { try records([row])[0] }

    /// Every record in global row order.
    public func forEachRecord(_ body: (Int, ChunkRecord) throws -> Void) throws {
        for (s, shard) in shards.enumerated() { try shard.forEachRecord { try body(bases[s] + $0, $1) } }
    }

    /// Every checksum of every shard.
    public func verify() throws { for shard in shards { try shard.verify() } }
}
