import RagPipeRecords
import RagPipeSupport
import RagPipeEmbedding
import RagPipeIndex

/// An open index (or shard set, searched as one index: `IndexShards`) ready to rank: the embedder
/// its vectors were made with, its BM25 sections, and one retrieval, all checked at construction
/// and fixed after it. A retriever that exists can
/// run every query: a ranking that needs sections the index lacks cannot be built (`Retrieval`).
public struct Retriever: Sendable {
    public let index: IndexShards
    public let embedder: any Embedder
    /// The index's BM25 sections (nil when built with --no-bm25), with the set's statistics.
    public let bm25: BM25Shards?
    public let retrieval: Retrieval
    public let settings: Settings

    public struct Settings: Sendable, Equatable {
        /// Hits returned by `search`.
        public var k = 5
        /// Candidates taken from each list before hybrid fusion.
        public var fusionDepth = 100
        /// IVF lists probed per query; nil: the index's tuned default.
        public var nprobe: Int?

        public init(k: Int = 5, fusionDepth: Int = 100, nprobe: Int? = nil) {
            self.k = k; self.fusionDepth = fusionDepth; self.nprobe = nprobe
        }

        /// Why these settings cannot run, or nil.
        public var problem: String? {
            if k < 1 { return "k must be at least 1, not \(k)" }
            if fusionDepth < 1 { return "the fusion depth must be at least 1, not \(fusionDepth)" }
            if let nprobe, nprobe < 1 { return "nprobe must be at least 1, not \(nprobe)" }
            return nil
        }
    }

    /// Hits and what each step took.
    public struct Retrieved: Sendable {
        public var vector: [Float]
        public var hits: [QueryHit]
        public var embedMs: Double
        public var searchMs: Double
        public var fetchMs: Double
    }

    /// `mode` nil: hybrid when the index has BM25 sections, else dense. `embedder` nil: the one the
    /// index names. A different model or dimension, unusable BM25 parameters or settings are refused.
    public init(index: IndexReader, embedder: (any Embedder)? = nil, mode: RetrievalMode? = nil, fusion: Fusion = .weighted,
                denseWeight: Float = 0.5, bm25Parameters: BM25Parameters? = nil, settings: Settings = Settings()) throws {
        try self.init(shards: IndexShards(index), embedder: embedder, mode: mode, fusion: fusion, denseWeight: denseWeight,
                      bm25Parameters: bm25Parameters, settings: settings)
    }

    /// The same over a shard set: hits are global rows, merged as one index over every shard would rank them.
    public init(shards index: IndexShards, embedder: (any Embedder)? = nil, mode: RetrievalMode? = nil, fusion: Fusion = .weighted,
                denseWeight: Float = 0.5, bm25Parameters: BM25Parameters? = nil, settings: Settings = Settings()) throws {
        let resolved = try embedder ?? EmbedderRegistry.embedder(modelID: index.metadata.modelID, dimension: index.dimension)
        guard resolved.modelID == index.metadata.modelID else {
            throw RagPipeError.modelMismatch("\(index.path) was built with '\(index.metadata.modelID)', the query embedder is '\(resolved.modelID)'")
        }
        guard resolved.dimension == index.dimension else {
            throw RagPipeError.dimensionMismatch("\(index.path) holds \(index.dimension)-d vectors, the query embedder makes \(resolved.dimension)-d")
        }
        if let problem = settings.problem { throw RagPipeError.usage(problem) }
        if let problem = bm25Parameters?.problem { throw RagPipeError.usage(problem) }
        let bm25 = try index.bm25(parameters: bm25Parameters)
        self.init(index: index, embedder: resolved, bm25: bm25,
                  retrieval: try Retrieval(mode ?? (bm25 == nil ? .dense : .hybrid), bm25: bm25, fusion: fusion,
                                           denseWeight: denseWeight, path: index.path),
                  settings: settings)
    }

