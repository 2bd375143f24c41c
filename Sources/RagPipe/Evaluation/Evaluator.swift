import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import RagPipeRetrieval
import RagPipeAnswering

/// Runs BEIR-style evaluations of one index: every query of the qrels, each retrieval
/// configuration, chunk hits mapped to documents (a document scores as its best chunk).
public final class Evaluator {
    public struct Configuration: Sendable, Equatable {
        public var mode: RetrievalMode
        public var fusion: Fusion
        public var weight: Float
        public init(mode: RetrievalMode, fusion: Fusion = .rrf, weight: Float = 0.5) {
            self.mode = mode; self.fusion = fusion; self.weight = weight
        }
        public var label: String {
            switch mode {
            case .dense, .bm25: return mode.rawValue
            case .hybrid: return fusion == .rrf ? "hybrid-rrf" : "hybrid-weighted-\(weight)"
            }
        }
    }

    public struct Report: Sendable {
        public var configuration: Configuration
        public var metrics: RetrievalMetrics
        public var queries: Int
        public var latencyP50: Double
        public var latencyP95: Double
        public var latencyP99: Double
    }

    /// Ranks as `query` does by default; configurations rank the same index other ways.
    let retriever: Retriever
    /// The answerer whose evidence the abstention measures use.
    let answerer: ExtractiveAnswerer
    /// The document (record `source`) of each chunk row.
    let documents: [String]
    /// Query vectors and how long each took to embed, computed once for all configurations.
    var vectors: [String: (vector: [Float], seconds: Double)] = [:]

    public init(engine: QueryEngine) throws {
        retriever = engine.retriever
        answerer = engine.answerer.extractive
        var documents: [String] = []
        documents.reserveCapacity(retriever.index.count)
        try retriever.index.forEachRecord { _, record in documents.append(record.source) }
        self.documents = documents
    }

    /// The queries that can be evaluated: those with relevance judgments. Throws when there are
    /// none, or when no judged document is in the index (qrels of another corpus): all-zero
    /// metrics would look like a result.
    public func judged(_ queries: [(id: String, text: String)], qrels: [String: [String: Int]],
                       queriesName: String, qrelsName: String) throws -> [(id: String, text: String)] {
        let judged = queries.filter { qrels[$0.id] != nil }
        guard !judged.isEmpty else {
            throw RagPipeError.emptyInput("no query of \(queriesName) (\(queries.count) queries) has relevance judgments in \(qrelsName)")
        }
        let indexed = Set(documents)
        guard judged.contains(where: { q in qrels[q.id]!.keys.contains { indexed.contains($0) } }) else {
            throw RagPipeError.emptyInput("no document judged relevant in \(qrelsName) is in \(retriever.index.path) (built from another corpus?)")
        }
        return judged
    }

