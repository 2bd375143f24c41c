import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeRetrieval
import RagPipeAnswering

/// Extractive answer quality on SQuAD (each paragraph a document, built into an index with
/// `chunk --no-split`): does the gold paragraph come first, does the answer contain an accepted
/// answer string, and would `query` abstain once the gold paragraph is gone?
public final class SQuADEvaluator {
    public struct Report: Sendable {
        /// The index evaluated: its path, paragraphs (records) and model id.
        public var index = ""
        public var paragraphs = 0
        public var modelID = ""
        public var questions = 0
        /// Gold paragraph at rank 1 / in the top 5, per retrieval mode evaluated.
        public var recallAt1: [String: Double] = [:]
        public var recallAt5: [String: Double] = [:]
        /// Share of questions whose answer contains an accepted answer (case and white space aside).
        public var containsDefault = 0.0
        public var containsOneSentence = 0.0
        public var meanWordsDefault = 0.0
        public var meanWordsOneSentence = 0.0
        /// The best hit's cosine (`ExtractiveAnswerer.minScore`) with the gold paragraph present, and with it removed.
        public var cosineAnswerable: [Float] = []
        public var cosineRemoved: [Float] = []
        /// The answer's evidence (best sentence score, `ExtractiveAnswerer.minEvidence`), present and removed.
        public var answerEvidenceAnswerable: [Float] = []
        public var answerEvidenceRemoved: [Float] = []
        public var seconds = 0.0
        /// IVF indexes: the default dense search against every list probed, on the questions.
        public var approximateRecall: ApproximateRecall?
        /// The retrieval the answers drew their hits from.
        public var answerMode = RetrievalMode.hybrid
        /// The answerer's limits on its default answer (the one-sentence answer has one sentence).
        public var maxSentences = 3
        public var maxWords = 80
        /// The answerer's abstention thresholds.
        public var thresholds = AbstentionThresholds(minScore: AbstentionThresholds.defaultMinScore, minEvidence: nil)
        public init() {}
    }

    let retriever: Retriever
    let answerer: ExtractiveAnswerer
    public init(engine: QueryEngine) { retriever = engine.retriever; answerer = engine.answerer.extractive }

    /// `limit`: that many evenly spaced questions (0: all). Retrieval in `modes` (default: every
    /// mode the index supports); answers from the engine's retrieval.
    public func run(_ data: SQuADData, modes: [RetrievalMode]? = nil, limit: Int = 0,
                    progress: (Int, Int) -> Void = { _, _ in }) throws -> Report {
        var report = Report()
        report.index = retriever.index.path
        report.paragraphs = retriever.index.count
        report.modelID = retriever.index.metadata.modelID
        report.answerMode = retriever.mode
        report.maxSentences = answerer.maxSentences
        report.maxWords = answerer.maxWords
        report.thresholds = AbstentionThresholds(minScore: answerer.minScore, minEvidence: answerer.minEvidence)
        let questions = Self.sample(data, limit: limit)
        let modes = modes ?? (retriever.bm25 == nil ? [.dense] : [.dense, .bm25, .hybrid])
        let retrievals = try modes.map { try retriever.with($0) }
        var oneSentence = answerer
        oneSentence.maxSentences = 1
        var found1: [String: Int] = [:], found5: [String: Int] = [:]
        var contains = 0, containsOne = 0, words = 0, wordsOne = 0
        let clock = Stopwatch()
        // Every record once (one inflate per block), instead of an inflate per hit per question.
        var records: [ChunkRecord] = []
        try retriever.index.forEachRecord { _, record in records.append(record) }
        try Self.checkIndexHolds(data, records, path: retriever.index.path)
        var questionVectors: [[Float]] = []
        for (n, question) in questions.enumerated() {
            if n % 50 == 0 { progress(n, questions.count) }
            let q = try retriever.embedder.embed(question.text)
            if retriever.index.dense.kind == .ivf { questionVectors.append(q) }
            for (mode, retrieval) in zip(modes, retrievals) {
                let top = try retrieval.rank(question.text, vector: q, depth: 5)
                let sources = top.map { records[$0.id].source }
                if sources.first == question.paragraph { found1[mode.rawValue, default: 0] += 1 }
                if sources.contains(question.paragraph) { found5[mode.rawValue, default: 0] += 1 }
            }
            let (present, removed) = try hits(question, q, records)
            report.cosineAnswerable.append(present.map(\.similarity).max() ?? -1)
            report.cosineRemoved.append(removed.map(\.similarity).max() ?? -1)
            var full = answerer
            full.minScore = -1          // answer quality is measured on every question
            full.minEvidence = nil
            oneSentence.minScore = -1
            oneSentence.minEvidence = nil
            let a = try full.answer(query: q, queryText: question.text, hits: present, embedder: retriever.embedder)
            report.answerEvidenceAnswerable.append(a.evidence ?? -1)
            report.answerEvidenceRemoved.append(try full.evidence(query: q, queryText: question.text, hits: removed, embedder: retriever.embedder) ?? -1)
            let b = try oneSentence.answer(query: q, queryText: question.text, hits: present, embedder: retriever.embedder)
            let (textA, countA) = Self.plain(a.text), (textB, countB) = Self.plain(b.text)
            words += countA; wordsOne += countB
            if question.answers.contains(where: { textA.contains(Self.normalized($0)) }) { contains += 1 }
            if question.answers.contains(where: { textB.contains(Self.normalized($0)) }) { containsOne += 1 }
        }
        let count = Double(questions.count)
        report.questions = questions.count
        for mode in modes {
            report.recallAt1[mode.rawValue] = Double(found1[mode.rawValue, default: 0]) / count
            report.recallAt5[mode.rawValue] = Double(found5[mode.rawValue, default: 0]) / count
        }
        report.containsDefault = Double(contains) / count
        report.containsOneSentence = Double(containsOne) / count
        report.meanWordsDefault = Double(words) / count
        report.meanWordsOneSentence = Double(wordsOne) / count
        report.approximateRecall = try ApproximateRecall.measure(retriever.index.dense, queries: questionVectors, built: retriever.index.metadata.dense)
        report.seconds = clock.seconds
        return report
    }

