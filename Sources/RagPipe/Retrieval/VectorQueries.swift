import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex

/// Searches an index with query vectors given directly (`query --npy`): each row, normalized to
/// unit length, against the index's dense vectors (flat or IVF). Returns rows and cosine scores, best first.
public enum VectorQueries {
    public static func search(_ index: IndexReader, queries: NumpyMatrix, k: Int, nprobe: Int? = nil) throws -> [[(row: Int, score: Float)]] {
        try search(IndexShards(index), queries: queries, k: k, nprobe: nprobe)
    }

    /// The same over a shard set: rows are global.
    public static func search(_ index: IndexShards, queries: NumpyMatrix, k: Int, nprobe: Int? = nil) throws -> [[(row: Int, score: Float)]] {
        guard queries.columns == index.dimension else {
            throw RagPipeError.dimensionMismatch("query vectors have \(queries.columns) columns, \(index.path) holds \(index.dimension)-d vectors")
        }
        var results: [[(row: Int, score: Float)]] = []
        results.reserveCapacity(queries.rows)
        var q = [Float](repeating: 0, count: queries.columns)
        for i in 0..<queries.rows {
            for j in 0..<queries.columns { q[j] = queries.values[i * queries.columns + j] }
            guard q.allSatisfy(\.isFinite) else {
                throw RagPipeError.malformedRecord(where: "query row \(i)", reason: "vector holds NaN or infinity")
            }
            q.withUnsafeMutableBufferPointer { normalize($0) }
            let top = try index.dense.search(q, k: k, nprobe: nprobe)
            results.append(top.map { (row: $0.id, score: $0.score) })
        }
        return results
    }
}

/// How `query --npy` prints its results: per query row, text (`i: row:score row:score …`,
/// scores to 6 decimals) or one JSON object (`{"query": i, "hits": [{"rank", "row", "score"}]}`,
/// scores in shortest round-trip form).
extension VectorQueries {
    public static func write(_ results: [[(row: Int, score: Float)]], json: Bool, to sink: OutputSink) throws {
        for (i, hits) in results.enumerated() {
            if json {
                try sink.append { out in
                    JSONObjectWriter.write(to: &out) { o in
                        o.field("query", i)
                        o.array("hits") { a in
                            for (r, h) in hits.enumerated() {
                                a.object { o in
                                    o.field("rank", r + 1)
                                    o.field("row", h.row)
                                    o.field("score", h.score)
                                }
                            }
                        }
                    }
                    out.append(0x0A)
                }
            } else {
                try sink.write("\(i): " + hits.map { "\($0.row):\(String((Double($0.score) * 1e6).rounded() / 1e6))" }.joined(separator: " ") + "\n")
            }
        }
        try sink.flush()
    }
}