    /// Evaluates `configuration`; with `run`, appends TREC run lines (`qid Q0 doc rank score tag`).
    public func evaluate(_ configuration: Configuration, queries: [(id: String, text: String)],
                         qrels: [String: [String: Int]], depth: Int = 1000, run: ((String) -> Void)? = nil) throws -> Report {
        let retrieval = try retriever.with(configuration.mode, fusion: configuration.fusion, denseWeight: configuration.weight)
        var perQuery: [RetrievalMetrics] = []
        var latencies: [Double] = []
        for q in queries {
            guard let relevant = qrels[q.id] else { continue }
            if vectors[q.text] == nil {
                let clock = Stopwatch()
                let vector = try retriever.embedder.embed(q.text)
                vectors[q.text] = (vector, clock.seconds)
            }
            let (vector, embedSeconds) = vectors[q.text]!
            let clock = Stopwatch()
            let ranked = try retrieval.rank(q.text, vector: vector, depth: depth)
            latencies.append((embedSeconds + clock.seconds) * 1000)
            var seen = Set<String>()
            var docs: [(String, Float)] = []
            for hit in ranked where seen.insert(documents[hit.id]).inserted { docs.append((documents[hit.id], hit.score)) }
            perQuery.append(RetrievalMetrics(ranking: docs.map(\.0), relevant: relevant))
            if let run {
                for (i, (doc, score)) in docs.prefix(100).enumerated() {
                    run("\(q.id) Q0 \(doc) \(i + 1) \(score) ragpipe-\(configuration.label)")
                }
            }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)]
        }
        return Report(configuration: configuration, metrics: .mean(perQuery), queries: perQuery.count,
                      latencyP50: percentile(0.5), latencyP95: percentile(0.95), latencyP99: percentile(0.99))
    }

    /// Abstention evidence of each judged query's top `k` chunks, with its relevant documents
    /// present and with them removed from the ranking (as if not indexed): the best hit's cosine
    /// (`--min-score`) and the answer's evidence (`--min-evidence`).
    public func abstentionEvidence(queries: [(id: String, text: String)], qrels: [String: [String: Int]], k: Int) throws
        -> (cosine: (present: [Float], removed: [Float]), answer: (present: [Float], removed: [Float])) {
        var cosine: (present: [Float], removed: [Float]) = ([], []), answer: (present: [Float], removed: [Float]) = ([], [])
        try forEachJudged(queries: queries, qrels: qrels, k: k) { q, vector, present, removed, _ in
            func evidence(_ hits: [QueryHit]) throws -> Float {
                try answerer.evidence(query: vector, queryText: q.text, hits: hits, embedder: retriever.embedder) ?? -1
            }
            cosine.present.append(present.map(\.similarity).max() ?? -1)
            cosine.removed.append(removed.map(\.similarity).max() ?? -1)
            answer.present.append(try evidence(present))
            answer.removed.append(try evidence(removed))
        }
        return (cosine, answer)
    }

    /// Answerability features of each judged query's top `k` chunks (the engine's mode), with its
    /// relevant documents present and removed; `group` is the query id.
    public func answerabilityRows(queries: [(id: String, text: String)], qrels: [String: [String: Int]], k: Int) throws
        -> [(group: String, answerable: Bool, features: [Float])] {
        var rows: [(group: String, answerable: Bool, features: [Float])] = []
        try forEachJudged(queries: queries, qrels: qrels, k: k) { q, vector, present, removed, isRelevant in
            let bm25 = try retriever.bm25?.search(q.text, k: 200) ?? []
            let ceiling = retriever.bm25?.ceiling(q.text) ?? 0
            for (answerable, hits) in [(true, present), (false, removed)] {
                let scores = (answerable ? bm25 : bm25.filter { !isRelevant($0.id) }).prefix(6).map(\.score)
                let f = try AnswerabilityFeatures(queryText: q.text, query: vector, hits: hits, bm25Scores: Array(scores), bm25Ceiling: ceiling,
                                                  answerer: answerer, embedder: retriever.embedder)
                rows.append((q.id, answerable, f.values))
            }
        }
        return rows
    }

    /// Calls `body` for each judged query with its top `k` hits as ranked and with its relevant
    /// documents removed from the ranking; `isRelevant` tells a row's relevance.
    func forEachJudged(queries: [(id: String, text: String)], qrels: [String: [String: Int]], k: Int,
                       _ body: (_ query: (id: String, text: String), _ vector: [Float], _ present: [QueryHit], _ removed: [QueryHit],
                                _ isRelevant: (Int) -> Bool) throws -> Void) throws {
        for q in queries {
            guard let relevant = qrels[q.id] else { continue }
            let vector = try vectors[q.text]?.vector ?? retriever.embedder.embed(q.text)
            let ranked = try retriever.rank(q.text, vector: vector, depth: 200)
            func isRelevant(_ row: Int) -> Bool { (relevant[documents[row]] ?? 0) > 0 }
            try body(q, vector, try hits(ranked.prefix(k), vector), try hits(ranked.filter { !isRelevant($0.id) }.prefix(k), vector), isRelevant)
        }
    }

    /// Ranked rows as hits, ranks renumbered from 1.
    func hits(_ rows: ArraySlice<(id: Int, score: Float)>, _ vector: [Float]) throws -> [QueryHit] {
        try retriever.hits(Array(rows), vector: vector)
    }
}
