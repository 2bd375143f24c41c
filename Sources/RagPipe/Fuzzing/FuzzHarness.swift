import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval
import RagPipeAnswering
import RagPipeEvaluation
import RagPipePipeline

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What each fuzz target does with one input (Tests/Fuzz, scripts/fuzz.sh): everything a tool
/// does with that kind of untrusted input. Errors are the expected outcome of bad input; a trap
/// or a sanitizer report is a bug. Kept in the library so that every crash the fuzzer finds is
/// replayed by `swift test` (FuzzRegressionTests) through the very same code.
public enum FuzzHarness {
    public enum Target: String, CaseIterable, Sendable {
        case index, jsonl, npy, safetensors, config, beirQueries = "beir-queries", qrels, squad
        /// HTML through libxml2 and the extractor's walk; PDF text as pdftotext might write it
        /// through the clean-up (running lines, hyphens, pages). Both then through the chunker,
        /// every chunk checked against its span.
        case html, pdfText = "pdf-text"
        /// DOCX: the zip (ZipArchive: central directory, local headers, inflate, CRC) and
        /// libxml2's XML parser, then the chunker, as `html`.
        case docx
        /// The files of a shard set: the trained quantizer (`build-index --centroids`) and the
        /// shard manifest (`query MANIFEST`).
        case shardFiles = "shard-files"
    }