    private init(index: IndexShards, embedder: any Embedder, bm25: BM25Shards?, retrieval: Retrieval, settings: Settings) {
        self.index = index; self.embedder = embedder; self.bm25 = bm25; self.retrieval = retrieval; self.settings = settings
    }

    public var mode: RetrievalMode { retrieval.mode }

    /// The same index and embedder ranked another way (evaluations compare several); throws when
    /// the ranking needs BM25 sections the index lacks.
    public func with(_ mode: RetrievalMode, fusion: Fusion = .weighted, denseWeight: Float = 0.5) throws -> Retriever {
        Retriever(index: index, embedder: embedder, bm25: bm25,
                  retrieval: try Retrieval(mode, bm25: bm25, fusion: fusion, denseWeight: denseWeight, path: index.path),
                  settings: settings)
    }

    /// The best `depth` chunk rows for `query`, whose embedding is `vector`, best first.
    public func rank(_ query: String, vector: [Float], depth: Int) throws -> [(id: Int, score: Float)] {
        func dense(_ n: Int) throws -> [(id: Int, score: Float)] {
            try index.dense.search(vector, k: n, nprobe: settings.nprobe)
        }
        switch retrieval {
        case .dense: return try dense(depth)
        case .bm25(let bm25): return try bm25.search(query, k: depth)
        case let .hybrid(bm25, fusion, weight):
            let n = max(depth, settings.fusionDepth)
            return fusion.fuse(dense: try dense(n), bm25: try bm25.search(query, k: n), weight: weight, k: depth)
        }
    }

    /// Ranked rows as hits: rank from 1, each with its cosine to `vector` and its record. Records
    /// come from `record` when given (a caller holding every record), else from the index, each
    /// text block inflated once.
    public func hits(_ ranked: [(id: Int, score: Float)], vector: [Float],
                     record: ((Int) throws -> ChunkRecord)? = nil) throws -> [QueryHit] {
        let records = try record.map { fetch in try ranked.map { try fetch($0.id) } } ?? index.records(ranked.map(\.id))
        return try ranked.enumerated().map { i, t in
            QueryHit(rank: i + 1, row: t.id, score: t.score, similarity: try index.dense.similarity(row: t.id, vector),
                     record: records[i])
        }
    }

    /// Embeds `query` and returns its top `settings.k` hits.
    public func search(_ query: String) throws -> Retrieved {
        let clock = Stopwatch()
        let vector = try embedder.embed(query)
        return try search(query, vector: vector, embedMs: clock.milliseconds)
    }

    /// The top `settings.k` hits of `query`, already embedded by `embedder` as `vector` (a caller
    /// that needed the vector first, as `serve`'s semantic cache does), which took `embedMs`.
    public func search(_ query: String, vector: [Float], embedMs: Double) throws -> Retrieved {
        var clock = Stopwatch()
        let ranked = try rank(query, vector: vector, depth: settings.k)
        let searchMs = clock.milliseconds
        clock.restart()
        let hits = try hits(ranked, vector: vector)
        return Retrieved(vector: vector, hits: hits, embedMs: embedMs, searchMs: searchMs, fetchMs: clock.milliseconds)
    }
}

extension BM25Parameters {
    /// The parameters `index` stores (the defaults when it has no BM25 sections), with `k1` and
    /// `b` replaced where given: `query --bm25-k1/--bm25-b` override one and keep the other.
    public init(storedIn index: IndexReader, k1: Float?, b: Float?) {
        self.init(storedIn: index.metadata, k1: k1, b: b)
    }

    public init(storedIn index: IndexShards, k1: Float?, b: Float?) {
        self.init(storedIn: index.metadata, k1: k1, b: b)
    }

    init(storedIn metadata: IndexMetadata, k1: Float?, b: Float?) {
        let stored = metadata.bm25.map { BM25Parameters(k1: Float($0.k1), b: Float($0.b)) } ?? BM25Parameters()
        self.init(k1: k1 ?? stored.k1, b: b ?? stored.b)
    }
}
