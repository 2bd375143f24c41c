import RagPipeSupport
import RagPipeChunking

/// The zero-dependency embedder: signed feature hashing of word unigrams and bigrams.
///
/// Rules (stable; changing any of them changes `modelID`):
/// - words are maximal runs of letters and digits (Unicode-aware), lowercased; English stopwords
///   (`HashEmbedder.stopwords`: Lucene's English set plus question and pronoun words) are dropped;
/// - each unigram `w` and bigram `w1 w2` is hashed with `StableHash` over its UTF-8 bytes
///   (a bigram joins its words with one 0x01 byte); bucket = (h >> 1) mod dim, sign = h & 1;
/// - a feature's weight is 1 + ln(tf) (sublinear term frequency), bigrams weigh half;
/// - the vector is L2-normalized.
/// It captures lexical overlap only, but needs no model and is fast.
public struct HashEmbedder: Embedder {
    public static let modelName = "ragpipe/hash-v1"
    public let dimension: Int
    public var modelID: String { Self.modelName }
    public var maxTokens: Int { Int.max / 2 }
    public var tokenCounter: any TokenCounter { UpperBoundTokenCounter() }

    public init(dimension: Int = 384) {
        precondition(dimension > 0)
        self.dimension = dimension
    }

    public func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        precondition(output.count >= texts.count * dimension)
        var features: [UInt64] = []
        var words: [UInt64] = []
        for (row, text) in texts.enumerated() {
            let v = UnsafeMutableBufferPointer(rebasing: output[(row * dimension)..<((row + 1) * dimension)])
            for i in v.indices { v[i] = 0 }
            features.removeAll(keepingCapacity: true)
            words.removeAll(keepingCapacity: true)
            Self.wordHashes(text, into: &words)
            for (i, w) in words.enumerated() {
                features.append(w & ~1 | 0)                        // unigram: low bit clear
                if i > 0 {
                    var h = StableHash()
                    h.combine(words[i - 1]); h.combine(byte: 1); h.combine(w)
                    features.append(h.finalized | 1)                // bigram: low bit set
                }
            }
            features.sort()
            var i = 0
            while i < features.count {
                var j = i + 1
                while j < features.count && features[j] == features[i] { j += 1 }
                let f = features[i]
                let mixed = StableHash.mix(f)
                let weight = (1 + Float(log(Double(j - i)))) * (f & 1 == 1 ? 0.5 : 1)
                let bucket = Int((mixed >> 1) % UInt64(dimension))
                v[bucket] += (mixed & 1 == 0) ? weight : -weight
                i = j
            }
            normalize(v)
        }
        return 0
    }

    /// Function words carry no topic; without this list they dominate short queries.
    public static let stopwords: [String] = [
        // Lucene's EnglishAnalyzer default set
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
        "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
        "to", "was", "will", "with",
        // question words, auxiliaries and pronouns common in queries
        "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "do", "does", "did", "can",
        "could", "should", "would", "i", "me", "my", "we", "our", "you", "your", "he", "she", "his", "her",
        "its", "them", "those", "has", "have", "had", "been", "being", "were", "am", "from", "about", "so",
        "than", "some", "any", "all", "each", "other", "also", "very", "just", "only", "here",
    ]
    static let stopwordHashes: Set<UInt64> = Set(stopwords.map { word in
        var h = StableHash()
        h.combine(word)
        return h.finalized
    })

    /// Hashes of the lowercased words of `text` that are not stopwords.
    static func wordHashes(_ text: String, into out: inout [UInt64]) {
        var h = StableHash()
        var inWord = false
        func finish() {
            if inWord {
                let word = h.finalized
                if !stopwordHashes.contains(word) { out.append(word) }
                h = StableHash(); inWord = false
            }
        }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v < 0x80 {
                let c = UInt8(v)
                if (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7A) { h.combine(byte: c); inWord = true }
                else if c >= 0x41 && c <= 0x5A { h.combine(byte: c | 0x20); inWord = true }
                else { finish() }
            } else if scalar.properties.isAlphabetic || scalar.properties.numericType != nil {
                for lower in scalar.properties.lowercaseMapping.utf8 { h.combine(byte: lower) }
                inWord = true
            } else {
                finish()
            }
        }
        finish()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
