import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeIndex

/// `build-index`: an `embed` stream in, one index file out.
public enum BuildIndexStage {
    public struct Summary: Sendable {
        public var index: IndexBuilder.Summary
        public var ingestSeconds: Double
        public var writeSeconds: Double
        public var inputBytes: Int
        public var renormalized: Int

        /// The line `build-index` ends with: records, model, the file and its texts, ingest rate
        /// and write time, the vector layout (`DenseSummary`), and vectors that were normalized.
        public func line(output: String) -> String {
            var line = "\(grouped(index.count)) records, \(index.dimension)-d \(index.modelID) → \(output) "
                + "(\(String(format1: Double(index.fileSize) / 1e6)) MB; texts \(String(format1: Double(index.textBytes) / 1e6)) MB → "
                + "\(String(format1: Double(index.compressedTextBytes) / 1e6)) MB in \(index.blocks) blocks); "
                + "ingest \(rate(Double(index.count), ingestSeconds)) records/s, write \(String(format1: writeSeconds * 1000)) ms"
            line += "; " + DenseSummary.line(kind: index.kind, coding: index.coding, report: index.dense)
            if renormalized > 0 { line += "; \(grouped(renormalized)) vectors were not unit length and were normalized" }
            return line
        }
    }

    /// With `bm25`, also writes BM25 sections over the chunk texts (docs/FORMAT.md).
    public static func run(inputs: [String], output: String, blockSize: Int, compressionLevel: Int32,
                           bm25: BM25Parameters? = BM25Parameters(), dense: DenseIndexOptions = DenseIndexOptions(),
                           allowUnterminated: Bool = false, progress: Progress) throws -> Summary {
        if let problem = bm25?.problem { throw RagPipeError.usage(problem) }
        try OutputTarget.checkReplaceable(output)
        try OutputTarget.checkNotAnInput(output, inputs: inputs)
        let builder = IndexBuilder(blockSize: blockSize, compressionLevel: compressionLevel, spoolDirectory: OutputTarget.directory(of: output))
        if bm25 != nil { builder.lexicalText = bm25Text }
        let inputBytes = try ingest(inputs: inputs, into: builder, allowUnterminated: allowUnterminated, progress: progress)
        let ingestSeconds = progress.elapsed
        guard builder.count > 0 else {
            throw RagPipeError.emptyInput("no records in \(inputs.isEmpty ? "stdin" : inputs.joined(separator: " ")); nothing written to \(output)")
        }
        try dense.checkTrained(records: builder)
        progress.step("writing \(output)")
        var extra: [(IndexFormat.SectionKind, [UInt8])] = []
        var settings: IndexMetadata.BM25Settings? = nil
        if let bm25 {
            let built = BM25Builder.build(texts: builder.lexicalTexts)
            extra = [(.bm25Vocabulary, built.vocabulary), (.bm25Postings, built.postings), (.bm25Lengths, built.lengths)]
            settings = .init(k1: Double(bm25.k1), b: Double(bm25.b), averageLength: built.averageLength)
        }
        let summary = try builder.write(to: output, extraSections: extra, bm25: settings,
                                        dense: dense, status: { progress.step($0) })
        return Summary(index: summary, ingestSeconds: ingestSeconds, writeSeconds: progress.elapsed - ingestSeconds,
                       inputBytes: inputBytes, renormalized: builder.renormalized)
    }

    /// Reads every input's records into `builder`, each input checked to end with its
    /// end-of-stream line; returns the bytes read.
    static func ingest(inputs: [String], into builder: IndexBuilder, allowUnterminated: Bool, progress: Progress) throws -> Int {
        var inputBytes = 0
        for input in inputs.isEmpty ? ["-"] : inputs {
            let reader = try LineReader(path: input)
            defer { reader.close() }
            // Each input must end with its end-of-stream line: a stream cut short at a line
            // boundary by a dying upstream stage must not become the index.
            var segments = StreamSegments(name: reader.name)
            try reader.forEachLine { line, number in
                inputBytes += line.count + 1
                if line.allSatisfy(isASCIISpace) { return }
                if try segments.marker(line, number: number) != nil { return }
                segments.record()
                try builder.addLine(line, place: "\(reader.name):\(number)")
                if number & 1023 == 0 {
                    progress.update("\(grouped(builder.count)) records, \(rate(Double(builder.count), progress.elapsed)) records/s")
                }
            }
            try segments.finish(allowUnterminated: allowUnterminated)
        }
        return inputBytes
    }
}

extension BuildIndexStage {
    /// Builds a vectors-only index from a float32 `.npy` matrix: row i becomes record id "i" with
    /// no text (so no BM25), under `modelID`. Rows are normalized to unit length (cosine).
    public static func runNumpy(path: String, output: String, modelID: String, blockSize: Int, compressionLevel: Int32,
                                dense: DenseIndexOptions = DenseIndexOptions(), progress: Progress) throws -> Summary {
        try OutputTarget.checkReplaceable(output)
        try OutputTarget.checkNotAnInput(output, inputs: [path])
        try dense.tuning.checkModel(modelID)
        let builder = IndexBuilder(blockSize: blockSize, compressionLevel: compressionLevel, spoolDirectory: OutputTarget.directory(of: output))
        let inputBytes = try ingestNumpy(path: path, into: builder, modelID: modelID, progress: progress)
        let ingestSeconds = progress.elapsed
        try dense.checkTrained(records: builder)
        let summary = try builder.write(to: output, dense: dense, status: { progress.step($0) })
        return Summary(index: summary, ingestSeconds: ingestSeconds, writeSeconds: progress.elapsed - ingestSeconds,
                       inputBytes: inputBytes, renormalized: builder.renormalized)
    }

    /// Reads the rows of a float32 `.npy` matrix into `builder` as records "0", "1", … with no
    /// text; returns the matrix's bytes.
    static func ingestNumpy(path: String, into builder: IndexBuilder, modelID: String, progress: Progress) throws -> Int {
        var inputBytes = 0, columns = 0
        // A block of rows at a time: the vectors go on to the spool, not into one buffer.
        try NumpyMatrix.forEachRowBlock(path: path, rowsPerBlock: 4096) { r, c in
            inputBytes = r * c * 4
            columns = c
        } body: { block in
            try builder.addRows(block, columns: columns, model: modelID,
                                place: { "\(path): row \($0)" }) { i in
                if i & 4095 == 0 { progress.update("\(grouped(i)) rows") }
                return ChunkRecord(id: String(i), source: "", title: "", headings: [], text: "", start: 0, end: 0, tokens: 0, position: i)
            }
        }
        return inputBytes
    }
}
