import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex

/// A grounded extractive answer: sentences taken verbatim from the retrieved chunks, each
/// followed by the number of the hit it came from.
public struct Answer: Sendable {
    public struct Citation: Sendable {
        /// The `[n]` used in the answer: the hit's rank.
        public var number: Int
        public var source: String
        public var start: Int
        public var end: Int
        public var title: String
    }

    public var text: String
    public var citations: [Citation]
    public var abstained: Bool
    /// `extractive` or `llm`.
    public var backend = "extractive"
    /// The generation's details, for an LLM answer.
    public var generation: GeneratedAnswer?
    /// The best candidate sentence's score, which `minEvidence` is compared with (extractive
    /// answers, and `--llm` answers when the threshold applies).
    public var evidence: Float?
    /// The guardrail's verdict (absent for abstentions, which claim nothing).
    public var groundedness: GroundednessCheck.Report?
    /// With `--strict`: the answer was not grounded and was replaced by "I don't know".
    public var escalated = false
}

/// Picks the sentences of the top hits that best match the query, within a budget.
///
/// The sentences of the first `hitsConsidered` hits are first ranked lexically (cosine of
/// hashed words and word pairs, stopwords dropped: `HashEmbedder`) plus their hit's score; the
/// best `rescored` are then embedded with the index's embedder and scored by cosine similarity to
/// the query, plus `lexicalWeight` times the lexical score (the IDF-weighted share of the query's
/// terms the sentence holds, when the index has BM25 statistics), plus a tenth of their hit's
/// similarity (so a sentence from a strong chunk wins ties).
/// Embedding only a few sentences keeps a MiniLM answer to one small batch. The best are kept
/// until `maxSentences` or `maxWords` is reached, then put back in reading order (hit rank, then
/// position). Headings, fenced code and fragments under three words are skipped.
///
/// The answer abstains when no hit's cosine similarity to the query reaches `minScore` (the
/// question is off-topic), or when the best sentence's score is below `minEvidence` (the topic
/// is there, the answer is not: at 5% false abstention it abstains on 40.7% of SQuAD questions
/// whose gold paragraph was removed, the best hit's cosine on 12.3%; README, "Abstention").
public struct ExtractiveAnswerer {
    public var maxSentences = 3
    public var maxWords = 80
    /// Values chosen on 400 evenly spaced SQuAD dev questions (README, "Answer quality"): eight
    /// re-scored sentences and an IDF-weighted lexical score at twice the embedder's weight took
    /// the share of answers containing the answer from 0.778 (4 sentences, embedder only) to 0.845.
    public var hitsConsidered = 3
    public var rescored = 8
    /// Weight of the lexical (word and word-pair overlap) score in the final sentence score.
    public var lexicalWeight: Float = 2
    /// Inverse document frequencies of analyzed terms (the index's BM25 statistics). With them,
    /// the lexical score is the IDF-weighted share of the query's terms that the sentence holds.
    public var idf: ((String) -> Float)?
    /// Weight of the sentence's hit similarity in the final sentence score (a prior for strong chunks).
    public var hitWeight: Float = 0.1
    public var minScore: Float
    /// Abstain when the best sentence's score (its cosine to the query + `lexicalWeight` × its
    /// IDF-weighted coverage of the query's terms + `hitWeight` × its hit's cosine) is below
    /// this. It applies only with IDF statistics (an index with BM25 sections); nil: never.
    public var minEvidence: Float?

    public init(minScore: Float, minEvidence: Float? = nil) { self.minScore = minScore; self.minEvidence = minEvidence }

    public static let abstention = "I don't know: the index holds nothing close enough to answer this."
    public static let weakEvidence = "I don't know: no passage found answers this closely enough."

