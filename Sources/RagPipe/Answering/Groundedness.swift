import RagPipeRetrieval
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding

/// The guardrail run on every answer, extractive or generated: is each sentence supported by
/// the context it was drawn from?
///
/// The answer is split into sentences (the `SentenceSplitter` rules) and each sentence's `[n]`
/// markers are read off. A sentence is *supported* when
/// - every `[n]` it carries names a hit that exists and was shown to the answerer, and
/// - it appears verbatim (case and white space aside) in a cited hit, or its cosine similarity
///   under the index's embedder to some sentence of the cited hits (all shown hits when it cites
///   none) is at least `sentenceThreshold`.
/// The answer's *groundedness* is the share of supported sentences; it is *grounded* when that
/// share is at least `answerThreshold` (0.7, the design's escalation threshold). An abstention
/// ("I don't know") is grounded by definition: it claims nothing.
public struct GroundednessCheck: Sendable {
    /// A chosen default, not yet calibrated on labelled supported and unsupported sentences
    /// (README, "Groundedness"); verbatim sentences score 1.
    public static let defaultSentenceThreshold: Float = 0.6
    public static let defaultAnswerThreshold: Float = 0.7

    public var sentenceThreshold: Float
    public var answerThreshold: Float

    public init(sentenceThreshold: Float = Self.defaultSentenceThreshold, answerThreshold: Float = Self.defaultAnswerThreshold) {
        self.sentenceThreshold = sentenceThreshold
        self.answerThreshold = answerThreshold
    }

    public struct SentenceSupport: Sendable, Equatable {
        public var text: String
        /// Hit ranks cited by the sentence.
        public var citations: [Int]
        /// Best cosine similarity to a context sentence (1 for a verbatim sentence).
        public var support: Float
        public var citationsValid: Bool
        public var supported: Bool
    }

    public struct Report: Sendable, Equatable {
        public var groundedness: Float
        public var grounded: Bool
        public var sentences: [SentenceSupport]
    }

    /// `shown` are the ranks of the hits the answerer saw (an LLM sees those packed into its prompt).
    public func check(answer: String, hits: [QueryHit], shown: Set<Int>, embedder: any Embedder) throws -> Report {
        var sentences: [SentenceSupport] = []
        let ranks = Set(hits.map(\.rank))
        for (text, cited) in Self.claims(in: answer) {
            let valid = cited.allSatisfy { shown.contains($0) && ranks.contains($0) }
            sentences.append(SentenceSupport(text: text, citations: cited, support: 0, citationsValid: valid, supported: false))
        }
        guard !sentences.isEmpty else { return Report(groundedness: 1, grounded: true, sentences: []) }

        // Verbatim sentences need no embedding; the rest are compared with their context.
        var pending: [Int] = []
        for i in sentences.indices {
            let context = contextHits(for: sentences[i], hits: hits, shown: shown)
            let needle = Self.normalized(sentences[i].text)
            if !needle.isEmpty && context.contains(where: { Self.normalized($0.record.text).contains(needle) }) {
                sentences[i].support = 1
            } else {
                pending.append(i)
            }
        }
        if !pending.isEmpty {
            var contextSentences: [String] = []
            var owner: [Int] = []                        // hit rank of each context sentence
            for hit in hits where shown.contains(hit.rank) {
                for s in SentenceSplitter.sentences(in: hit.record.text) where !s.isCode && s.wordCount >= 2 {
                    contextSentences.append(s.text); owner.append(hit.rank)
                }
            }
            let texts = pending.map { sentences[$0].text } + contextSentences
            let d = embedder.dimension
            var vectors = [Float](repeating: 0, count: texts.count * d)
            try vectors.withUnsafeMutableBufferPointer { _ = try embedder.embed(texts, into: $0) }
            vectors.withUnsafeBufferPointer { v in
                for (p, i) in pending.enumerated() {
                    let allowed = Set(contextHits(for: sentences[i], hits: hits, shown: shown).map(\.rank))
                    var best: Float = 0
                    for (c, rank) in owner.enumerated() where allowed.contains(rank) {
                        best = max(best, VectorMath.dot(v.baseAddress! + p * d, v.baseAddress! + (pending.count + c) * d, d))
                    }
                    sentences[i].support = best
                }
            }
        }
        for i in sentences.indices {
            sentences[i].supported = sentences[i].citationsValid && sentences[i].support >= sentenceThreshold
        }
        let score = Float(sentences.filter(\.supported).count) / Float(sentences.count)
        return Report(groundedness: score, grounded: score >= answerThreshold, sentences: sentences)
    }

    /// The hits a sentence is judged against: those it cites, else every shown hit.
    func contextHits(for sentence: SentenceSupport, hits: [QueryHit], shown: Set<Int>) -> [QueryHit] {
        let cited = hits.filter { sentence.citations.contains($0.rank) && shown.contains($0.rank) }
        return sentence.citations.isEmpty ? hits.filter { shown.contains($0.rank) } : cited
    }

    /// The answer's sentences with the hits each cites. A run of markers (`[1]`, `[1, 2]`,
    /// `[1][3]`) cites the sentence it follows, whether it stands before or after the full stop
    /// ("… fractures. [1] Next …" and "… fractures [1]. Next …" both cite the first sentence);
    /// sentences without a marker cite nothing.
    public static func claims(in answer: String) -> [(text: String, citations: [Int])] {
        var out: [(String, [Int])] = []
        func add(_ segment: String, _ cites: [Int]) {
            let parts = SentenceSplitter.sentences(in: segment, markdown: false).map(\.text)
            for (i, part) in parts.enumerated() {
                let text = part.trimmingWhitespace().replacingSpaceBeforePunctuation()
                guard text.contains(where: { $0.isLetter || $0.isNumber }) else { continue }
                out.append((text, i == parts.count - 1 ? cites : []))
            }
        }
        var segment = "", pending: [Int] = []
        CitationMarkers.scan(answer) { piece in
            switch piece {
            case .marker(let numbers):
                for n in numbers where !pending.contains(n) { pending.append(n) }
            case .character(let c):
                if !pending.isEmpty {
                    // Punctuation right after the markers still belongs to the cited sentence.
                    if ".!?,;:".contains(c) || c.isWhitespace {
                        if !c.isWhitespace { segment.append(c) }
                        return
                    }
                    add(segment, pending)
                    segment = ""; pending = []
                }
                segment.append(c)
            }
        }
        add(segment, pending)
        return out
    }

    /// The sentence without its `[n]`, `[n, m]` or `[n][m]` markers, and the numbers they held.
    public static func stripCitations(_ sentence: String) -> (String, [Int]) {
        var text = "", numbers: [Int] = []
        CitationMarkers.scan(sentence) { piece in
            switch piece {
            case .marker(let found): for n in found where !numbers.contains(n) { numbers.append(n) }
            case .character(let c): text.append(c)
            }
        }
        return (text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                    .replacingSpaceBeforePunctuation(), numbers)
    }

    static func normalized(_ s: String) -> String {
        s.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
            .trimmingTrailing { ".!?".contains($0) }
    }
}

extension String {
    /// "word ." → "word." after a citation marker is cut out of "word [1].".
    func replacingSpaceBeforePunctuation() -> String {
        var out = ""
        for c in self {
            if ".,;:!?".contains(c), out.last == " " { out.removeLast() }
            out.append(c)
        }
        return out
    }

    func trimmingTrailing(_ drop: (Character) -> Bool) -> String {
        var s = Substring(self)
        while let last = s.last, drop(last) { s = s.dropLast() }
        return String(s)
    }
}
