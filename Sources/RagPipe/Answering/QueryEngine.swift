import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval

/// One retrieved chunk.
public struct QueryHit: Sendable {
    /// 1-based rank; the answer cites hits as `[rank]`.
    public var rank: Int
    /// Row of the chunk in the index.
    public var row: Int
    /// The ranking score of the mode: cosine (dense), BM25, or the fused score (hybrid).
    public var score: Float
    /// Cosine similarity of the chunk's vector with the query's, whatever the mode: the
    /// evidence abstention is judged on.
    public var similarity: Float
    public var record: ChunkRecord

    package init(rank: Int, row: Int, score: Float, similarity: Float, record: ChunkRecord) {
        self.rank = rank; self.row = row; self.score = score; self.similarity = similarity; self.record = record
    }
}

public struct QueryResult: Sendable {
    public var query: String
    public var hits: [QueryHit]
    public var answer: Answer
    public var timings: Timings

    public struct Timings: Sendable {
        public var embedMs: Double = 0
        public var searchMs: Double = 0
        public var fetchMs: Double = 0
        public var answerMs: Double = 0
        public var totalMs: Double { embedMs + searchMs + fetchMs + answerMs }
    }
}

/// A ranking of one index's chunks. The BM25 cases carry the index's BM25 sections, so a
/// retrieval that needs them cannot exist for an index built without them.
public enum Retrieval {
    case dense
    case bm25(BM25Searcher)
    /// Dense and BM25 lists fused; `denseWeight` is `Fusion.weighted`'s weight of the dense list.
    case hybrid(BM25Searcher, Fusion, denseWeight: Float)

