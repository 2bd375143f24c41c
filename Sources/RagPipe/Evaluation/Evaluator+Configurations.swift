import RagPipeSupport
import RagPipeRetrieval

extension Evaluator {
    /// The retrieval configurations a BEIR evaluation names (`evaluate beir --configurations`).
    public enum ConfigurationName: String, CaseIterable, Sendable {
        /// Cosine over the vectors.
        case dense
        /// The index's BM25 sections.
        case bm25
        /// Both, fused by reciprocal rank (k = 60).
        case hybridRRF = "hybrid-rrf"
        /// Both, min-max normalized and weighted (labelled with its weight: `hybrid-weighted-0.5`).
        case hybridWeighted = "hybrid-weighted"

        /// The configuration this name stands for; `weight` is the dense share of `hybrid-weighted`.
        public func configuration(weight: Float) -> Configuration {
            switch self {
            case .dense: Configuration(mode: .dense)
            case .bm25: Configuration(mode: .bm25)
            case .hybridRRF: Configuration(mode: .hybrid, fusion: .rrf)
            case .hybridWeighted: Configuration(mode: .hybrid, fusion: .weighted, weight: weight)
            }
        }
    }

    /// The configurations `names` stand for, every one checked against the index before any runs
    /// (or writes a run file): one that needs BM25 sections the index lacks is refused by name.
    public func configurations(_ names: [ConfigurationName], weight: Float) throws -> [Configuration] {
        try names.map { name in
            let config = name.configuration(weight: weight)
            if config.mode != .dense && retriever.bm25 == nil {
                throw RagPipeError.usage("\(retriever.index.path) has no BM25 sections (built with --no-bm25): configuration "
                    + "'\(name.rawValue)' needs them; use --configurations dense")
            }
            _ = try retriever.with(config.mode, fusion: config.fusion, denseWeight: config.weight)
            return config
        }
    }
}
