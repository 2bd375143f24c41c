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

    let engine: QueryEngine
    /// The document (record `source`) of each chunk row.
    let documents: [String]
    /// Query vectors and how long each took to embed, computed once for all configurations.
    var vectors: [String: (vector: [Float], seconds: Double)] = [:]

    public init(engine: QueryEngine) throws {
        self.engine = engine
        var documents: [String] = []
        documents.reserveCapacity(engine.index.count)
        try engine.index.forEachRecord { _, record in documents.append(record.source) }
        self.documents = documents
    }

    /// Evaluates `configuration`; with `run`, appends TREC run lines (`qid Q0 doc rank score tag`).
    public func evaluate(_ configuration: Configuration, queries: [(id: String, text: String)],
                         qrels: [String: [String: Int]], depth: Int = 1000, run: ((String) -> Void)? = nil) throws -> Report {
        engine.mode = configuration.mode
        engine.fusion = configuration.fusion
        engine.denseWeight = configuration.weight
        var perQuery: [RetrievalMetrics] = []
        var latencies: [Double] = []
        for q in queries {
            guard let relevant = qrels[q.id] else { continue }
            if vectors[q.text] == nil {
                let clock = Stopwatch()
                let vector = try engine.embedder.embed(q.text)
                vectors[q.text] = (vector, clock.seconds)
            }
            let (vector, embedSeconds) = vectors[q.text]!
            let clock = Stopwatch()
            let ranked = try engine.rank(q.text, vector: vector, depth: depth)
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

    /// Best-hit cosine similarity of each judged query's top `k` chunks, with its relevant
    /// documents present and with them removed from the ranking (as if not indexed).
    public func abstentionEvidence(queries: [(id: String, text: String)], qrels: [String: [String: Int]], k: Int) throws -> ([Float], [Float]) {
        var present: [Float] = [], removed: [Float] = []
        for q in queries {
            guard let relevant = qrels[q.id] else { continue }
            let vector = try vectors[q.text]?.vector ?? engine.embedder.embed(q.text)
            let ranked = try engine.rank(q.text, vector: vector, depth: 200)
            func best(_ rows: ArraySlice<(id: Int, score: Float)>) throws -> Float {
                try rows.map { try engine.index.dense.similarity(row: $0.id, vector) }.max() ?? -1
            }
            present.append(try best(ranked.prefix(k)))
            let kept = ranked.filter { (relevant[documents[$0.id]] ?? 0) <= 0 }
            removed.append(try best(kept.prefix(k)))
        }
        return (present, removed)
    }
}
