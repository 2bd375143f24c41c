import RagPipeSupport
import RagPipeRecords

/// A chunk as a span of its document, before it becomes a record.
public struct ChunkSpan: Equatable, Sendable {
    public var start: Int
    public var end: Int
    /// Tokens including the counter's special tokens.
    public var tokens: Int
    public var headings: [String]
    public var position: Int
}

/// Splits documents into token-bounded chunks that follow their structure.
///
/// Sections (Markdown headings) are chunked independently. A section that fits the budget is one
/// chunk. Otherwise it is cut recursively at the strongest boundaries first (blocks, then
/// sentences and lines, then words), and the pieces are packed greedily into chunks of at most
/// `maxTokens`, each new chunk starting with up to `overlap` tokens of trailing pieces of the
/// previous one. A word longer than the budget on its own is the only thing ever cut inside
/// a word, at character boundaries, and becomes chunks of its own.
public struct RecursiveChunker: Sendable {
    public struct Options: Sendable {
        /// Upper bound on a chunk's tokens, special tokens included.
        public var maxTokens: Int
        /// Tokens of context repeated from the previous chunk (at most).
        public var overlapTokens: Int
        /// One chunk per document (BEIR-style evaluation); the embedder truncates.
        public var noSplit: Bool

        public init(maxTokens: Int = 256, overlapTokens: Int = 51, noSplit: Bool = false) {
            self.maxTokens = maxTokens; self.overlapTokens = overlapTokens; self.noSplit = noSplit
        }
    }

    public let options: Options
    public let counter: any TokenCounter

    public init(options: Options, counter: any TokenCounter) {
        self.options = options
        self.counter = counter
    }

    /// Content tokens a chunk may hold.
    var budget: Int { max(1, options.maxTokens - counter.specialTokens) }

    /// The title a document is known by: its given title, else its first `#` heading, else its
    /// file name without extension.
    public func chunks(of document: SourceDocument) -> (title: String, spans: [ChunkSpan]) {
        document.bytes.withUnsafeBufferPointer { bytes in
            let layout = document.blocks.map { DocumentLayout(bytes: bytes, blocks: $0, counter: counter) }
                ?? DocumentLayout(bytes: bytes, markdown: document.syntax == .markdown, counter: counter)
            var title = document.title
            if title.isEmpty { title = layout.firstTitle ?? Self.stem(document.source) }
            var spans: [ChunkSpan] = []
            if options.noSplit {
                if let first = layout.words.first, let last = layout.words.last {
                    let tokens = layout.words.reduce(0) { $0 + $1.tokens } + counter.specialTokens
                    spans.append(ChunkSpan(start: first.start, end: last.end, tokens: tokens, headings: [], position: 0))
                }
                return (title, spans)
            }
            for section in layout.sections {
                chunkSection(section, layout: layout, bytes: bytes, into: &spans)
            }
            return (title, spans)
        }
    }

    /// A piece: a byte span with its content-token count, or a part of an oversized word.
    struct Piece {
        var start: Int
        var end: Int
        var tokens: Int
        var standalone: Bool
    }

