/// Quality and cost figures of a dense build, stored in META and printed by `build-index`.
public struct DenseReport: Equatable, Sendable {
    public var nlist = 0
    public var nprobe = 0
    /// Recall@10 of the default search against exact fp32 search on the tuning queries
    /// (`TuningQueries`); nil when nothing was measured.
    public var recallAt10: Double?
    public var targetRecall: Double?
    public var tuningQueries = 0
    /// nil in files written before META recorded it, whose queries were the collection's own rows.
    public var tuning: TuningSource?
    /// Largest list over the mean list size.
    public var listBalance: Double?
    public var trainingPoints = 0
    public var trainingIterations = 0
    /// The k-means cost in full passes: points scored against every centroid over the sample
    /// size (the iterations for plain Lloyd's algorithm; fewer with `KMeans`'s bounds).
    public var trainingFullPasses: Double?
    /// Empty lists re-seeded by splitting a large one, over all iterations.
    public var emptyListSplits = 0
    public var trainingSeconds: Double?
    public var rerank = false
    public var warnings: [String] = []
    public init() {}
}
