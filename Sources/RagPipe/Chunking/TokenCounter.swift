import RagPipeRecords

/// Counts the tokens an embedder will see. The chunker relies on counts being additive over
/// whitespace-separated words (true of BERT-style tokenizers, which split on whitespace first),
/// so it counts each word once and sums.
public protocol TokenCounter: Sendable {
    /// A short name recorded in logs (`upper-bound`, `wordpiece`).
    var name: String { get }
    /// Tokens added once per sequence (BERT's `[CLS]` and `[SEP]`: 2).
    var specialTokens: Int { get }
    /// Tokens of one word: a run of bytes with no ASCII white space. Must be > 0 for a non-empty word.
    func count(word: UnsafeBufferPointer<UInt8>) -> Int
}

extension TokenCounter {
    /// Tokens of a whole text, special tokens included.
    public func count(text: String) -> Int {
        var text = text
        return text.withUTF8 { bytes in
            var total = specialTokens
            var i = 0
            let n = bytes.count
            while i < n {
                while i < n && isASCIISpace(bytes[i]) { i += 1 }
                let start = i
                while i < n && !isASCIISpace(bytes[i]) { i += 1 }
                if i > start { total += count(word: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
            }
            return total
        }
    }
}

@inline(__always) package func isASCIISpace(_ c: UInt8) -> Bool {
    c == 0x20 || (c >= 0x09 && c <= 0x0D)
}

/// The approximation used when no tokenizer vocabulary is at hand: an upper bound on the
/// WordPiece tokens of any BERT uncased model, so a chunk counted with it is never truncated.
///
/// Why it bounds WordPiece: normalization only removes characters (control characters,
/// combining marks after NFD) except for Hangul syllables, which NFD splits into up to three
/// jamo; pre-tokenization then splits words at punctuation and CJK characters, and WordPiece
/// emits at least one character per piece (or a single `[UNK]`). So a word yields at most one
/// token per Unicode scalar, three per Hangul syllable. On BEIR SciFact it counts 3.84 times the
/// real tokens, so chunks counted this way are much smaller than real-token chunks.
public struct UpperBoundTokenCounter: TokenCounter {
    public let specialTokens: Int
    public var name: String { "upper-bound" }

    public init(specialTokens: Int = 2) { self.specialTokens = specialTokens }

    @inline(__always)
    public func count(word: UnsafeBufferPointer<UInt8>) -> Int {
        var total = 0
        var i = 0
        let n = word.count
        let raw = UnsafeRawPointer(word.baseAddress!)
        while i + 8 <= n && raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & SWAR.highs == 0 { i += 8; total += 8 }
        while i < n {
            let b = word[i]
            if b < 0x80 { total += 1; i += 1; continue }
            if b < 0xC0 { i += 1; continue }              // continuation byte: counted with its lead
            if b >= 0xEA && b <= 0xED && i + 2 < n {       // possibly a Hangul syllable U+AC00–U+D7A3
                let scalar = (UInt32(b & 0x0F) << 12) | (UInt32(word[i + 1] & 0x3F) << 6) | UInt32(word[i + 2] & 0x3F)
                total += (scalar >= 0xAC00 && scalar <= 0xD7A3) ? 3 : 1
            } else {
                total += 1
            }
            i += 1
        }
        return total
    }
}
