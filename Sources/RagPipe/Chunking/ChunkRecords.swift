import RagPipeRecords

extension RecursiveChunker {
    /// The records of one document, as `chunk` writes them.
    public func records(of document: SourceDocument) -> [ChunkRecord] {
        let (title, spans) = chunks(of: document)
        return spans.map { span in
            ChunkRecord(id: ChunkRecord.stableID(source: document.source, start: span.start, end: span.end),
                        source: document.source, title: title, headings: span.headings,
                        text: String(decoding: document.bytes[span.start..<span.end], as: UTF8.self),
                        start: span.start, end: span.end, tokens: span.tokens, position: span.position)
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
                    start: span.start, end: span.end, tokens: span.tokens, position: span.position, to: &out)
            }
        }
        return spans.count
    }
}
