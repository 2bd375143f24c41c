import RagPipeRetrieval
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeAnswering

/// Signals that the retrieved hits answer a question, for studying abstention rules offline
/// (`evaluate beir|squad --answerability-features`, `scripts/answerability.py`): how close the hits are
/// (cosine, BM25 against its ceiling), how much of the question's IDF-weighted terms the best hit
/// and the best sentence hold, and whether its rarest terms appear. `sent_score_max` is the
/// answer's evidence, the one signal `query` uses (`ExtractiveAnswerer.minEvidence`).
public struct AnswerabilityFeatures: Sendable {
    public static let names = [
        "sim_max", "sim_1", "sim_gap", "cov_hit1", "cov_max3", "sent_cov_max", "sent_cov_2nd",
        "sent_cos_max", "sent_cos_at_best_cov", "sent_score_max", "bm25_norm1", "bm25_gap",
        "rare_in_best_sentence", "rare_in_top3", "query_terms", "needs_number", "new_number_in_best",
    ]
    public var values: [Float]

    /// `bm25Scores`: the raw BM25 scores of the best chunks in this ranking (descending), with
    /// `bm25Ceiling` the score a chunk holding every query term without limit would approach.
    public init(queryText: String, query: [Float], hits: [QueryHit], bm25Scores: [Float], bm25Ceiling: Float,
                answerer: ExtractiveAnswerer, embedder: any Embedder) throws {
        let sims = hits.map(\.similarity).sorted(by: >)
        let simMax = sims.first ?? -1
        let sim1 = hits.first?.similarity ?? -1
        let simGap = sims.count > 1 ? sims[0] - sims[1] : simMax
        let weights = answerer.termWeights(queryText)
        func cov(_ text: String) -> Float { weights?.coverage(text) ?? 0 }
        let covHit1 = hits.first.map { cov($0.record.text) } ?? 0
        let covMax3 = hits.prefix(3).map { cov($0.record.text) }.max() ?? 0
        // The answerer's own candidates and scores: `sent_score_max` is the answer's evidence.
        let scored = try answerer.scoredSentences(query: query, queryText: queryText, hits: hits, embedder: embedder)
        let sentences = scored.map { (text: $0.sentence.text, cov: $0.lexical, cos: $0.cosine, score: $0.score) }
        let byCoverage = sentences.indices.sorted { sentences[$0].cov > sentences[$1].cov || (sentences[$0].cov == sentences[$1].cov && $0 < $1) }
        let sentCovMax = byCoverage.first.map { sentences[$0].cov } ?? 0
        let sentCov2 = byCoverage.count > 1 ? sentences[byCoverage[1]].cov : 0
        let sentCosMax = sentences.map(\.cos).max() ?? -1
        let sentCosAtBest = byCoverage.first.map { sentences[$0].cos } ?? -1
        let sentScoreMax = sentences.map(\.score).max() ?? -1
        let b1 = bm25Scores.first ?? 0
        let bm25Norm = bm25Ceiling > 0 ? b1 / bm25Ceiling : 0
        let bm25Gap = b1 > 0 && bm25Scores.count > 1 ? (b1 - bm25Scores[1]) / b1 : 0
        // The question's two rarest terms: with the gold passage gone, these are what go missing.
        let rare = (weights?.weights.sorted { $0.idf > $1.idf || ($0.idf == $1.idf && $0.term < $1.term) }.prefix(2).map(\.term)) ?? []
        func share(_ text: String) -> Float {
            guard !rare.isEmpty else { return 0 }
            let terms = Set(EnglishAnalyzer().terms(text))
            return Float(rare.filter { terms.contains($0) }.count) / Float(rare.count)
        }
        let rareBest = byCoverage.first.map { share(sentences[$0].text) } ?? 0
        let rareTop3 = share(hits.prefix(3).map(\.record.text).joined(separator: " "))
        let lower = queryText.lowercased()
        let needsNumber: Float = ["how many", "how much", "what year", "when ", "what percentage", "how long", "how old",
                                  "what decade", "what century", "how far", "how large", "how big", "what date"]
            .contains { lower.contains($0) } || lower.hasPrefix("when") ? 1 : 0
        let questionDigits = Set(Self.numbers(queryText))
        let newNumber: Float = byCoverage.first.map { Self.numbers(sentences[$0].text).contains { !questionDigits.contains($0) } } == true ? 1 : 0
        values = [simMax, sim1, simGap, covHit1, covMax3, sentCovMax, sentCov2, sentCosMax, sentCosAtBest, sentScoreMax,
                  bm25Norm, bm25Gap, rareBest, rareTop3, Float(weights?.weights.count ?? 0), needsNumber, newNumber]
    }

    static func numbers(_ text: String) -> [Substring] {
        text.split(whereSeparator: { !$0.isNumber }).filter { !$0.isEmpty }
    }
}
