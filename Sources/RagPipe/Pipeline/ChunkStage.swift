import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding

/// `chunk`: documents in, chunk records (JSON Lines) out.
public enum ChunkStage {
    public struct Summary: Sendable {
        public var documents: Int
        public var chunks: Int
        public var bytes: Int
        public var skippedFiles: Int
        public var invalidFiles: Int
        public var unreadableFiles: Int
        public var unconvertibleFiles: Int = 0
        /// Pages of the PDFs read.
        public var pages: Int = 0
        public var seconds: Double

        /// The line `chunk` ends with: documents, chunks, the budget, bytes, time, and what was skipped.
        public func line(maxTokens: Int, counter: String) -> String {
            var line = "\(grouped(documents)) documents → \(grouped(chunks)) chunks "
                + "(≤ \(maxTokens) \(counter) tokens), \(String(format1: Double(bytes) / 1e6)) MB"
                + (pages > 0 ? " (\(grouped(pages)) PDF pages)" : "") + " in \(String(format1: seconds)) s"
            if skippedFiles > 0 { line += ", \(skippedFiles) files skipped (not .md/.markdown/.txt/.jsonl/.html/.htm/.pdf/.docx)" }
            if invalidFiles > 0 { line += ", \(invalidFiles) non-UTF-8 files skipped" }
            if unconvertibleFiles > 0 { line += ", \(unconvertibleFiles) unconvertible HTML/PDF/DOCX files skipped" }
            if unreadableFiles > 0 { line += ", \(unreadableFiles) unreadable files skipped" }
            return line
        }
    }

    public static func run(inputs: [String], format: CorpusReader.InputFormat, chunker: RecursiveChunker,
                           skipInvalid: Bool, sink: OutputSink, progress: Progress) throws -> Summary {
        var reader = CorpusReader(format: format, skipInvalid: skipInvalid, warn: { Log.warning("chunk", $0) })
        var chunks = 0, documents = 0, bytes = 0
        try reader.read(inputs.isEmpty ? ["-"] : inputs) { document in
            try sink.append { out in chunks += chunker.appendRecordLines(of: document, to: &out) }
            documents += 1
            bytes += document.bytes.count
            progress.update("\(grouped(documents)) documents, \(grouped(chunks)) chunks, "
                + "\(String(format1: Double(bytes) / 1e6 / max(progress.elapsed, 1e-9))) MB/s")
        }
        let c = reader.counts
        guard c.documents > 0 else {
            try sink.flush()
            throw RagPipeError.emptyInput("no documents found in \(inputs.isEmpty ? "stdin" : inputs.joined(separator: " "))"
                + (c.skippedFiles > 0 ? " (\(c.skippedFiles) files skipped: only .md, .markdown, .txt, .jsonl, .html, .htm, .pdf and .docx are read)" : ""))
        }
        // Written only once everything was read: its absence tells `embed` the stream is short.
        try sink.append { EndOfStream(stage: "chunk", records: chunks).append(to: &$0) }
        try sink.flush()
        return Summary(documents: c.documents, chunks: chunks, bytes: c.bytes, skippedFiles: c.skippedFiles,
                       invalidFiles: c.invalidFiles, unreadableFiles: c.unreadableFiles,
                       unconvertibleFiles: c.unconvertibleFiles, pages: c.pages, seconds: progress.elapsed)
    }

    /// `chunk --extract`: the text each input's chunk spans point into, as it is (a Markdown or
    /// text file's bytes; for HTML, PDF and DOCX the extracted text), documents one after another.
    /// Returns the number of documents.
    @discardableResult
    public static func extract(inputs: [String], format: CorpusReader.InputFormat, sink: OutputSink) throws -> Int {
        var reader = CorpusReader(format: format, skipInvalid: false, warn: { Log.warning("chunk", $0) })
        try reader.read(inputs.isEmpty ? ["-"] : inputs) { document in
            try sink.append { $0.append(contentsOf: document.bytes) }
        }
        try sink.flush()
        guard reader.counts.documents > 0 else {
            throw RagPipeError.emptyInput("no documents found in \(inputs.isEmpty ? "stdin" : inputs.joined(separator: " "))")
        }
        return reader.counts.documents
    }
}
