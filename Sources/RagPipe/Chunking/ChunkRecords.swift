import RagPipeRecords

extension RecursiveChunker {
    /// The records of one document, as `chunk` writes them.
    public func records(of document: SourceDocument) -> [ChunkRecord] {
        let (title, spans) = chunks(of: document)
        return spans.map { span in
            ChunkRecord(id: ChunkRecord.stableID(source: document.source, start: span.start, end: span.end),
                        source: document.source, title: title, headings: span.headings,
                        text: String(decoding: document.bytes[span.start..<span.end], as: UTF8.self),
                        start: span.start, end: span.end, tokens: span.tokens, position: span.position,
                        origin: document.origin(of: span.start..<span.end))
        }
    }

    /// Appends one JSON line per chunk of `document` to `out`, straight from its bytes.
    /// Returns the number of chunks.
    @discardableResult
    public func appendRecordLines(of document: SourceDocument, to out: inout [UInt8]) -> Int {
        let (title, spans) = chunks(of: document)
        document.bytes.withUnsafeBytes { bytes in
            for span in spans {
                RecordCodec.appendLine(
                    id: ChunkRecord.stableID(source: document.source, start: span.start, end: span.end),
                    source: document.source, title: title, headings: span.headings,
                    text: UnsafeRawBufferPointer(rebasing: bytes[span.start..<span.end]),
                    start: span.start, end: span.end, tokens: span.tokens, position: span.position,
                    origin: document.origin(of: span.start..<span.end), to: &out)
            }
        }
        return spans.count
    }
}

extension SourceDocument {
    /// Where the bytes `span` of a converted document came from: the pages of its first and last
    /// blocks (PDF), or the anchor and element of the block it starts in (HTML). Nil for
    /// Markdown, text and BEIR documents.
    public func origin(of span: Range<Int>) -> ChunkOrigin? {
        guard let blocks, !blocks.isEmpty, !span.isEmpty else { return nil }
        let first = blocks[Self.block(in: blocks, containing: span.lowerBound)]
        let last = blocks[Self.block(in: blocks, containing: span.upperBound - 1)]
        var origin = ChunkOrigin()
        if let a = first.page, let b = last.page { origin.pages = min(a, b)...max(a, b) }
        origin.anchor = first.anchor
        origin.element = first.element
        return origin == ChunkOrigin() ? nil : origin
    }

    /// The last block starting at or before `offset` (blocks are in text order).
    static func block(in blocks: [TextBlock], containing offset: Int) -> Int {
        var lo = 0, hi = blocks.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if blocks[mid].range.lowerBound <= offset { lo = mid + 1 } else { hi = mid }
        }
        return max(lo - 1, 0)
    }
}
