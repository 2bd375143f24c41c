import RagPipeRetrieval
import RagPipeRecords
import RagPipeChunking

/// Splits chunk text into sentences with the chunker's rules (docs/FORMATS.md, "Sentences"):
/// a sentence ends at `.`, `!` or `?` (closing quotes and brackets may follow) before white
/// space and a word that does not start with a lowercase letter; known abbreviations
/// ("e.g.", "Dr.", "Fig.", …) and single-letter initials do not end sentences; decimals never
/// do (no white space inside "3.14"). Blank lines, list items, table rows and lines of code
/// also end sentences. Headings and code are flagged so answers can skip them.
public enum SentenceSplitter {
    public struct Sentence: Equatable, Sendable {
        /// UTF-8 byte range within the text.
        public var range: Range<Int>
        public var text: String
        public var isHeading: Bool
        /// Inside fenced code: not prose, so not answer material.
        public var isCode: Bool
        public var wordCount: Int
    }

    public static func sentences(in text: String, markdown: Bool = true) -> [Sentence] {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { b in
            let layout = DocumentLayout(bytes: b, markdown: markdown, counter: UpperBoundTokenCounter())
            var out: [Sentence] = []
            var first = 0
            func flush(_ end: Int) {
                guard end > first else { return }
                let words = layout.words[first..<end]
                let range = words.first!.start..<words.last!.end
                let heading = words.first!.boundary == .section && markdown && b[range.lowerBound] == 0x23
                out.append(Sentence(range: range, text: String(decoding: b[range], as: UTF8.self),
                                    isHeading: heading, isCode: words.first!.inCode, wordCount: words.count))
            }
            for (i, w) in layout.words.enumerated() where i > 0 && w.boundary >= .sentence {
                flush(i)
                first = i
            }
            flush(layout.words.count)
            return out
        }
    }
}
