/// Quality and cost figures of a dense build, stored in META and printed by `build-index`.
public struct DenseReport: Equatable, Sendable {
    public var nlist = 0
    public var nprobe = 0
    /// Recall@10 of the default search against exact fp32 search, on the collection's own rows
    /// as queries (each query's own row left out of both lists); nil for exact flat indexes.
    public var recallAt10: Double?
    public var targetRecall: Double?
    public var tuningQueries = 0
    /// Largest list over the mean list size.
    public var listBalance: Double?
    public var trainingPoints = 0
    public var trainingIterations = 0
    /// Empty lists re-seeded by splitting a large one, over all iterations.
    public var emptyListSplits = 0
    public var trainingSeconds: Double?
    public var rerank = false
    public var warnings: [String] = []
    public init() {}
}
