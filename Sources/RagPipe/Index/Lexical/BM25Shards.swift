import RagPipeSupport
import RagPipeChunking

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The statistics BM25 scores with, summed over a shard set for one query's terms: a chunk's
/// score then depends on the whole collection, not on the shard that holds it. Each shard keeps
/// its own raw figures (chunk count, `BMDL` total via `bm25_avgdl`, per-term document frequency
/// in `BMTV`); nothing global is baked into a shard, so shards are built apart.
package struct BM25Collection: Sendable {
    /// Chunks in every shard.
    package var documents: Int
    /// Terms in every shard over `documents`, as one index's `bm25_avgdl` (floored as it is).
    package var averageLength: Float
    /// The idf of each query term over every shard, by the one-index formula.
    package var idf: [String: Float]

    /// `ln(1 + (N − df + 0.5) / (df + 0.5))` in Float, exactly as `BM25Searcher.search` computes it.
    package static func idf(documents n: Int, df: Int) -> Float {
        let df = Float(df)
        return log(1 + (Float(n) - df + 0.5) / (df + 0.5))
    }
}

/// BM25 over one index or a shard set, scoring as one index over all of them would: the same
/// idf and average length everywhere, each shard's postings scored in place, hits merged by
/// score then global row (a shard's rows follow the rows of the shards before it).
public struct BM25Shards: Sendable {
    public let shards: [BM25Searcher]
    /// The first global row of each shard.
    public let bases: [Int]
    let documents: Int
    /// Σ terms of every shard, in double precision (each shard's is `bm25_avgdl · count`, exact
    /// to the integer it was made from: META stores avgdl in shortest round-trip form).
    let totalLength: Double

    public var parameters: BM25Parameters { shards[0].parameters }

    public init(_ searcher: BM25Searcher) {
        self.init(shards: [searcher], bases: [0], totalLengths: [Double(searcher.averageLength) * Double(searcher.count)])
    }

    /// `searchers` in shard order with their first global rows and `bm25_avgdl · count` each.
    package init(shards: [BM25Searcher], bases: [Int], totalLengths: [Double]) {
        precondition(!shards.isEmpty && shards.count == bases.count && bases.count == totalLengths.count)
        self.shards = shards; self.bases = bases
        documents = shards.reduce(0) { $0 + $1.count }
        totalLength = totalLengths.reduce(0) { $0 + $1.rounded() }
    }

    /// The collection statistics of `terms` (nil for one shard: its own are the collection's).
    func collection(_ terms: [String]) -> BM25Collection? {
        guard shards.count > 1 else { return nil }
        var idf: [String: Float] = [:]
        for term in terms where idf[term] == nil {
            idf[term] = BM25Collection.idf(documents: documents, df: shards.reduce(0) { $0 + $1.documentFrequency(term) })
        }
        // As `BM25Builder`: the mean in double precision, then as the searcher floors it.
        let mean = documents > 0 ? totalLength / Double(documents) : 0
        return BM25Collection(documents: documents, averageLength: Float(max(mean, 1e-9)), idf: idf)
    }

    /// The best `k` chunks (global rows) for `query`.
    public func search(_ query: String, k: Int) throws -> [(id: Int, score: Float)] {
        let terms = EnglishAnalyzer().terms(query)
        guard shards.count > 1 else { return try shards[0].search(terms: terms, collection: nil, k: k) }
        let collection = collection(terms)
        var top = TopK(k: max(1, k))
        for (s, shard) in shards.enumerated() {
            for hit in try shard.search(terms: terms, collection: collection, k: k) { top.push(hit.score, bases[s] + hit.id) }
        }
        return top.sorted()
    }

    /// BM25's idf of an analyzed term over every shard (0 for a term no chunk holds).
    public func idf(_ term: String) -> Float {
        guard shards.count > 1 else { return shards[0].idf(term) }
        let df = shards.reduce(0) { $0 + $1.documentFrequency(term) }
        return df == 0 ? 0 : BM25Collection.idf(documents: documents, df: df)
    }

    /// As `BM25Searcher.ceiling`, with the collection's idf.
    public func ceiling(_ query: String) -> Float {
        EnglishAnalyzer().terms(query).reduce(Float(0)) { $0 + idf($1) * (parameters.k1 + 1) }
    }
}
