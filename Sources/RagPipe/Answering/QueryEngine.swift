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
        let retrieved = try retriever.search(query)
        let clock = Stopwatch()
        let answer = try answerer.answer(query, vector: retrieved.vector, hits: retrieved.hits, embedder: retriever.embedder)
        let timings = QueryResult.Timings(embedMs: retrieved.embedMs, searchMs: retrieved.searchMs, fetchMs: retrieved.fetchMs,
                                          answerMs: clock.milliseconds)
        return QueryResult(query: query, hits: retrieved.hits, answer: answer, timings: timings)
    }
}
