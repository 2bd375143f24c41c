/// One retrieved chunk.
public struct QueryHit: Sendable {
    /// 1-based rank; the answer cites hits as `[rank]`.
    public var rank: Int
    /// Row of the chunk in the index.
    public var row: Int
    public var score: Float
    public var record: ChunkRecord
}

public struct QueryResult: Sendable {
    public var query: String
    public var hits: [QueryHit]
    public var answer: Answer
    public var timings: Timings

    public struct Timings: Sendable {
        public var embedMs: Double = 0
        public var searchMs: Double = 0
        public var fetchMs: Double = 0
        public var answerMs: Double = 0
        public var totalMs: Double { embedMs + searchMs + fetchMs + answerMs }
    }
}

/// Runs queries against an open index: embed, exact top-k, fetch texts, answer.
public final class QueryEngine {
    public let index: IndexReader
    public let embedder: any Embedder
    public var k: Int
    public var answerer: ExtractiveAnswerer

    /// Uses the embedder the index names; a different `modelID` is refused.
    public init(index: IndexReader, embedder: (any Embedder)? = nil, k: Int = 5, minScore: Float? = nil) throws {
        let resolved = try embedder ?? EmbedderRegistry.embedder(modelID: index.metadata.modelID, dimension: index.dimension)
        guard resolved.modelID == index.metadata.modelID else {
            throw RagPipeError.modelMismatch("\(index.path) was built with '\(index.metadata.modelID)', the query embedder is '\(resolved.modelID)'")
        }
        guard resolved.dimension == index.dimension else {
            throw RagPipeError.dimensionMismatch("\(index.path) holds \(index.dimension)-d vectors, the query embedder makes \(resolved.dimension)-d")
        }
        self.index = index
        self.embedder = resolved
        self.k = k
        self.answerer = ExtractiveAnswerer(minScore: minScore ?? resolved.defaultMinScore)
    }

    public func run(_ query: String) throws -> QueryResult {
        var timings = QueryResult.Timings()
        var clock = Stopwatch()
        let q = try embedder.embed(query)
        timings.embedMs = clock.milliseconds
        clock.restart()
        let top = q.withUnsafeBufferPointer {
            FlatSearch.search(vectors: index.vectors, dimension: index.dimension, query: $0, k: k)
        }
        timings.searchMs = clock.milliseconds
        clock.restart()
        var hits: [QueryHit] = []
        for (i, t) in top.enumerated() {
            hits.append(QueryHit(rank: i + 1, row: t.id, score: t.score, record: try index.record(t.id)))
        }
        timings.fetchMs = clock.milliseconds
        clock.restart()
        let answer = try answerer.answer(query: q, queryText: query, hits: hits, embedder: embedder)
        timings.answerMs = clock.milliseconds
        return QueryResult(query: query, hits: hits, answer: answer, timings: timings)
    }
}
