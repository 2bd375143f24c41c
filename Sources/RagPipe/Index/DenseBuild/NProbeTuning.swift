import RagPipeSupport
import RagPipeRecords

/// The build-time measurement of a dense index against exact search, and the choice of the
/// default nprobe stored in META.
enum NProbeTuning {
    /// Chooses the default nprobe (`report.nprobe`, which META stores and the reader hands to
    /// the index it opens): the smallest that reaches the target recall@10 on a sample of the
    /// collection's own rows as queries, and records the recall reached. `view` is searched
    /// with an explicit nprobe throughout, so its own default plays no part.
    static func tune(_ view: DenseIndex, vectors: UnsafeBufferPointer<Float>, options: DenseIndexOptions,
                     report: inout DenseReport, status: (String) -> Void) throws {
        let n = view.count, dim = view.dimension
        let queries = min(n, options.tuningQueries)
        // Too few vectors to tune on: the asked-for nprobe, else every list (exact).
        if view.kind == .ivf { report.nprobe = max(1, min(options.nprobe ?? view.nlist, view.nlist)) }
        guard queries > 1, n > 10 else { return }
        var rng = SplitMix64(seed: options.seed &+ 2)
        var rows = Array(0..<n)
        for i in 0..<queries { rows.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        let queryRows = Array(rows[..<queries]).sorted()
        status("exact top-10 of \(queries) tuning queries")
        var queryVectors = [Float](repeating: 0, count: queries * dim)
        for (i, row) in queryRows.enumerated() { for j in 0..<dim { queryVectors[i * dim + j] = vectors[row * dim + j] } }
        let truth = ExactSearch.topK(queries: queryVectors, vectors: vectors, dimension: dim, k: 11)
            .enumerated().map { i, hits in Set(hits.lazy.filter { $0.id != queryRows[i] }.prefix(10).map(\.id)) }
        report.tuningQueries = queries
        report.targetRecall = options.targetRecall

        func recall(nprobe: Int) throws -> Double {
            let found = try Parallel.map(count: queries) { i -> Int in
                let q = Array(queryVectors[(i * dim)..<((i + 1) * dim)])
                let hits = try view.search(q, k: 11, nprobe: nprobe).lazy.filter { $0.id != queryRows[i] }.prefix(10)
                return hits.reduce(0) { $0 + (truth[i].contains($1.id) ? 1 : 0) }
            }
            let relevant = truth.reduce(0) { $0 + $1.count }
            return relevant == 0 ? 1 : Double(found.reduce(0, +)) / Double(relevant)
        }
        if view.kind == .flat {
            report.recallAt10 = try recall(nprobe: 0)
            return
        }
        if let fixed = options.nprobe {
            report.nprobe = max(1, min(fixed, view.nlist))
            report.recallAt10 = try recall(nprobe: report.nprobe)
            return
        }
        var best = (nprobe: view.nlist, recall: -1.0)
        var p = 1
        while true {
            p = min(p, view.nlist)
            status("tuning nprobe: \(p) of \(view.nlist) lists")
            let r = try recall(nprobe: p)
            if r > best.recall { best = (p, r) }
            if r >= options.targetRecall { best = (p, r); break }
            if p == view.nlist { break }
            p = max(p + 1, Int((Double(p) * 1.25).rounded()))
        }
        if best.recall < options.targetRecall {
            report.warnings.append("recall@10 reaches only \(String(format3: best.recall)) (target \(options.targetRecall)) even probing every list; "
                + (view.coding == .fp32 ? "" : "--rerank or finer codes would raise it"))
        }
        report.nprobe = best.nprobe
        report.recallAt10 = best.recall
    }
}