    public init(_ mode: RetrievalMode, bm25: BM25Searcher?, fusion: Fusion = .weighted, denseWeight: Float = 0.5, path: String) throws {
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

/// Runs queries against an open index: embed, exact top-k, fetch texts, answer.
public final class QueryEngine {
    public let index: IndexReader
    public let embedder: any Embedder
    public var k: Int
    public var answerer: ExtractiveAnswerer
    /// How chunks are ranked; fixed at construction, and BM25 can only be chosen with the
    /// index's BM25 sections in hand, so no ranking can reach for sections that are not there.
    public let retrieval: Retrieval
    public var mode: RetrievalMode { retrieval.mode }
    /// Candidates taken from each list before fusion.
    public var fusionDepth = 100
    /// The index's BM25 sections (nil when built with --no-bm25): IDF for answers, features.
    public let bm25: BM25Searcher?
    /// IVF lists probed per query; nil: the index's tuned default.
    public var nprobe: Int?
    /// Generates answers instead of extracting them (`query --llm`).
    public var generator: (any AnswerGenerator)?
    /// Token budget of the generator's context.
    public var contextTokens = 4000
    /// Receives generated text as it streams in.
    public var onGeneratedText: ((String) -> Void)?
    /// The guardrail run on every answer; nil turns it off.
    public var groundedness: GroundednessCheck? = GroundednessCheck()
    /// Replace answers that are not grounded by "I don't know" (and flag them for escalation).
    public var strict = false

    /// Uses the embedder the index names; a different `modelID` is refused.
    public init(index: IndexReader, embedder: (any Embedder)? = nil, k: Int = 5, minScore: Float? = nil,
                minEvidence: Float? = nil, mode: RetrievalMode? = nil, fusion: Fusion = .weighted,
                denseWeight: Float = 0.5, bm25Parameters: BM25Parameters? = nil) throws {
        let resolved = try embedder ?? EmbedderRegistry.embedder(modelID: index.metadata.modelID, dimension: index.dimension)
        guard resolved.modelID == index.metadata.modelID else {
            throw RagPipeError.modelMismatch("\(index.path) was built with '\(index.metadata.modelID)', the query embedder is '\(resolved.modelID)'")
        }
        guard resolved.dimension == index.dimension else {
            throw RagPipeError.dimensionMismatch("\(index.path) holds \(index.dimension)-d vectors, the query embedder makes \(resolved.dimension)-d")
        }
        if let minScore, !minScore.isFinite { throw RagPipeError.usage("minimum score \(minScore) is not a finite number") }
        if let minEvidence, !minEvidence.isFinite { throw RagPipeError.usage("minimum evidence \(minEvidence) is not a finite number") }
        self.index = index
        self.embedder = resolved
        self.k = k
        self.answerer = ExtractiveAnswerer(minScore: minScore ?? resolved.defaultMinScore,
                                           minEvidence: minEvidence ?? resolved.defaultMinEvidence)
        if let problem = bm25Parameters?.problem { throw RagPipeError.usage(problem) }
        let bm25 = try BM25Searcher(index: index, parameters: bm25Parameters)
        self.bm25 = bm25
        if let bm25 { answerer.idf = { bm25.idf($0) } }
        retrieval = try Retrieval(mode ?? (bm25 == nil ? .dense : .hybrid), bm25: bm25, fusion: fusion, denseWeight: denseWeight,
                                  path: index.path)
    }

    /// A ranking of this engine's index; throws when it needs BM25 sections the index lacks.
    public func retrieval(_ mode: RetrievalMode, fusion: Fusion = .weighted, denseWeight: Float = 0.5) throws -> Retrieval {
        try Retrieval(mode, bm25: bm25, fusion: fusion, denseWeight: denseWeight, path: index.path)
    }

    /// The best `depth` chunk rows for `query` (vector `q`) in the current mode.
    public func rank(_ query: String, vector q: [Float], depth: Int, using retrieval: Retrieval? = nil) throws -> [(id: Int, score: Float)] {
        func dense(_ n: Int) throws -> [(id: Int, score: Float)] {
            try index.dense.search(q, k: n, nprobe: nprobe)
        }
        switch retrieval ?? self.retrieval {
        case .dense: return try dense(depth)
        case .bm25(let bm25): return try bm25.search(query, k: depth)
        case let .hybrid(bm25, fusion, weight):
            let n = max(depth, fusionDepth)
            return fusion.fuse(dense: try dense(n), bm25: try bm25.search(query, k: n), weight: weight, k: depth)
        }
    }

    /// Cosine similarity of row `row` with the query vector.
    func similarity(_ row: Int, _ q: [Float]) throws -> Float {
        try index.dense.similarity(row: row, q)
    }

    /// Extractive or generated, then checked. Weak evidence abstains before any generation.
    func answer(_ query: String, vector q: [Float], hits: [QueryHit]) throws -> Answer {
        var answer: Answer
        let shown: Set<Int>
        if let generator {
            guard answerer.hasEvidence(hits) else { return answerer.abstention(hits) }
            let evidence = answerer.judgesEvidence ? try answerer.evidence(query: q, queryText: query, hits: hits, embedder: embedder) : nil
            if let evidence, let weak = answerer.weakEvidenceAbstention(hits, evidence: evidence) { return weak }
            let prompt = GroundedPrompt(question: query, hits: hits, tokenBudget: contextTokens)
            let generated = try generator.generate(prompt, onText: onGeneratedText)
            shown = Set(prompt.shown)
            let text = generated.text.trimmingWhitespace()
            let declined = text.lowercased().hasPrefix("i don't know") || text.lowercased().hasPrefix("i do not know") || text.isEmpty
            let cited = Set(GroundednessCheck.claims(in: text).flatMap(\.citations))
            answer = Answer(text: text.isEmpty ? "I don't know." : text,
                            citations: hits.filter { cited.contains($0.rank) && shown.contains($0.rank) }.map(ExtractiveAnswerer.citation),
                            abstained: declined)
            if declined { answer.citations = hits.prefix(2).map(ExtractiveAnswerer.citation) }
            answer.backend = "llm"
            answer.evidence = evidence
            answer.generation = generated
        } else {
            answer = try answerer.answer(query: q, queryText: query, hits: hits, embedder: embedder)
            shown = Set(hits.prefix(answerer.hitsConsidered).map(\.rank))
        }
        guard let check = groundedness, !answer.abstained else { return answer }
        let report = try check.check(answer: answer.text, hits: hits, shown: shown, embedder: embedder)
        answer.groundedness = report
        if strict && !report.grounded {
            answer.escalated = true
            answer.abstained = true
            answer.text = "I don't know: the answer could not be verified against the sources (groundedness "
                + "\(String(format3: Double(report.groundedness))) < \(String(format3: Double(check.answerThreshold)))); escalate to a person."
        }
        return answer
    }

    public func run(_ query: String) throws -> QueryResult {
        var timings = QueryResult.Timings()
        var clock = Stopwatch()
        let q = try embedder.embed(query)
        timings.embedMs = clock.milliseconds
        clock.restart()
        let top = try rank(query, vector: q, depth: k)
        timings.searchMs = clock.milliseconds
        clock.restart()
        var hits: [QueryHit] = []
        for (i, t) in top.enumerated() {
            hits.append(QueryHit(rank: i + 1, row: t.id, score: t.score, similarity: try similarity(t.id, q), record: try index.record(t.id)))
        }
        timings.fetchMs = clock.milliseconds
        clock.restart()
        let answer = try answer(query, vector: q, hits: hits)
        timings.answerMs = clock.milliseconds
        return QueryResult(query: query, hits: hits, answer: answer, timings: timings)
    }
}