    /// Runs `data` through `target`; `scratch` is a file path prefix for the readers that take paths.
    public static func run(_ target: Target, _ data: UnsafeRawBufferPointer, scratch: String) {
        switch target {
        case .index:
            var bytes = Array(data)
            // Checksums would stop nearly every mutation at the header: mend them (the file size
            // too) in three inputs of four, so that the checks behind them are fuzzed as well.
            if bytes.count % 4 != 3 { mendChecksums(&bytes, fileSize: true) }
            bytes.withUnsafeBytes { index(writeScratch($0, scratch, suffix: ".ragx")) }
        case .jsonl:
            jsonl(data)
            _ = try? QueryVectorFile(path: writeScratch(data, scratch, suffix: ".jsonl"), option: "--tune-queries")
        case .npy:
            let path = writeScratch(data, scratch, suffix: ".npy")
            _ = try? NumpyMatrix(path: path)
            // The same bytes through the whole-file reader --tune-queries uses.
            _ = try? QueryVectorFile(path: path, option: "--tune-queries")
        case .safetensors:
            if let file = try? SafetensorsFile(path: writeScratch(data, scratch, suffix: ".safetensors")) {
                _ = try? file.floats("embeddings.word_embeddings.weight", shape: [4, 2])
            }
        case .config:
            _ = try? BertConfig(configFile: writeScratch(data, scratch, suffix: ".json"))
            _ = try? IndexMetadata.parse(data)
            _ = try? EndOfStream.parse(data)
        case .beirQueries: _ = try? BEIRData.queries(writeScratch(data, scratch, suffix: ".jsonl"))
        case .qrels: _ = try? BEIRData.qrels(writeScratch(data, scratch, suffix: ".tsv"))
        case .squad: _ = try? SQuADData(path: writeScratch(data, scratch, suffix: ".json"))
        case .html:
            if let e = try? HTMLExtractor.extract(Array(data), path: "fuzz.html") {
                chunkChecked(SourceDocument(source: "fuzz.html", title: e.title, bytes: e.text, syntax: .html, blocks: e.blocks))
            }
        case .docx:
            if let e = try? DOCXExtractor.extract(Array(data), path: "fuzz.docx") {
                chunkChecked(SourceDocument(source: "fuzz.docx", title: e.title, bytes: e.text, syntax: .docx, blocks: e.blocks))
            }
        case .pdfText:
            if let e = PDFExtractor.cleaned(Array(data)) {
                chunkChecked(SourceDocument(source: "fuzz.pdf", title: "", bytes: e.text, syntax: .pdf, blocks: e.blocks))
            }
        case .shardFiles:
            var bytes = Array(data)
            // As for `index`: checksums mended in three inputs of four, so the checks behind them are reached.
            if bytes.count % 4 != 3 && bytes.count >= 32 {
                func put32(_ v: UInt32, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { for k in 0..<4 { bytes[o + k] = $0[k] } } }
                put32(bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[32...])) }, 24)
                put32(bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<28])) }, 28)
            }
            _ = try? TrainedQuantizer(path: bytes.withUnsafeBytes { writeScratch($0, scratch, suffix: ".ragq") })
            // The manifest parser on the bytes as they came, and the set it names (paths from
            // the scratch folder, where nothing else lies: refused, never a trap).
            _ = try? IndexShards.open(writeScratch(data, scratch, suffix: ".json"))
        }
    }

    /// A converted document through the chunker at a small budget: the extracted text must be
    /// UTF-8, blocks in order and in bounds, and every chunk the text at its span (else a trap:
    /// the fuzzer reports it).
    static func chunkChecked(_ document: SourceDocument) {
        precondition(validateUTF8(document.bytes), "extracted text is not UTF-8")
        var previous = 0
        for block in document.blocks ?? [] {
            precondition(block.range.lowerBound >= previous && block.range.upperBound <= document.bytes.count, "block out of order or bounds")
            previous = block.range.upperBound
        }
        let chunker = RecursiveChunker(options: .init(maxTokens: 24, overlapTokens: 4), counter: UpperBoundTokenCounter())
        for record in chunker.records(of: document) {
            precondition(String(decoding: document.bytes[record.start..<record.end], as: UTF8.self) == record.text, "chunk text is not its span")
            if let pages = record.origin?.pages { precondition(pages.lowerBound >= 1, "page numbers start at 1") }
        }
    }

    /// Writes the input where the file-taking readers can open it.
    static func writeScratch(_ data: UnsafeRawBufferPointer, _ scratch: String, suffix: String) -> String {
        let path = scratch + suffix
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "fuzz: cannot write \(path)")
        var done = 0
        while done < data.count {
            let n = write(fd, data.baseAddress! + done, data.count - done)
            precondition(n > 0)
            done += n
        }
        close(fd)
        return path
    }

    /// Recomputes every checksum of a mutated index (header, section table, each section), so
    /// mutations reach the parsers behind them; `fileSize` also rewrites the header's file size
    /// (a truncation then reaches the table checks instead of being refused by size).
    package static func mendChecksums(_ bytes: inout [UInt8], fileSize: Bool) {
        guard bytes.count >= IndexFormat.headerSize else { return }
        func u32(_ o: Int) -> UInt32 { bytes.withUnsafeBytes { $0.u32(at: o) } }
        func u64(_ o: Int) -> UInt64 { bytes.withUnsafeBytes { $0.u64(at: o) } }
        func put32(_ v: UInt32, _ o: Int) { withUnsafeBytes(of: v.littleEndian) { for k in 0..<4 { bytes[o + k] = $0[k] } } }
        func crc(_ r: Range<Int>) -> UInt32 { bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[r])) } }
        let size = UInt64(bytes.count)
        if fileSize { withUnsafeBytes(of: size.littleEndian) { for k in 0..<8 { bytes[16 + k] = $0[k] } } }
        let table = u64(24), count = UInt64(u32(32)), entry = UInt64(IndexFormat.sectionEntrySize)
        if count <= UInt64(IndexFormat.maxSections), table <= size, count * entry <= size - table {
            for i in 0..<Int(count) {
                let e = Int(table) + i * IndexFormat.sectionEntrySize
                let offset = u64(e + 8), length = u64(e + 16)
                if offset <= size, length <= size - offset { put32(crc(Int(offset)..<Int(offset + length)), e + 24) }
            }
            put32(crc(Int(table)..<(Int(table) + Int(count) * IndexFormat.sectionEntrySize)), 36)
        }
        put32(crc(0..<60), 60)
    }

    /// Everything a query can do with an index: open, verify, fetch records, every search path.
    static func index(_ path: String) {
        guard let reader = try? IndexReader(path: path) else { return }
        _ = try? reader.verify()
        let d = reader.dimension
        var q = [Float](repeating: 0, count: d)
        // A unit vector, as the embedders make.
        q[0] = d > 1 ? 0.8 : 1
        if d > 1 { q[d - 1] = -0.6 }
        for row in [0, reader.count / 2, reader.count - 1] {
            _ = try? reader.record(row)
            _ = try? reader.dense.similarity(row: row, q)
        }
        _ = try? reader.forEachRecord { _, _ in }
        let dense = (try? reader.dense.search(q, k: 10)) ?? []
        _ = try? reader.dense.search(q, k: 3, nprobe: 1)
        _ = try? reader.dense.search(q, k: 3, nprobe: 1_000)
        if let searcher = try? BM25Searcher(index: reader) {
            let bm25 = (try? searcher.search("zinc colds index vectors the", k: 10)) ?? []
            _ = searcher.ceiling("zinc colds")
            for fusion in Fusion.allCases { _ = fusion.fuse(dense: dense, bm25: bm25, weight: 0.5, k: 5) }
        }
        // What `query` does, in every mode, when the index names the hash embedder (the seeds do).
        guard reader.metadata.modelID == HashEmbedder.modelName else { return }
        let embedder = HashEmbedder(dimension: reader.dimension)
        for mode in RetrievalMode.allCases {
            guard let retriever = try? Retriever(index: reader, embedder: embedder, mode: mode, settings: .init(k: 3)) else { continue }
            _ = try? QueryEngine(retriever: retriever).run("zinc lozenges and the common cold")
        }
    }

    static func jsonl(_ data: UnsafeRawBufferPointer) {
        var vectors: [Float] = []
        var start = 0
        let builder = IndexBuilder(blockSize: 1024)
        var segments = StreamSegments(name: "fuzz")
        var number = 0
        while start <= data.count {
            var end = start
            while end < data.count && data[end] != 0x0A { end += 1 }
            let line = UnsafeRawBufferPointer(rebasing: data[start..<end])
            number += 1
            vectors.removeAll(keepingCapacity: true)
            _ = try? RecordCodec.parseLine(line, vectors: &vectors)
            if (try? segments.marker(line, number: number)) == nil { segments.record() }
            _ = try? builder.addLine(line, place: "fuzz:\(number)")
            start = end + 1
        }
        _ = try? segments.finish(allowUnterminated: false)
    }
}
