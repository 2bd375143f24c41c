import RagPipeChunking
import RagPipeEmbedding

/// Turns text into BM25 terms the way Lucene's English analysis chain (Anserini's default for
/// BEIR) does, close enough to match its rankings:
/// 1. tokenize: runs of letters and digits (Unicode-aware; `_` joins); `.`, `'` and `’` join
///    two letters or two digits ("u.s", "don't", "3.14"), `,` and `;` join two digits
///    ("1,000"); every CJK ideograph is a token of its own (after Unicode's word-break rules,
///    UAX #29, as Lucene's StandardTokenizer implements them);
/// 2. drop a trailing `'s` or `’s` (EnglishPossessiveFilter);
/// 3. lowercase;
/// 4. drop Lucene's 33 English stopwords (`stopwords`);
/// 5. Porter-stem ASCII terms (PorterStemFilter).
public struct EnglishAnalyzer: Sendable {
    public static let stopwords: Set<String> = [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
        "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this",
        "to", "was", "will", "with",
    ]

    public init() {}

    public func terms(_ text: String) -> [String] {
        var out: [String] = []
        forEachTerm(text) { out.append($0) }
        return out
    }

    public func forEachTerm(_ text: String, _ body: (String) -> Void) {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { forEachASCIITerm(text, body); return }
        forEachUnicodeTerm(text, body)
    }

    static let asciiStopwords: Set<[UInt8]> = Set(stopwords.map { Array($0.utf8) })

    /// The same rules over bytes, for ASCII text (most text; no Unicode tables needed).
    func forEachASCIITerm(_ text: String, _ body: (String) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            let n = bytes.count
            var token: [UInt8] = []
            token.reserveCapacity(32)
            @inline(__always) func word(_ c: UInt8) -> Bool {
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
            }
            @inline(__always) func digit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
            func finish() {
                guard !token.isEmpty else { return }
                if token.count >= 2 && token[token.count - 1] == 0x73 && token[token.count - 2] == 0x27 { token.removeLast(2) }
                if !token.isEmpty && !Self.asciiStopwords.contains(token) {
                    body(String(decoding: PorterStemmer.stem(token), as: UTF8.self))
                }
                token.removeAll(keepingCapacity: true)
            }
            for i in 0..<n {
                let c = bytes[i]
                if word(c) {
                    token.append(c >= 0x41 && c <= 0x5A ? c | 0x20 : c)
                } else if !token.isEmpty, i + 1 < n, word(bytes[i - 1]), word(bytes[i + 1]),
                          ((c == 0x2E || c == 0x27) && digit(bytes[i - 1]) == digit(bytes[i + 1]))
                            || ((c == 0x2C || c == 0x3B) && digit(bytes[i - 1]) && digit(bytes[i + 1])) {
                    token.append(c)
                } else {
                    finish()
                }
            }
            finish()
        }
    }

    func forEachUnicodeTerm(_ text: String, _ body: (String) -> Void) {
        let scalars = Array(text.unicodeScalars)
        var i = 0
        let n = scalars.count
        var token = String.UnicodeScalarView()
        func finish() {
            guard !token.isEmpty else { return }
            var word = String(token).lowercased()
            token = String.UnicodeScalarView()
            if word.hasSuffix("'s") || word.hasSuffix("’s") { word.removeLast(2) }
            guard !word.isEmpty, !Self.stopwords.contains(word) else { return }
            if word.utf8.allSatisfy({ $0 < 0x80 }) { word = PorterStemmer.stem(word) }
            body(word)
        }
        while i < n {
            let c = scalars[i]
            if Self.isCJK(c) {
                finish()
                token.append(c)
                finish()
            } else if Self.isWordCharacter(c) {
                token.append(c)
            } else if !token.isEmpty, i + 1 < n, Self.joins(c, scalars[i - 1], scalars[i + 1]) {
                token.append(c)
            } else {
                finish()
            }
            i += 1
        }
        finish()
    }

    static func isWordCharacter(_ c: Unicode.Scalar) -> Bool {
        if c.value < 0x80 {
            let v = c.value
            return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) || v == 0x5F
        }
        return c.properties.isAlphabetic || c.properties.numericType != nil
            || c.properties.generalCategory == .nonspacingMark || c.properties.generalCategory == .spacingMark
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.properties.numericType == .decimal }

    /// Mid-word punctuation that keeps a token together (UAX #29 MidNumLet, MidLetter, MidNum).
    static func joins(_ c: Unicode.Scalar, _ before: Unicode.Scalar, _ after: Unicode.Scalar) -> Bool {
        guard isWordCharacter(before), isWordCharacter(after), !isCJK(before), !isCJK(after) else { return false }
        switch c {
        case ".", "'", "\u{2019}":
            return isDigit(before) == isDigit(after)
        case ",", ";":
            return isDigit(before) && isDigit(after)
        default:
            return false
        }
    }

    package static func isCJK(_ c: Unicode.Scalar) -> Bool { WordPieceTokenizer.isCJK(c.value) }
}
