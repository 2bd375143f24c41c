import RagPipeRetrieval

/// What `query` prints for one query: the hits, the checked answer, and what each step took.
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

        public init(embedMs: Double = 0, searchMs: Double = 0, fetchMs: Double = 0, answerMs: Double = 0) {
            self.embedMs = embedMs; self.searchMs = searchMs; self.fetchMs = fetchMs; self.answerMs = answerMs
        }
    }
}
