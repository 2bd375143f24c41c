import RagPipeSupport
import RagPipeRetrieval

/// One query from text to checked answer: retrieve (`Retriever`), then answer (`Answerer`).
public struct QueryEngine {
    public let retriever: Retriever
    public let answerer: Answerer

    public init(retriever: Retriever, answerer: Answerer) {
        self.retriever = retriever
        self.answerer = answerer
    }

    /// `retriever` answered extractively with the thresholds calibrated for its embedder.
    public init(retriever: Retriever) {
        self.init(retriever: retriever,
                  answerer: Answerer(ExtractiveAnswerer(.calibrated(for: retriever.embedder)), bm25: retriever.bm25))
    }

    public func run(_ query: String) throws -> QueryResult {
        try answer(query, retrieved: try retriever.search(query))
    }

    /// `run` for a query the caller embedded already with the retriever's embedder (`vector`,
    /// which took `embedMs`).
    public func run(_ query: String, vector: [Float], embedMs: Double) throws -> QueryResult {
        try answer(query, retrieved: try retriever.search(query, vector: vector, embedMs: embedMs))
    }

    func answer(_ query: String, retrieved: Retriever.Retrieved) throws -> QueryResult {
        let clock = Stopwatch()
        let answer = try answerer.answer(query, vector: retrieved.vector, hits: retrieved.hits, embedder: retriever.embedder)
        let timings = QueryResult.Timings(embedMs: retrieved.embedMs, searchMs: retrieved.searchMs, fetchMs: retrieved.fetchMs,
                                          answerMs: clock.milliseconds)
        return QueryResult(query: query, hits: retrieved.hits, answer: answer, timings: timings)
    }
}
