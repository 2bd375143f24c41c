import RagPipeChunking

/// Per-query retrieval metrics over a ranked list of document ids, as trec_eval / pytrec_eval
/// compute them (gain = the qrels relevance; log2 discount; BEIR's headline is nDCG@10).
public struct RetrievalMetrics: Sendable, Equatable {
    public var ndcg10 = 0.0
    public var recall10 = 0.0
    public var recall100 = 0.0
    public var mrr10 = 0.0

    public init() {}

    public init(ranking: [String], relevant: [String: Int]) {
        guard !relevant.isEmpty else { return }
        var dcg = 0.0
        for (i, doc) in ranking.prefix(10).enumerated() {
            if let gain = relevant[doc] { dcg += Double(gain) / log2(Double(i + 2)) }
        }
        var ideal = 0.0
        for (i, gain) in relevant.values.sorted(by: >).prefix(10).enumerated() { ideal += Double(gain) / log2(Double(i + 2)) }
        ndcg10 = ideal > 0 ? dcg / ideal : 0
        recall10 = Double(ranking.prefix(10).filter { relevant[$0] != nil }.count) / Double(relevant.count)
        recall100 = Double(ranking.prefix(100).filter { relevant[$0] != nil }.count) / Double(relevant.count)
        if let first = ranking.prefix(10).firstIndex(where: { relevant[$0] != nil }) { mrr10 = 1 / Double(first + 1) }
    }

    public static func mean(_ all: [RetrievalMetrics]) -> RetrievalMetrics {
        var m = RetrievalMetrics()
        guard !all.isEmpty else { return m }
        let n = Double(all.count)
        m.ndcg10 = all.map(\.ndcg10).reduce(0, +) / n
        m.recall10 = all.map(\.recall10).reduce(0, +) / n
        m.recall100 = all.map(\.recall100).reduce(0, +) / n
        m.mrr10 = all.map(\.mrr10).reduce(0, +) / n
        return m
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
