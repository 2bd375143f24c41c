import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// The BERT uncased tokenizer, as Hugging Face `tokenizers` runs it for all-MiniLM-L6-v2
/// (`BertNormalizer` + `BertPreTokenizer` + `WordPiece`):
/// 1. clean: drop U+0000, U+FFFD and characters of category Cc, Cf, Cn, Co, Cs (except tab, LF,
///    CR); white space (tab, LF, CR, `White_Space`) becomes a space;
/// 2. CJK ideographs (the ranges of `isCJK`) get a space on each side;
/// 3. strip accents: NFD, then drop nonspacing marks (Mn);
/// 4. lowercase (full Unicode lowercase mapping);
/// 5. split at spaces; every punctuation character (ASCII punctuation or category P*) is a word;
/// 6. WordPiece: greedy longest match, continuation pieces prefixed `##`; a word with no
///    match at some position, or longer than 100 characters, becomes `[UNK]`.
/// `encode` adds `[CLS]` … `[SEP]` and truncates to the model's maximum length.
public struct WordPieceTokenizer: Sendable {
    let vocab: VocabTable
    public let clsID: Int32
    public let sepID: Int32
    public let unkID: Int32
    public let padID: Int32
    public var lowercase = true
    public var stripAccents = true
    public let maxInputCharsPerWord = 100

    /// Reads `vocab.txt`: one piece per line, the line number (from 0) is its id.
    public init(vocabFile: String) throws {
        let bytes = try readFileBytes(vocabFile)
        var pieces: [[UInt8]] = []
        var start = 0
        for i in 0...bytes.count where i == bytes.count || bytes[i] == 0x0A {
            var end = i
            if end > start && bytes[end - 1] == 0x0D { end -= 1 }
            if i < bytes.count || end > start { pieces.append(Array(bytes[start..<end])) }
            start = i + 1
        }
        try self.init(pieces: pieces, source: vocabFile)
    }

    init(pieces: [[UInt8]], source: String) throws {
        let table = VocabTable(pieces: pieces)
        func id(_ token: String) throws -> Int32 {
            guard let id = table.lookup(Array(token.utf8)[...], continuation: false) else {
                throw RagPipeError.unavailable("\(source): vocabulary has no \(token) token")
            }
            return id
        }
        vocab = table
        clsID = try id("[CLS]"); sepID = try id("[SEP]"); unkID = try id("[UNK]"); padID = try id("[PAD]")
    }

    /// Token ids with `[CLS]`/`[SEP]`, truncated to `maxLength` (the last id stays `[SEP]`),
    /// and the length before truncation.
    public func encode(_ text: String, maxLength: Int) -> (ids: [Int32], untruncatedLength: Int) {
        var ids: [Int32] = [clsID]
        forEachWord(text) { word in appendPieces(word, to: &ids) }
        ids.append(sepID)
        let full = ids.count
        if ids.count > maxLength {
            ids.removeSubrange((maxLength - 1)..<(ids.count - 1))
        }
        return (ids, full)
    }

    /// Tokens of `text` without special tokens.
    public func countTokens(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var n = 0
        forEachWord(bytes) { word in n += countPieces(word) }
        return n
    }

    // MARK: WordPiece

    func appendPieces(_ word: ArraySlice<UInt8>, to ids: inout [Int32]) {
        let before = ids.count
        if !wordPiece(word, { ids.append($0) }) {
            ids.removeSubrange(before...)
            ids.append(unkID)
        }
    }

    func countPieces(_ word: ArraySlice<UInt8>) -> Int {
        var n = 0
        return wordPiece(word, { _ in n += 1 }) ? n : 1
    }

    /// Greedy longest-match-first; false when the word must become `[UNK]`.
    @inline(__always)
    func wordPiece(_ word: ArraySlice<UInt8>, _ emit: (Int32) -> Void) -> Bool {
        var chars = 0
        for b in word where b & 0xC0 != 0x80 { chars += 1 }
        if chars > maxInputCharsPerWord { return false }
        var start = word.startIndex
        while start < word.endIndex {
            var end = word.endIndex
            var found: Int32? = nil
            while start < end {
                if let id = vocab.lookup(word[start..<end], continuation: start > word.startIndex) {
                    found = id
                    break
                }
                end -= 1
                while end > start && word[end] & 0xC0 == 0x80 { end -= 1 }    // previous scalar boundary
            }
            guard let id = found else { return false }
            emit(id)
            start = end
        }
        return true
    }