    /// The query's analyzed terms and their IDFs; nil without IDF statistics or when no query
    /// term occurs in the index.
    package struct QueryTermWeights {
        /// Distinct terms in sorted order: sums in a fixed order give the same float every run
        /// (a Set's order changes from process to process, and near-ties would flip answers).
        package let weights: [(term: String, idf: Float)]
        let total: Float
        /// The IDF-weighted share of the query's terms that `text` holds.
        package func coverage(_ text: String) -> Float {
            let terms = Set(EnglishAnalyzer().terms(text))
            return weights.reduce(Float(0)) { terms.contains($1.term) ? $0 + $1.idf : $0 } / total
        }
    }

    package func termWeights(_ queryText: String) -> QueryTermWeights? {
        guard let idf else { return nil }
        let weights = Set(EnglishAnalyzer().terms(queryText)).sorted().map { (term: $0, idf: idf($0)) }
        let total = weights.reduce(0) { $0 + $1.idf }
        return total > 0 ? QueryTermWeights(weights: weights, total: total) : nil
    }

    /// The IDF-weighted share of the query's terms that `text` holds (nil without IDF statistics).
    public func coverage(of queryText: String, in text: String) -> Float? {
        termWeights(queryText)?.coverage(text)
    }

    /// Whether the hits are strong enough to answer from: some hit's cosine similarity to the
    /// query (in every mode) reaches `minScore`.
    public func hasEvidence(_ hits: [QueryHit]) -> Bool {
        guard let evidence = hits.map(\.similarity).max() else { return false }
        return evidence >= minScore
    }

    public func abstention(_ hits: [QueryHit]) -> Answer {
        Answer(text: Self.abstention, citations: hits.prefix(2).map(Self.citation), abstained: true)
    }

    /// The abstention when the best sentence's `evidence` is below `minEvidence`, or nil.
    public func weakEvidenceAbstention(_ hits: [QueryHit], evidence: Float) -> Answer? {
        guard judgesEvidence, let minEvidence, evidence < minEvidence else { return nil }
        var answer = Answer(text: Self.weakEvidence, citations: hits.prefix(2).map(Self.citation), abstained: true)
        answer.evidence = evidence
        return answer
    }

    /// A sentence of a top hit, scored against the query.
    public struct ScoredSentence {
        /// Index of the hit it came from (0-based).
        public var hit: Int
        public var sentence: SentenceSplitter.Sentence
        /// `cosine` + `lexicalWeight` · `lexical` + `hitWeight` · hit similarity.
        public var score: Float
        public var lexical: Float = 0
        /// The embedder's cosine to the query.
        public var cosine: Float = 0
    }

    /// The candidate sentences of the first `hitsConsidered` hits, in reading order, the best
    /// `rescored` of them (by the lexical pre-score) scored with the embedder.
    public func scoredSentences(query: [Float], queryText: String, hits: [QueryHit], embedder: any Embedder) throws -> [ScoredSentence] {
        var candidates: [ScoredSentence] = []
        for (h, hit) in hits.prefix(hitsConsidered).enumerated() {
            for s in SentenceSplitter.sentences(in: hit.record.text) where !s.isHeading && !s.isCode && s.wordCount >= 3 {
                candidates.append(ScoredSentence(hit: h, sentence: s, score: 0))
            }
        }
        guard !candidates.isEmpty else { return [] }
        // Lexical prefilter: keep the `rescored` best, in reading order.
        if candidates.count > rescored || lexicalWeight != 0 {
            if let weights = termWeights(queryText) {
                for i in candidates.indices { candidates[i].lexical = weights.coverage(candidates[i].sentence.text) }
            } else {
                let lexical = HashEmbedder(dimension: 1024)
                let q = try lexical.embed(queryText)
                var v = [Float](repeating: 0, count: candidates.count * 1024)
                try v.withUnsafeMutableBufferPointer { _ = try lexical.embed(candidates.map(\.sentence.text), into: $0) }
                v.withUnsafeBufferPointer { vp in
                    q.withUnsafeBufferPointer { qp in
                        for i in candidates.indices {
                            candidates[i].lexical = VectorMath.dot(vp.baseAddress! + i * 1024, qp.baseAddress!, 1024)
                        }
                    }
                }
            }
            for i in candidates.indices { candidates[i].score = candidates[i].lexical + hits[candidates[i].hit].similarity }
            let keep = candidates.indices.sorted {
                candidates[$0].score > candidates[$1].score || (candidates[$0].score == candidates[$1].score && $0 < $1)
            }.prefix(rescored).sorted()
            candidates = keep.map { candidates[$0] }
        }
        let dim = embedder.dimension
        var vectors = [Float](repeating: 0, count: candidates.count * dim)
        try vectors.withUnsafeMutableBufferPointer { out in
            _ = try embedder.embed(candidates.map(\.sentence.text), into: out)
        }
        vectors.withUnsafeBufferPointer { v in
            query.withUnsafeBufferPointer { q in
                for i in candidates.indices {
                    let sim = VectorMath.dot(v.baseAddress! + i * dim, q.baseAddress!, dim)
                    candidates[i].cosine = sim
                    candidates[i].score = sim + hitWeight * hits[candidates[i].hit].similarity + lexicalWeight * candidates[i].lexical
                }
            }
        }
        return candidates
    }

