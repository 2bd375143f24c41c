/// One query's IVF search, widened a range of lists at a time: what nprobe tuning measures.
///
/// Widening to nprobe p has offered the codes of the p lists `search(_:k:nprobe: p)` probes, in
/// the same order, and `TopK` keeps the same items whatever the order they come in (ties by
/// ascending row), so `DenseIndex.hits(of:)` at every p equals that search's result. Trying the
/// nprobes 1, 2, 3, … 118 of a tuning run then costs one search at 118, not their sum.
struct WideningSearch {
    let query: [Float]
    let k: Int
    /// The closest lists first, a prefix of the ranking (extended when the search widens past it).
    fileprivate(set) var ranked: [Int] = []
    fileprivate(set) var candidates: TopK
    /// Lists scanned so far: the nprobe the candidates stand for.
    fileprivate(set) var probed = 0
}

extension DenseIndex {
    /// Whether its searches can be widened (IVF lists scanned one by one into the results).
    var widens: Bool { codes is any ListScanning }

    /// A search of unit query `q` for `k` hits that has probed no list yet.
    func wideningSearch(_ q: [Float], k: Int) -> WideningSearch {
        precondition(q.count == dimension)
        let k = max(1, min(k, count))
        return WideningSearch(query: q, k: k, candidates: TopK(k: candidateCount(k: k)))
    }

    /// Scans the lists from the search's `probed` up to `nprobe` (at most every list). An
    /// nprobe below `probed` is a programming error: candidates cannot be taken back.
    func widen(_ search: inout WideningSearch, to nprobe: Int) throws {
        let target = min(max(nprobe, 1), nlist)
        precondition(target >= search.probed, "a widening search cannot narrow")
        guard let lists = codes as? any ListScanning else { preconditionFailure("widen a storage that scans list by list only") }
        guard target > search.probed else { return }
        if search.ranked.count < target {
            // Doubling: a ranking of every list per tuning query would hold nlist ids each.
            search.ranked = lists.rankedLists(search.query, count: min(nlist, max(target, 2 * search.ranked.count, 64)))
        }
        do throws(IndexFileError) {
            try lists.scan(search.query, lists: search.ranked[search.probed..<target], into: &search.candidates)
        } catch { throw error.error(path: name) }
        search.probed = target
    }

    /// The hits of the lists probed so far: `search(query, k: k, nprobe: probed)`'s result.
    func hits(of search: WideningSearch) -> [(id: Int, score: Float)] {
        hits(of: search.candidates, search.query, k: search.k)
    }
}
