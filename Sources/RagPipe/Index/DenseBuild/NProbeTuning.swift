import RagPipeSupport
import RagPipeRecords

/// The build-time measurement of a dense index against exact search, and the choice of the
/// default nprobe stored in META.
enum NProbeTuning {
    /// Chooses the default nprobe (`report.nprobe`, which META stores and the reader hands to
    /// the index it opens): the smallest that reaches the target recall@10 on the tuning queries
    /// (`options.tuning`), and records the recall reached. `view` is searched with an explicit
    /// nprobe throughout, so its own default plays no part.
    static func tune(_ view: DenseIndex, vectors: BuildVectors, options: DenseIndexOptions,
                     report: inout DenseReport, status: (String) -> Void) throws {
        let n = view.count, dim = view.dimension
        // Too few vectors to tune on: the asked-for nprobe, else every list (exact).
        if view.kind == .ivf { report.nprobe = max(1, min(options.nprobe ?? view.nlist, view.nlist)) }
        let set = try TuningSet(options.tuning, vectors: vectors, seed: options.seed &+ 2)
        let queries = set.count
        guard queries >= 1, n > 10 else { return }
        status("exact top-10 of \(queries) tuning queries")
        // A proxy's own row, and any exact copy of it, is neither a hit nor part of the truth (a
        // question's passage is not in the index): ten more are fetched to drop them.
        // Copies score as the row does, so they sit beside it in the exact top 20: found there
        // once, not tested again for every nprobe tried.
        let fetched = set.sourceRows == nil ? 10 : 20
        // Chunk by chunk, merged: the same top as one scan of every row.
        var merged = [TopK](repeating: TopK(k: fetched), count: queries)
        try vectors.forEachChunk { rows, chunk in
            let part = ExactSearch.topK(queries: set.queries, vectors: chunk, dimension: dim, k: fetched)
            for q in 0..<queries { for (id, score) in part[q] { merged[q].push(score, rows.lowerBound + id) } }
        }
        let exact = merged.map { $0.sorted() }
        let own: [Set<Int>] = try exact.enumerated().map { i, hits in
            guard let source = set.sourceRows?[i] else { return [] }
            let x = try vectors.row(source)
            return try Set(hits.map(\.id).filter { row in
                try row == source || VectorMath.dot(vectors.row(row), x, dim) >= 1 - 1e-6
            })
        }
        func isOwn(_ i: Int, _ row: Int) -> Bool { own[i].contains(row) }
        let truth = exact.enumerated().map { i, hits in Set(hits.lazy.filter { !isOwn(i, $0.id) }.prefix(10).map(\.id)) }
        report.tuningQueries = queries
        if set.sourceRows == nil && queries < 100 && view.kind == .ivf && options.nprobe == nil {
            report.warnings.append("nprobe is tuned on \(queries) question\(queries == 1 ? "" : "s") only, so the recall it reaches is known to about ±\(String(format3: 2 * (0.05 * 0.95 / Double(queries * 10)).squareRoot())); a few hundred would pin it down")
        }
        report.tuning = options.tuning.source
        report.targetRecall = options.targetRecall

        let relevant = truth.reduce(0) { $0 + $1.count }
        func recall(_ hits: (Int) throws -> [(id: Int, score: Float)]) throws -> Double {
            let found = try Parallel.map(count: queries) { i -> Int in
                try hits(i).lazy.filter { !isOwn(i, $0.id) }.prefix(10).reduce(0) { $0 + (truth[i].contains($1.id) ? 1 : 0) }
            }
            return relevant == 0 ? 1 : Double(found.reduce(0, +)) / Double(relevant)
        }
        func query(_ i: Int) -> [Float] { Array(set.queries[(i * dim)..<((i + 1) * dim)]) }
        if view.kind == .flat {
            report.recallAt10 = try recall { try view.search(query($0), k: fetched) }
            return
        }
        // Every nprobe tried widens a search kept per query (`WideningSearch`): the same hits as
        // searching afresh at that nprobe, for the lists beyond the last one tried only.
        // A storage that cannot widen is searched afresh at every nprobe tried (same results).
        typealias Searches = [WideningSearch]
        func widened(_ searches: Searches, to nprobe: Int) throws -> (Searches, recall: Double) {
            guard view.widens else {
                return (searches, try recall { try view.search(query($0), k: fetched, nprobe: nprobe) })
            }
            let next = try Parallel.map(count: queries) { i -> WideningSearch in
                var s = searches[i]
                try view.widen(&s, to: nprobe)
                return s
            }
            return (next, try recall { view.hits(of: next[$0]) })
        }
        let unprobed = (0..<queries).map { view.wideningSearch(query($0), k: fetched) }
        if let fixed = options.nprobe {
            report.nprobe = max(1, min(fixed, view.nlist))
            report.recallAt10 = try widened(unprobed, to: report.nprobe).recall
            return
        }
        // Geometric steps up to the first nprobe that reaches the target, then bisection back to
        // one whose predecessor falls short. With exact scores recall only grows with nprobe
        // (more lists, a superset of candidates), so that is the smallest; with sq8 or fp16 codes
        // an extra list can, rarely, push a true neighbour out, so it is the smallest nearly.
        var best = (nprobe: view.nlist, recall: -1.0)
        var below = 0, atBelow = unprobed, current = unprobed
        var p = 1
        while true {
            p = min(p, view.nlist)
            status("tuning nprobe: \(p) of \(view.nlist) lists")
            let (searches, r) = try widened(current, to: p)
            current = searches
            if r >= options.targetRecall { best = (p, r); break }
            if r > best.recall { best = (p, r) }
            below = p
            atBelow = current
            if p == view.nlist { break }
            p = max(p + 1, Int((Double(p) * 1.25).rounded()))
        }
        if best.recall >= options.targetRecall {
            var hi = best.nprobe
            while hi - below > 1 {
                let mid = (below + hi) / 2
                status("tuning nprobe: \(mid) of \(view.nlist) lists")
                let (searches, r) = try widened(atBelow, to: mid)
                if r >= options.targetRecall { hi = mid; best = (mid, r) } else { below = mid; atBelow = searches }
            }
        }
        if best.recall < options.targetRecall {
            let remedy = view.coding == .fp32 ? "" : view.reranks ? "; finer codes would raise it" : "; --rerank or finer codes would raise it"
            report.warnings.append("recall@10 reaches only \(String(format3: best.recall)) (target \(options.targetRecall)) even probing every list" + remedy)
        }
        report.nprobe = best.nprobe
        report.recallAt10 = best.recall
    }
}
