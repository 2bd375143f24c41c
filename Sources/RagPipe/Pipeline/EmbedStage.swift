import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeAnswering

/// `embed`: chunk records in, the same records with vectors out, one batch in memory at a time.
public enum EmbedStage {
    public struct Summary: Sendable {
        public var records: Int
        public var truncated: Int
        public var seconds: Double
        public var cacheHits = 0
        public var cacheMisses = 0

        /// The line `embed` ends with: records, the model, time and rate, truncations, what the
        /// native encoder ran on, and the cache's hits when `cached`.
        public func line(embedder: any Embedder, cached: Bool) -> String {
            var line = "\(grouped(records)) records, \(embedder.dimension)-d \(embedder.modelID), "
                + "\(String(format1: seconds)) s (\(rate(Double(records), seconds)) records/s)"
            if truncated > 0 { line += ", \(grouped(truncated)) inputs truncated to \(embedder.maxTokens) tokens" }
            if let native = embedder as? MiniLMEmbedder { line += ", \(native.encoder.kernelDescription)" }
            if cached { line += ", cache: \(grouped(cacheHits)) hits, \(grouped(cacheMisses)) embedded" }
            return line
        }
    }

    /// `lines`: each input line is a raw text rather than a chunk record; the output is vectors for
    /// other programs (no ids: not an index stream) and has no end-of-stream line. Chunk record inputs must
    /// end with an end-of-stream line (unless `allowUnterminated`); each one read is checked and
    /// answered by embed's own, so the output keeps the input's segments.
    public static func run(inputs: [String], embedder: any Embedder, batchSize: Int,
                           encoding: RecordCodec.VectorEncoding, lines: Bool, cache: EmbeddingCache? = nil,
                           allowUnterminated: Bool = false, sink: OutputSink, progress: Progress) throws -> Summary {
        let dim = embedder.dimension
        var batch: [ChunkRecord] = []
        batch.reserveCapacity(batchSize)
        var vectors = [Float](repeating: 0, count: batchSize * dim)
        var records = 0
        var truncated = 0

        func flush() throws {
            guard !batch.isEmpty else { return }
            try vectors.withUnsafeMutableBufferPointer { out in
                func row(_ i: Int) -> UnsafeMutableBufferPointer<Float> {
                    UnsafeMutableBufferPointer(rebasing: out[(i * dim)..<((i + 1) * dim)])
                }
                guard let cache else {
                    truncated += try embedder.embed(batch.map(\.text), into: UnsafeMutableBufferPointer(rebasing: out[0..<(batch.count * dim)]))
                    return
                }
                let missing = batch.indices.filter { !cache.lookup(batch[$0].text, into: row($0)) }
                guard !missing.isEmpty else { return }
                var computed = [Float](repeating: 0, count: missing.count * dim)
                try computed.withUnsafeMutableBufferPointer { c in
                    truncated += try embedder.embed(missing.map { batch[$0].text }, into: c)
                    for (k, i) in missing.enumerated() {
                        let v = UnsafeBufferPointer(rebasing: c[(k * dim)..<((k + 1) * dim)])
                        _ = row(i).update(fromContentsOf: v)
                        try cache.store(batch[i].text, vector: v)
                    }
                }
            }
            try vectors.withUnsafeBufferPointer { v in
                try sink.append { out in
                    for (i, r) in batch.enumerated() {
                        let row = UnsafeBufferPointer(rebasing: v[(i * dim)..<((i + 1) * dim)])
                        if lines {
                            appendTextLine(r.text, model: embedder.modelID, vector: row, encoding: encoding, to: &out)
                        } else {
                            RecordCodec.appendLine(r, model: embedder.modelID, vector: row, encoding: encoding, to: &out)
                        }
                    }
                }
            }
            records += batch.count
            batch.removeAll(keepingCapacity: true)
            progress.update("\(grouped(records)) records, \(rate(Double(records), progress.elapsed)) records/s")
        }

        func endSegment(_ records: Int) throws {
            try flush()
            try sink.append { EndOfStream(stage: "embed", records: records).append(to: &$0) }
        }

        var ignored: [Float] = []
        for input in inputs.isEmpty ? ["-"] : inputs {
            let reader = try LineReader(path: input)
            defer { reader.close() }
            var segments = StreamSegments(name: reader.name)
            try reader.forEachLine { line, number in
                if lines {
                    guard let text = String(validating: UnsafeBufferPointer(start: line.baseAddress?.assumingMemoryBound(to: UInt8.self), count: line.count), as: UTF8.self) else {
                        throw RagPipeError.malformedRecord(where: "\(reader.name):\(number)", reason: "not valid UTF-8")
                    }
                    batch.append(ChunkRecord(id: "", source: "", title: "", headings: [], text: text, start: 0, end: 0, tokens: 0, position: 0))
                } else {
                    if line.allSatisfy(isASCIISpace) { return }
                    if let marker = try segments.marker(line, number: number) { try endSegment(marker.records); return }
                    segments.record()
                    do {
                        ignored.removeAll(keepingCapacity: true)
                        batch.append(try RecordCodec.parseLine(line, vectors: &ignored).0)
                    } catch let error as JSONScanError {
                        throw RagPipeError.malformedRecord(where: "\(reader.name):\(number)", reason: error.description)
                    }
                }
                if batch.count == batchSize { try flush() }
            }
            if !lines && !segments.terminated {
                try segments.finish(allowUnterminated: allowUnterminated)
                try endSegment(segments.open)
            }
        }
        try flush()
        try sink.flush()
        guard records > 0 else { throw RagPipeError.emptyInput("no records to embed") }
        return Summary(records: records, truncated: truncated, seconds: progress.elapsed,
                       cacheHits: cache?.hits ?? 0, cacheMisses: cache?.misses ?? 0)
    }

    /// `--lines` output: the text, model, dim and vector.
    static func appendTextLine(_ text: String, model: String, vector: UnsafeBufferPointer<Float>,
                               encoding: RecordCodec.VectorEncoding, to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.field("text", text)
            RecordCodec.writeVectorFields(model: model, vector: vector, encoding: encoding, to: &o)
        }
        out.append(0x0A)
    }
}