    /// Answerability features of each question's top hits (the engine's mode), with the gold
    /// paragraph present and removed; `group` is the article, for splits that keep articles apart.
    public func answerabilityRows(_ data: SQuADData, limit: Int = 0, progress: (Int, Int) -> Void = { _, _ in }) throws
        -> [(group: String, answerable: Bool, features: [Float])] {
        let questions = Self.sample(data, limit: limit)
        var records: [ChunkRecord] = []
        try retriever.index.forEachRecord { _, record in records.append(record) }
        try Self.checkIndexHolds(data, records, path: retriever.index.path)
        var rows: [(group: String, answerable: Bool, features: [Float])] = []
        for (n, question) in questions.enumerated() {
            if n % 50 == 0 { progress(n, questions.count) }
            let q = try retriever.embedder.embed(question.text)
            let (present, removed) = try hits(question, q, records)
            let bm25 = try retriever.bm25?.search(question.text, k: 6) ?? []
            let ceiling = retriever.bm25?.ceiling(question.text) ?? 0
            let group = String(question.paragraph.split(separator: "-").prefix(2).joined(separator: "-"))
            for (answerable, kept) in [(true, present), (false, removed)] {
                let scores = (answerable ? bm25 : bm25.filter { records[$0.id].source != question.paragraph }).map(\.score)
                let f = try AnswerabilityFeatures(queryText: question.text, query: q, hits: kept, bm25Scores: scores, bm25Ceiling: ceiling,
                                                  answerer: answerer, embedder: retriever.embedder)
                rows.append((group, answerable, f.values))
            }
        }
        return rows
    }

    /// An index not built from this file's paragraphs (`evaluate export-squad`) holds none of the gold
    /// paragraphs: every recall would be 0, which must not pass for a measurement.
    static func checkIndexHolds(_ data: SQuADData, _ records: [ChunkRecord], path: String) throws {
        let sources = Set(records.map(\.source))
        guard data.questions.contains(where: { sources.contains($0.paragraph) }) else {
            throw RagPipeError.emptyInput("\(path) holds none of the SQuAD file's paragraphs (build it from `evaluate export-squad` of that file)")
        }
    }

    /// `limit` evenly spaced questions, so every article is represented (0: all).
    static func sample(_ data: SQuADData, limit: Int) -> [SQuADData.Question] {
        limit > 0 && limit < data.questions.count
            ? (0..<limit).map { data.questions[$0 * data.questions.count / limit] } : data.questions
    }

    /// The engine's top `k` hits for `question`, and the top `k` once the gold paragraph is removed.
    func hits(_ question: SQuADData.Question, _ q: [Float], _ records: [ChunkRecord]) throws -> (present: [QueryHit], removed: [QueryHit]) {
        // Depth k + 1: with the gold paragraph removed, k hits remain.
        let ranked = try retriever.rank(question.text, vector: q, depth: retriever.settings.k + 1)
        let hits = try retriever.hits(ranked, vector: q, record: { records[$0] })
        var removed = Array(hits.filter { $0.record.source != question.paragraph }.prefix(retriever.settings.k))
        for i in removed.indices { removed[i].rank = i + 1 }
        return (Array(hits.prefix(retriever.settings.k)), removed)
    }

    /// The answer without citation markers, normalized, and its word count.
    static func plain(_ answer: String) -> (String, Int) {
        var text = ""
        for claim in GroundednessCheck.claims(in: answer) { text += claim.text + " " }
        let words = text.split(whereSeparator: \.isWhitespace)
        return (normalized(text), words.count)
    }

    /// Lowercased, runs of white space as one space (the "case- and whitespace-insensitive").
    static func normalized(_ s: String) -> String {
        s.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

/// Chooses an abstention threshold from evidence scores of answerable questions and of questions
/// whose gold document was removed: the highest threshold that abstains on at most
/// `maxFalseAbstention` of the answerable ones.
public struct AbstentionCalibration: Sendable {
    public var threshold: Float
    public var abstainAnswerable: Double
    public var abstainUnanswerable: Double

    public init(answerable: [Float], unanswerable: [Float], maxFalseAbstention: Double = 0.05) {
        let sorted = answerable.sorted()
        let allowed = Int((Double(sorted.count) * maxFalseAbstention).rounded(.down))
        threshold = sorted.isEmpty ? 0 : sorted[min(allowed, sorted.count - 1)]
        let t = threshold
        abstainAnswerable = Self.rate(answerable, below: t)
        abstainUnanswerable = Self.rate(unanswerable, below: t)
    }

    public init(threshold: Float, answerable: [Float], unanswerable: [Float]) {
        self.threshold = threshold
        abstainAnswerable = Self.rate(answerable, below: threshold)
        abstainUnanswerable = Self.rate(unanswerable, below: threshold)
    }

    static func rate(_ xs: [Float], below t: Float) -> Double {
        xs.isEmpty ? 0 : Double(xs.filter { $0 < t }.count) / Double(xs.count)
    }
}
