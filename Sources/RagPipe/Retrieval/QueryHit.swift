import RagPipeRecords

/// One retrieved chunk.
public struct QueryHit: Sendable {
    /// 1-based rank; the answer cites hits as `[rank]`.
    public var rank: Int
    /// Row of the chunk in the index.
    public var row: Int
    /// The ranking score of the mode: cosine (dense), BM25, or the fused score (hybrid).
    public var score: Float
    /// Cosine similarity of the chunk's vector with the query's, whatever the mode: the
    /// evidence abstention is judged on.
    public var similarity: Float
    public var record: ChunkRecord

    package init(rank: Int, row: Int, score: Float, similarity: Float, record: ChunkRecord) {
        self.rank = rank; self.row = row; self.score = score; self.similarity = similarity; self.record = record
    }
}
