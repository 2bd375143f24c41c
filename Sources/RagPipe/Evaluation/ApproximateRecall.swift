import RagPipeSupport
import RagPipeRecords
import RagPipeIndex

/// What an IVF index's default dense search loses on the user's own questions: recall@10 of the
/// search at the stored nprobe against the search that probes every list (with the index's own
/// codes and re-ranking, so exact search for fp32 codes or re-ranked ones).
public struct ApproximateRecall: Sendable, Equatable {
    public var recallAt10: Double
    public var queries: Int
    public var nprobe: Int
    public var nlist: Int
    /// Whether probing every list is exact search: fp32 codes. (Re-ranking rescores only the
    /// best 4·k candidates by the codes, so with it the reference is still not exact search.)
    public var referenceIsExact: Bool
    /// What the build measured, against exact search, on its tuning queries (META).
    public var built: DenseReport?
    var codingName = "fp32"

    /// nil unless `index` is IVF and there are queries.
    public static func measure(_ index: DenseIndex, queries: [[Float]], built: DenseReport? = nil) throws -> ApproximateRecall? {
        try measure(DenseShards(index), queries: queries, built: built)
    }

    /// The same over a shard set's merged search.
    public static func measure(_ index: DenseShards, queries: [[Float]], built: DenseReport? = nil) throws -> ApproximateRecall? {
        guard index.kind == .ivf, !queries.isEmpty else { return nil }
        let k = min(10, index.count)
        let found = try Parallel.map(count: queries.count) { i -> (Int, Int) in
            let reference = Set(try index.search(queries[i], k: k, nprobe: index.nlist).map(\.id))
            let approximate = try index.search(queries[i], k: k)
            return (approximate.filter { reference.contains($0.id) }.count, reference.count)
        }
        let hits = found.reduce(0) { $0 + $1.0 }, relevant = found.reduce(0) { $0 + $1.1 }
        var measured = ApproximateRecall(recallAt10: relevant == 0 ? 1 : Double(hits) / Double(relevant), queries: queries.count,
                                         nprobe: index.defaultNProbe, nlist: index.nlist, referenceIsExact: index.coding == .fp32,
                                         built: built)
        measured.codingName = index.coding.rawValue + (index.reranks ? " + re-rank" : "")
        return measured
    }

    /// One line: "dense IVF recall@10 0.953 against every list probed (exact search), nprobe 31
    /// of 228 lists, 809 queries; the build measured 0.950 against exact search on 1,000 proxy
    /// queries: perturbed rows".
    public var text: String {
        var line = "dense IVF recall@10 \(String(format3: recallAt10)) against every list probed"
            + (referenceIsExact ? " (exact search)" : " with the same \(codingName) codes (their own loss is not counted)")
            + ", nprobe \(nprobe) of \(nlist) lists, \(grouped(queries)) queries"
        if let built, let recall = built.recallAt10 {
            line += "; the build measured \(String(format3: recall)) against exact search on \(grouped(built.tuningQueries)) \(built.tuning?.summaryName ?? "own-vector queries")"
        }
        return line + "\n"
    }

    /// One line of JSON: {"ivf": {"recall@10", "nprobe", "nlist", "queries", "reference", and from
    /// META "build_recall@10", "build_tuning_queries", "build_tuning"}}.
    public func appendJSON(to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.object("ivf") { o in
                o.field("recall@10", recallAt10)
                o.field("nprobe", nprobe)
                o.field("nlist", nlist)
                o.field("queries", queries)
                o.field("reference", referenceIsExact ? "exact" : "every-list")
                if let built, let recall = built.recallAt10 {
                    o.field("build_recall@10", recall)
                    o.field("build_tuning_queries", built.tuningQueries)
                    if let tuning = built.tuning { o.field("build_tuning", tuning.rawValue) }
                }
            }
        }
        out.append(0x0A)
    }
}

extension Evaluator {
    /// `ApproximateRecall` over the judged queries' vectors (embedded by the evaluations before).
    public func approximateRecall(queries: [(id: String, text: String)]) throws -> ApproximateRecall? {
        guard retriever.index.dense.kind == .ivf else { return nil }
        let vectors = try queries.map { q in try self.vectors[q.text]?.vector ?? retriever.embedder.embed(q.text) }
        return try ApproximateRecall.measure(retriever.index.dense, queries: vectors, built: retriever.index.metadata.dense)
    }
}
