/// How `build-index` lays out the dense vectors.
public struct DenseIndexOptions: Sendable {
    /// nil: `auto`, flat below `autoIVFThreshold` vectors, IVF from there on.
    public var kind: IndexKind?
    public var coding: VectorCoding = .fp32
    public var nlist: Int?
    /// A fixed default nprobe instead of the tuned one.
    public var nprobe: Int?
    /// Keep the exact fp32 vectors beside fp16/sq8 codes and re-rank with them.
    public var rerank = false
    /// k-means training sample size (points, not per list).
    public var trainingPoints: Int?
    public var iterations = 20
    public var seed: UInt64 = 1
    /// The recall@10 against exact search that the default nprobe must reach.
    public var targetRecall = 0.95
    /// The queries the default nprobe is tuned on.
    public var tuning = TuningQueries.perturbedRows(count: 1000)
    /// Centroids, codec parameters and nprobe trained before (`build-index --centroids`): used
    /// instead of training, so that shards built apart share them.
    public var trained: TrainedQuantizer?

    /// Below this many vectors an exact flat scan is faster than building lists is worth:
    /// a flat fp32 scan took 2.2 ms at 36,300 × 384 and 4.6 ms at 100,000 (`make bench`), less than
    /// embedding a query with MiniLM (~10 ms, `query --json` timings).
    public static let autoIVFThreshold = 50_000
    public static let minimumPointsPerList = 39
    public static let maximumPointsPerList = 256

    public init() {}

    /// ~4·√N, and at most N/39 so every list gets 39 training points.
    public static func defaultNList(count n: Int) -> Int {
        max(1, min(Int((4 * Double(n).squareRoot()).rounded()), n / minimumPointsPerList))
    }

    /// 64 points per list (at least the 39 k-means needs, at most FAISS's 256), or all of N.
    public static func defaultTrainingPoints(nlist: Int, count n: Int) -> Int {
        min(n, nlist * 64)
    }
}