    /// Whether `minEvidence` applies: its scale assumes the IDF-weighted lexical score.
    public var judgesEvidence: Bool { minEvidence != nil && idf != nil }

    /// The answer's evidence: the best sentence score (nil without candidate sentences).
    public func evidence(query: [Float], queryText: String, hits: [QueryHit], embedder: any Embedder) throws -> Float? {
        try scoredSentences(query: query, queryText: queryText, hits: hits, embedder: embedder).map(\.score).max()
    }

    public func answer(query: [Float], queryText: String, hits: [QueryHit], embedder: any Embedder) throws -> Answer {
        guard let best = hits.first, hasEvidence(hits) else { return abstention(hits) }
        let candidates = try scoredSentences(query: query, queryText: queryText, hits: hits, embedder: embedder)
        if candidates.isEmpty {
            // Only headings or fragments: answer with the best chunk's text, bounded.
            let words = best.record.text.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(maxWords)
            return Answer(text: words.joined(separator: " ") + " [1]", citations: [Self.citation(best)], abstained: false)
        }
        let evidence = candidates.map(\.score).max()!
        if let weak = weakEvidenceAbstention(hits, evidence: evidence) { return weak }
        let ranked = candidates.indices.sorted {
            candidates[$0].score > candidates[$1].score || (candidates[$0].score == candidates[$1].score && $0 < $1)
        }
        var chosen: [Int] = []
        var words = 0
        for i in ranked {
            if chosen.count == maxSentences { break }
            let w = candidates[i].sentence.wordCount
            if words + w > maxWords { if chosen.isEmpty { chosen.append(i) }; continue }
            chosen.append(i)
            words += w
        }
        chosen.sort()   // candidates are in reading order already
        var parts: [String] = []
        var cited: [Int] = []
        for i in chosen {
            let c = candidates[i]
            // Soft line breaks of the source become spaces; the citation keeps the exact span.
            var words = c.sentence.text.split(whereSeparator: { $0.isWhitespace })
            // A list or quote marker is layout, not content.
            if let first = words.first, words.count > 1,
               ["-", "*", "+", ">"].contains(first) || (first.last == "." && first.dropLast().allSatisfy(\.isNumber) && first.count > 1) {
                words.removeFirst()
            }
            var sentence = words.prefix(maxWords).joined(separator: " ")
            if words.count > maxWords { sentence += " …" }
            parts.append("\(sentence) [\(c.hit + 1)]")
            if !cited.contains(c.hit) { cited.append(c.hit) }
        }
        var answer = Answer(text: parts.joined(separator: " "), citations: cited.sorted().map { Self.citation(hits[$0]) },
                            abstained: false)
        answer.evidence = evidence
        return answer
    }

    static func citation(_ hit: QueryHit) -> Answer.Citation {
        Answer.Citation(number: hit.rank, source: hit.record.source, start: hit.record.start, end: hit.record.end,
                        title: hit.record.title)
    }
}