    // MARK: normalization and pre-tokenization

    /// Calls `body` with the UTF-8 bytes of each pre-token of `text`, normalized.
    func forEachWord(_ text: String, _ body: (ArraySlice<UInt8>) -> Void) {
        var text = text
        text.withUTF8 { forEachWord($0, body) }
    }

    func forEachWord(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (ArraySlice<UInt8>) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(64)
        var ascii = true
        for b in bytes where b >= 0x80 { ascii = false; break }
        if ascii {
            for b in bytes {
                if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                    if !word.isEmpty { body(word[...]); word.removeAll(keepingCapacity: true) }
                } else if b < 0x20 || b == 0x7F {
                    continue                                    // control characters are dropped
                } else if Self.isASCIIPunctuation(b) {
                    if !word.isEmpty { body(word[...]); word.removeAll(keepingCapacity: true) }
                    body([b][...])
                } else {
                    word.append(lowercase && b >= 0x41 && b <= 0x5A ? b | 0x20 : b)
                }
            }
            if !word.isEmpty { body(word[...]) }
            return
        }
        let normalized = normalize(String(decoding: bytes, as: UTF8.self))
        for scalar in normalized.unicodeScalars {
            if scalar == " " {
                if !word.isEmpty { body(word[...]); word.removeAll(keepingCapacity: true) }
            } else if Self.isPunctuation(scalar) {
                if !word.isEmpty { body(word[...]); word.removeAll(keepingCapacity: true) }
                body(Array(String(scalar).utf8)[...])
            } else {
                word.append(contentsOf: String(scalar).utf8)
            }
        }
        if !word.isEmpty { body(word[...]) }
    }

    /// Steps 1–4 on text with non-ASCII characters.
    package func normalize(_ text: String) -> String {
        var cleaned = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0 || v == 0xFFFD || Self.isControl(scalar) { continue }
            if v == 0x09 || v == 0x0A || v == 0x0D || scalar.properties.isWhitespace {
                cleaned.append(" ")
            } else if Self.isCJK(v) {
                cleaned.append(" "); cleaned.append(scalar); cleaned.append(" ")
            } else {
                cleaned.append(scalar)
            }
        }
        var result = String(cleaned)
        if stripAccents {
            var stripped = String.UnicodeScalarView()
            for scalar in result.unicodeScalars { AccentStripping.append(scalar, to: &stripped) }
            result = String(stripped)
        }
        if lowercase {
            var lowered = String.UnicodeScalarView()
            for scalar in result.unicodeScalars {
                if scalar.value < 0x80 {
                    lowered.append(scalar.value >= 0x41 && scalar.value <= 0x5A ? Unicode.Scalar(scalar.value | 0x20)! : scalar)
                } else {
                    lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
                }
            }
            result = String(lowered)
        }
        return result
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s.value == 0x09 || s.value == 0x0A || s.value == 0x0D { return false }
        switch s.properties.generalCategory {
        case .control, .format, .unassigned, .privateUse, .surrogate: return true
        default: return false
        }
    }

    package static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    @inline(__always) static func isASCIIPunctuation(_ b: UInt8) -> Bool {
        (b >= 33 && b <= 47) || (b >= 58 && b <= 64) || (b >= 91 && b <= 96) || (b >= 123 && b <= 126)
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return isASCIIPunctuation(UInt8(s.value)) }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation,
             .initialPunctuation, .otherPunctuation, .openPunctuation: return true
        default: return false
        }
    }
}

/// Counts real WordPiece tokens for the chunker (`[CLS]` and `[SEP]` are the 2 special tokens).
public struct WordPieceTokenCounter: TokenCounter {
    public let tokenizer: WordPieceTokenizer
    public var name: String { "wordpiece" }
    public var specialTokens: Int { 2 }

    public init(tokenizer: WordPieceTokenizer) { self.tokenizer = tokenizer }

    public func count(word: UnsafeBufferPointer<UInt8>) -> Int { tokenizer.countTokens(word) }
}