    func chunkSection(_ section: DocumentLayout.Section, layout: DocumentLayout,
                      bytes: UnsafeBufferPointer<UInt8>, into spans: inout [ChunkSpan]) {
        let words = layout.words
        // prefix[i] = tokens of words[section.lowerBound ..< section.lowerBound + i]
        var prefix = [0]
        prefix.reserveCapacity(section.words.count + 1)
        for w in section.words { prefix.append(prefix.last! + words[w].tokens) }
        let base = section.words.lowerBound
        func tokens(_ r: Range<Int>) -> Int { prefix[r.upperBound - base] - prefix[r.lowerBound - base] }

        var pieces: [Piece] = []
        func split(_ r: Range<Int>, level: Boundary) {
            if tokens(r) <= budget {
                pieces.append(Piece(start: words[r.lowerBound].start, end: words[r.upperBound - 1].end,
                                    tokens: tokens(r), standalone: false))
                return
            }
            if r.count == 1 {
                splitOversizedWord(words[r.lowerBound], bytes: bytes, into: &pieces)
                return
            }
            guard let lower = Boundary(rawValue: level.rawValue - 1) else {
                for w in r { split(w..<(w + 1), level: .word) }
                return
            }
            var cut = r.lowerBound
            var i = r.lowerBound + 1
            var any = false
            while i < r.upperBound {
                if words[i].boundary >= level {
                    split(cut..<i, level: lower)
                    cut = i
                    any = true
                }
                i += 1
            }
            if any { split(cut..<r.upperBound, level: lower) } else { split(r, level: lower) }
        }
        split(section.words, level: .block)
        merge(pieces, headings: section.headings, into: &spans)
    }

    /// Greedy packing with overlap, in the manner of LangChain's `_merge_splits`, over spans.
    func merge(_ pieces: [Piece], headings: [String], into spans: inout [ChunkSpan]) {
        var window: [Piece] = []
        var windowStart = 0     // index into `window` of the first piece still in the chunk
        var total = 0
        func emit() {
            let live = window[windowStart...]
            guard let first = live.first, let last = live.last else { return }
            spans.append(ChunkSpan(start: first.start, end: last.end, tokens: total + counter.specialTokens,
                                   headings: headings, position: spans.count))
        }
        for piece in pieces {
            if piece.standalone {
                if windowStart < window.count { emit() }
                spans.append(ChunkSpan(start: piece.start, end: piece.end, tokens: piece.tokens + counter.specialTokens,
                                       headings: headings, position: spans.count))
                window.removeAll(); windowStart = 0; total = 0
                continue
            }
            if total + piece.tokens > budget && windowStart < window.count {
                emit()
                // Keep the tail that fits the overlap and leaves room for this piece.
                while windowStart < window.count
                        && (total > options.overlapTokens || total + piece.tokens > budget) {
                    total -= window[windowStart].tokens
                    windowStart += 1
                }
            }
            window.append(piece)
            total += piece.tokens
        }
        if windowStart < window.count {
            // The last chunk may be pure overlap of the previous one only if nothing new was added.
            emit()
        }
    }

    /// Cuts a word that alone exceeds the budget into parts at scalar boundaries.
    func splitOversizedWord(_ word: DocumentLayout.Word, bytes: UnsafeBufferPointer<UInt8>, into pieces: inout [Piece]) {
        var start = word.start
        while start < word.end {
            // Grow the part scalar by scalar while it fits; counts are re-taken on the part
            // because a tokenizer need not be additive inside a word.
            var end = start
            var bestEnd = start
            var bestTokens = 0
            var step = 64
            while end < word.end {
                var candidate = end
                var s = 0
                while candidate < word.end && s < step {
                    candidate += 1
                    while candidate < word.end && (bytes[candidate] & 0xC0) == 0x80 { candidate += 1 }
                    s += 1
                }
                let t = counter.count(word: UnsafeBufferPointer(rebasing: bytes[start..<candidate]))
                if t <= budget {
                    end = candidate; bestEnd = candidate; bestTokens = t
                } else if step > 1 {
                    step /= 2
                } else {
                    break
                }
            }
            if bestEnd == start {       // not even one scalar fits a tiny budget: take it anyway
                bestEnd = start + 1
                while bestEnd < word.end && (bytes[bestEnd] & 0xC0) == 0x80 { bestEnd += 1 }
                bestTokens = counter.count(word: UnsafeBufferPointer(rebasing: bytes[start..<bestEnd]))
            }
            pieces.append(Piece(start: start, end: bestEnd, tokens: bestTokens, standalone: true))
            start = bestEnd
        }
    }

    static func stem(_ source: String) -> String {
        let name = lastComponent(source)
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return name }
        return String(name[..<dot])
    }
}
