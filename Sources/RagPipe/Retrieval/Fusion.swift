import RagPipeIndex

/// How `query` ranks chunks.
public enum RetrievalMode: String, CaseIterable, Sendable {
    case dense
    case bm25
    /// Both, fused (`Fusion`).
    case hybrid
}

/// Combining a dense and a BM25 ranking of the same chunks.
public enum Fusion: String, CaseIterable, Sendable {
    /// Reciprocal rank fusion: Σ 1 / (60 + rank). Uses ranks only; needs no calibration.
    case rrf
    /// Min-max normalize each list's scores over its candidates, then
    /// `weight · dense + (1 − weight) · bm25` (a chunk missing from a list gets 0 there).
    case weighted

    public static let rrfK: Float = 60

    public func fuse(dense: [(id: Int, score: Float)], bm25: [(id: Int, score: Float)], weight: Float, k: Int)
        -> [(id: Int, score: Float)]
    {
        var fused: [Int: Float] = [:]
        switch self {
        case .rrf:
            for (rank, hit) in dense.enumerated() { fused[hit.id, default: 0] += 1 / (Self.rrfK + Float(rank + 1)) }
            for (rank, hit) in bm25.enumerated() { fused[hit.id, default: 0] += 1 / (Self.rrfK + Float(rank + 1)) }
        case .weighted:
            func add(_ list: [(id: Int, score: Float)], _ w: Float) {
                guard let hi = list.map(\.score).max(), let lo = list.map(\.score).min() else { return }
                let range = hi - lo
                for hit in list { fused[hit.id, default: 0] += w * (range > 0 ? (hit.score - lo) / range : 1) }
            }
            add(dense, weight)
            add(bm25, 1 - weight)
        }
        var top = TopK(k: max(1, k))
        for (id, score) in fused { top.push(score, id) }
        return top.sorted()
    }
}
