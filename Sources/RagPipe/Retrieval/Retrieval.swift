import RagPipeSupport
import RagPipeIndex

/// A ranking of one index's chunks. The BM25 cases carry the index's BM25 sections, so a
/// retrieval that needs them cannot exist for an index built without them.
public enum Retrieval: Sendable {
    case dense
    case bm25(BM25Shards)
    /// Dense and BM25 lists fused; `denseWeight` is `Fusion.weighted`'s weight of the dense list.
    case hybrid(BM25Shards, Fusion, denseWeight: Float)

    public init(_ mode: RetrievalMode, bm25: BM25Shards?, fusion: Fusion = .weighted, denseWeight: Float = 0.5, path: String) throws {
        guard denseWeight >= 0 && denseWeight <= 1 else {
            throw RagPipeError.usage("the dense weight of hybrid fusion must be in 0...1, not \(denseWeight)")
        }
        switch (mode, bm25) {
        case (.dense, _): self = .dense
        case let (.bm25, bm25?): self = .bm25(bm25)
        case let (.hybrid, bm25?): self = .hybrid(bm25, fusion, denseWeight: denseWeight)
        case (.bm25, nil), (.hybrid, nil):
            throw RagPipeError.usage("\(path) has no BM25 sections (built with --no-bm25): \(mode.rawValue) retrieval needs them; use dense retrieval")
        }
    }

    public var mode: RetrievalMode {
        switch self {
        case .dense: return .dense
        case .bm25: return .bm25
        case .hybrid: return .hybrid
        }
    }
}
