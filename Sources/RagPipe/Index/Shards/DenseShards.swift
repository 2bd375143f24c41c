import RagPipeSupport

/// Dense search over one index or a shard set, with the result one index over every shard's
/// rows would give: the shards share centroids (so each probes the same lists for a query, and
/// the same nprobe) and codec parameters (so a row's code and score are the same wherever it
/// is), each shard's best are merged by score, ties to the lower global row. With re-ranking,
/// the candidates are merged first and re-scored after, as one index re-scores its best `4·k`.
public struct DenseShards: Sendable {
    public let shards: [DenseIndex]
    /// The first global row of each shard.
    public let bases: [Int]
    public let count: Int

    public init(_ index: DenseIndex) { self.init(shards: [index], bases: [0]) }

    package init(shards: [DenseIndex], bases: [Int]) {
        precondition(!shards.isEmpty && shards.count == bases.count)
        self.shards = shards; self.bases = bases
        count = shards.reduce(0) { $0 + $1.count }
    }

    public var dimension: Int { shards[0].dimension }
    public var kind: IndexKind { shards[0].kind }
    public var coding: VectorCoding { shards[0].coding }
    public var nlist: Int { shards[0].nlist }
    public var defaultNProbe: Int { shards[0].defaultNProbe }
    public var reranks: Bool { shards[0].reranks }

    /// The shard holding global row `row`, and the row within it.
    public func locate(_ row: Int) -> (shard: Int, row: Int) {
        precondition(row >= 0 && row < count)
        var lo = 0, hi = bases.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if bases[mid] <= row { lo = mid } else { hi = mid - 1 }
        }
        return (lo, row - bases[lo])
    }

    /// The `k` best global rows for unit query `q`, best first (ties by ascending row).
    public func search(_ q: [Float], k: Int, nprobe: Int? = nil) throws -> [(id: Int, score: Float)] {
        guard shards.count > 1 else { return try shards[0].search(q, k: k, nprobe: nprobe) }
        let k = max(1, min(k, count))
        let reranks = self.reranks
        let depth = reranks ? min(count, k * shards[0].rerankFactor) : k
        var top = TopK(k: depth)
        for (s, shard) in shards.enumerated() {
            let hits = reranks ? try shard.candidates(q, k: depth, nprobe: nprobe) : try shard.search(q, k: depth, nprobe: nprobe)
            for hit in hits { top.push(hit.score, bases[s] + hit.id) }
        }
        guard reranks else { return top.sorted() }
        var exact = TopK(k: k)
        for (row, _) in top.sorted() {
            let (s, local) = locate(row)
            exact.push(try shards[s].similarity(row: local, q), row)
        }
        return exact.sorted()
    }

    /// Cosine similarity of global row `row` with unit query `q` (`DenseIndex.similarity`).
    public func similarity(row: Int, _ q: [Float]) throws -> Float {
        let (s, local) = locate(row)
        return try shards[s].similarity(row: local, q)
    }

    public func reconstruct(row: Int) throws -> [Float] {
        let (s, local) = locate(row)
        return try shards[s].reconstruct(row: local)
    }
}

extension DenseIndex {
    /// The best `k` rows by their codes' scores alone, before any re-ranking: what `search`
    /// re-scores, so a shard set can merge candidates before it re-scores them.
    func candidates(_ q: [Float], k: Int, nprobe: Int?) throws -> [(id: Int, score: Float)] {
        precondition(q.count == dimension)
        var top = TopK(k: max(1, min(k, count)))
        do throws(IndexFileError) { try codes.search(q, into: &top, nprobe: nprobe) } catch { throw error.error(path: name) }
        return top.sorted()
    }
}
