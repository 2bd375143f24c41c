import RagPipeSupport
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval
import RagPipeAnswering

/// What a caller chooses per question, the same for `query` (its options) and `serve` (the fields
/// of a `POST /v1/query` body): one set of values, one validation, one way to make the engine.
/// `nil` means the index's or the embedder's default, as in `query`.
public struct QueryOptions: Sendable, Hashable {
    public var k = 5
    public var minScore: Float?
    public var minEvidence: Float?
    public var mode: RetrievalMode?
    public var fusion: Fusion = .weighted
    public var weight: Float = 0.5
    public var nprobe: Int?
    public var answerSentences = 3
    public var answerWords = 80
    public var strict = false
    public var groundedThreshold: Float = GroundednessCheck.defaultAnswerThreshold
    public var supportThreshold: Float = GroundednessCheck.defaultSentenceThreshold
    public var bm25K1: Float?
    public var bm25B: Float?

    public init() {}

    /// One option, named as `query` spells it (`flag`) and as a JSON body does (`rawValue`).
    public enum Field: String, CaseIterable, Sendable {
        case k, minScore = "min_score", minEvidence = "min_evidence", mode, fusion, weight, nprobe
        case answerSentences = "answer_sentences", answerWords = "answer_words", strict
        case groundedThreshold = "grounded_threshold", supportThreshold = "support_threshold"
        case bm25K1 = "bm25_k1", bm25B = "bm25_b"

        /// The command-line spelling: `-k`, `--min-score`, `--bm25-k1`.
        public var flag: String {
            self == .k ? "-k" : "--" + rawValue.replacingUnderscores()
        }
    }

    /// Why these options cannot run, naming each option with `name` (`\.flag` for `query`,
    /// `\.rawValue` for a JSON body), or nil.
    public func problem(naming name: (Field) -> String = \.flag) -> String? {
        guard k >= 1 && k <= 10_000 else { return "\(name(.k)) must be in 1...10000, not \(k)" }
        // NaN passes no comparison: it would abstain on everything, or reach a server as invalid JSON.
        if let minScore, !(minScore >= -1 && minScore <= 1) { return "\(name(.minScore)) must be a number in -1...1 (a cosine), not \(minScore)" }
        if let minEvidence, !minEvidence.isFinite { return "\(name(.minEvidence)) must be a finite number, not \(minEvidence)" }
        guard weight >= 0 && weight <= 1 else { return "\(name(.weight)) must be in 0...1, not \(weight)" }
        if let problem = BM25Parameters(k1: bm25K1 ?? 0.9, b: bm25B ?? 0.4).problem { return "\(name(.bm25K1))/\(name(.bm25B)): \(problem)" }
        if let nprobe, nprobe < 1 { return "\(name(.nprobe)) must be at least 1, not \(nprobe)" }
        guard (1...20).contains(answerSentences), (5...1000).contains(answerWords) else {
            return "\(name(.answerSentences)) must be in 1...20 and \(name(.answerWords)) in 5...1000"
        }
        guard (0...1).contains(groundedThreshold), (-1...1).contains(supportThreshold) else {
            return "\(name(.groundedThreshold)) must be in 0...1 and \(name(.supportThreshold)) in -1...1"
        }
        return nil
    }

    /// The engine that answers with these options from `index`, whose vectors `embedder` makes
    /// (`retriever`, then `answerer`).
    public func engine(index: IndexReader, embedder: any Embedder, generation: Answerer.Generation? = nil) throws -> QueryEngine {
        try engine(shards: IndexShards(index), embedder: embedder, generation: generation)
    }

    /// The same over a shard set, ranked as one index over every shard.
    public func engine(shards: IndexShards, embedder: any Embedder, generation: Answerer.Generation? = nil) throws -> QueryEngine {
        let retriever = try retriever(shards: shards, embedder: embedder)
        return QueryEngine(retriever: retriever, answerer: try answerer(for: retriever, generation: generation))
    }

    /// The retriever of these options (mode, fusion, BM25 parameters, k, nprobe); refuses
    /// options that cannot run and an embedder that is not the index's.
    public func retriever(index: IndexReader, embedder: any Embedder) throws -> Retriever {
        try retriever(shards: IndexShards(index), embedder: embedder)
    }

    /// The same over a shard set (`IndexShards`), ranked as one index over every shard.
    public func retriever(shards index: IndexShards, embedder: any Embedder) throws -> Retriever {
        if let problem = problem() { throw RagPipeError.usage(problem) }
        return try Retriever(shards: index, embedder: embedder, mode: mode, fusion: fusion, denseWeight: weight,
                             bm25Parameters: BM25Parameters(storedIn: index, k1: bm25K1, b: bm25B),
                             settings: Retriever.Settings(k: k, nprobe: nprobe))
    }

    /// The answerer of these options for `retriever`: extractive, with the thresholds calibrated
    /// for its embedder (overridden where given), the groundedness check and the `strict` policy;
    /// `generation` makes the answers generated instead.
    public func answerer(for retriever: Retriever, generation: Answerer.Generation? = nil) throws -> Answerer {
        var extractive = ExtractiveAnswerer(try AbstentionThresholds.calibrated(for: retriever.embedder)
                                                .overridden(minScore: minScore, minEvidence: minEvidence))
        extractive.maxSentences = answerSentences
        extractive.maxWords = answerWords
        return Answerer(extractive, bm25: retriever.bm25, generation: generation,
                        groundedness: GroundednessCheck(sentenceThreshold: supportThreshold, answerThreshold: groundedThreshold),
                        strict: strict)
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String { String(map { $0 == "_" ? "-" : $0 }) }
}
