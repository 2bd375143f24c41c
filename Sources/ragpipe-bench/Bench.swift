import ArgumentParser
import Foundation
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval
import RagPipeAnswering

/// Release benchmarks for the pipeline stages; prints one table of measured figures.
@main
struct RagpipeBench: ParsableCommand {
    /// `--peak-rss-of` first: the bench measuring a tool's memory from a small process (`PeakRSS`).
    static func main() {
        if let status = PeakRSS.wrapperStatus(CommandLine.arguments) { Foundation.exit(status) }
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "ragpipe-bench",
        abstract: "Measure chunk MB/s, build-index ingest records/s, query open+answer ms and flat scan GB/s.")

    @Option(help: "The repository's data folder (reads scifact/corpus.jsonl.gz).")
    var data = "data"

    @Option(help: "Scratch folder for generated data.")
    var work = ".build/bench-data"

    @Option(help: "Records in the ingest benchmark.")
    var ingestRecords = 200_000

    @Option(help: "Times SciFact is repeated for the chunking corpus (8.1 MB each).")
    var chunkRepeats = 7

    @Option(help: "all-MiniLM-L6-v2 folder (make model); without it the MiniLM benchmarks are skipped.")
    var model: String?

    @Option(help: "SciFact documents embedded in the MiniLM benchmark, ragpipe and its peers alike (0 skips it).")
    var embedDocuments = 400

    @Option(help: "Rounds of the embedding benchmark (each embedder's best round is reported).")
    var embedRounds = 2

    @Option(help: "Python with sentence-transformers, torch and onnxruntime (make bench-venv): runs the peer embedders in the same run.")
    var peerPython: String?

    @Flag(help: "Run only the embedding benchmark.")
    var onlyEmbedding = false

    @Option(help: "Synthetic clustered vectors in the IVF benchmark (0 skips it).")
    var ivfSynthetic = 1_000_000

    @Option(help: "Python with faiss-cpu and hnswlib (the bench venv): run FAISS IVF-SQ8 and hnswlib on the IVF benchmark's vectors in the same run.")
    var annPython: String?

    @Option(help: "hnswlib runs on sets of at most this many vectors (its M16/ef_construction 200 build, on every core, is the slowest step at 1M).")
    var hnswMaxCount = 1_000_000

    @Flag(help: "Skip the real-question IVF benchmark (SciFact MiniLM) even with --model.")
    var noIVFReal = false

    @Flag(help: "Run only the IVF benchmarks.")
    var onlyIVF = false

    func run() throws {
        let bench = try Bench(data: data, work: work)
        defer { bench.printTable() }
        if onlyEmbedding {
            guard let model else { throw ValidationError("--only-embedding needs --model") }
            try bench.embeddingSideBySide(model: model, documents: embedDocuments, rounds: embedRounds, peerPython: peerPython)
            return
        }
        let nprobes = [8, 16, 24, 32, 48, 64, 96, 128, 160, 200, 256]
        let efs = [10, 16, 24, 32, 40, 48, 64, 80, 100, 128, 160, 200, 300, 400]
        let sq8 = Bench.IVFConfiguration(label: "ivf sq8", arguments: ["--kind", "ivf", "--codes", "sq8"], summary: true)
        let rerank = Bench.IVFConfiguration(label: "ivf sq8 --rerank", arguments: ["--kind", "ivf", "--codes", "sq8", "--rerank"], summary: true)
        let rabitq = Bench.IVFConfiguration(label: "ivf rabitq", arguments: ["--kind", "ivf", "--codes", "rabitq"], summary: true)
        if let model, !noIVFReal {
            let set = try bench.realQuestionVectors(model: model)
            let claims = set.queries.first { $0.name == "claims" }!.stream!
            let configurations = [
                sq8, rabitq, rerank,
                Bench.IVFConfiguration(label: "ivf fp32", arguments: ["--kind", "ivf", "--codes", "fp32"]),
                Bench.IVFConfiguration(label: "ivf sq8 tuned on the claims (--tune-queries)", arguments: ["--kind", "ivf", "--codes", "sq8", "--tune-queries", claims], sweep: false),
                Bench.IVFConfiguration(label: "flat fp32 (exact)", arguments: ["--kind", "flat", "--codes", "fp32"]),
            ]
            try bench.ivfBenchmark(set, configurations: configurations, nprobes: nprobes, efs: efs, annPython: annPython, hnswMaxCount: hnswMaxCount)
        }
        if ivfSynthetic > 0 {
            try bench.ivfBenchmark(try bench.syntheticVectors(count: ivfSynthetic), configurations: [sq8, rabitq, rerank], nprobes: nprobes, efs: efs,
                                   annPython: annPython, hnswMaxCount: hnswMaxCount)
        }
        if onlyIVF { return }
        try bench.chunking(repeats: chunkRepeats)
        if let model {
            try bench.wordPieceChunking(repeats: chunkRepeats, model: model)
            if embedDocuments > 0 {
                try bench.embeddingSideBySide(model: model, documents: embedDocuments, rounds: embedRounds, peerPython: peerPython)
            }
            try bench.minilmQuery(model: model)
        }
        try bench.ingest(records: ingestRecords)
        try bench.openAndQuery(sizes: [10_000, 100_000])
        try bench.flatScan()
    }
}

final class Bench {
    let data: String
    let work: String
    let binDir: String
    var rows: [(String, String, String)] = []

    init(data: String, work: String) throws {
        self.data = data
        self.work = work
        binDir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func note(_ s: String) { FileHandle.standardError.write(Data(("bench: " + s + "\n").utf8)) }

    func record(_ what: String, _ value: String, _ reference: String) {
        rows.append((what, value, reference))
        note("\(what): \(value)   [\(reference)]")
    }

    @discardableResult
    func sh(_ command: String) throws -> (status: Int32, stderr: String, seconds: Double) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-o", "pipefail", "-c", command]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = binDir + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        p.environment = env
        let err = Pipe()
        p.standardError = err
        let clock = Stopwatch()
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let seconds = clock.seconds
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw ValidationError("`\(command)` failed: \(text)") }
        return (p.terminationStatus, text, seconds)
    }

    /// Wall time of one run of `path args…` (stdout to /dev/null, stderr kept for an error),
    /// started with posix_spawn.
    func spawn(_ path: String, _ args: [String]) throws -> Double {
        try spawnMeasured(path, args).seconds
    }

    var scifact: String { work + "/scifact.jsonl" }

    func ensureSciFact() throws {
        if !FileManager.default.fileExists(atPath: scifact) {
            try sh("gunzip -c '\(data)/scifact/corpus.jsonl.gz' > '\(scifact)'")
        }
    }

    // MARK: chunk

    func chunking(repeats: Int) throws {
        try ensureSciFact()
        let big = work + "/scifact-x\(repeats).jsonl"
        if !FileManager.default.fileExists(atPath: big) {
            // Repeat SciFact with distinct ids.
            var out = Data()
            let lines = try String(contentsOfFile: scifact, encoding: .utf8).split(separator: "\n")
            for r in 0..<repeats {
                for line in lines {
                    out.append(Data(line.replacingOccurrences(of: "{\"_id\": \"", with: "{\"_id\": \"r\(r)-").utf8))
                    out.append(0x0A)
                }
            }
            try out.write(to: URL(fileURLWithPath: big))
        }
        let bytes = Double((try FileManager.default.attributesOfItem(atPath: big)[.size] as! NSNumber).intValue)

        let (best, chunks) = try timeChunking(big, counter: UpperBoundTokenCounter(), runs: 3)
        record("chunk, in process, 1 core (\(String(format: "%.1f", bytes / 1e6)) MB, \(chunks) chunks)",
               String(format: "%.0f MB/s", bytes / 1e6 / best),
               "target ≥ 134 MB/s (LangChain character splitter); LangChain token splitter 0.49 MB/s")
        let cli = try sh("chunk --counter upper-bound '\(big)' > /dev/null")
        record("chunk CLI, file → /dev/null", String(format: "%.0f MB/s", bytes / 1e6 / cli.seconds), "same target, includes process start and stdout")
    }

    /// In process, one core: read, chunk, serialize (what `chunk` does minus the pipe).
    /// Returns the best time of `runs` and the number of chunks.
    func timeChunking(_ path: String, counter: any TokenCounter, runs: Int) throws -> (Double, Int) {
        let chunker = RecursiveChunker(options: .init(), counter: counter)
        var best = Double.infinity
        var chunks = 0
        for _ in 0..<runs {
            var reader = CorpusReader(format: .beir)
            var out: [UInt8] = []
            out.reserveCapacity(1 << 22)
            chunks = 0
            let clock = Stopwatch()
            try reader.read([path]) { doc in
                chunks += chunker.appendRecordLines(of: doc, to: &out)
                if out.count > 1 << 21 { out.removeAll(keepingCapacity: true) }
            }
            best = min(best, clock.seconds)
        }
        return (best, chunks)
    }

    func wordPieceChunking(repeats: Int, model: String) throws {
        let big = work + "/scifact-x\(repeats).jsonl"
        let bytes = Double((try FileManager.default.attributesOfItem(atPath: big)[.size] as! NSNumber).intValue)
        let counter = WordPieceTokenCounter(tokenizer: try WordPieceTokenizer(vocabFile: model + "/vocab.txt"))
        let (best, chunks) = try timeChunking(big, counter: counter, runs: 2)
        record("chunk with the real WordPiece tokenizer, in process, 1 core (\(chunks) chunks)",
               String(format: "%.1f MB/s", bytes / 1e6 / best),
               "target ≥ 25 MB/s; LangChain's splitter with the same tokenizer: 0.49 MB/s")
    }

    /// Texts/s and tokens/s embedding the first `documents` SciFact documents as the pipeline
    /// chunks them (256 wordpiece tokens, 20% overlap), with 1 and 2 threads.
    func minilmQuery(model: String) throws {
        // A 3k-chunk MiniLM index from SciFact (open cost does not depend on size), then the
        // process wall time of one query.
        let path = work + "/index-minilm.ragx"
        if !FileManager.default.fileExists(atPath: path) {
            // Chunk to a file first: `chunk | head` ends chunk with SIGPIPE, which pipefail reports.
            let chunks = work + "/scifact-chunks.jsonl"
            try sh("chunk --model '\(model)' '\(scifact)' > '\(chunks)'")
            try sh("head -n 3000 '\(chunks)' | embed --allow-unterminated --model '\(model)' | build-index -o '\(path)'")
        }
        let question = "Does vitamin D supplementation reduce the risk of fractures?"
        var wall: [Double] = []
        for _ in 0..<7 { wall.append(try spawn(binDir + "/query", ["--model", model, path, question]) * 1000) }
        wall.sort()
        record("query open + first answer, MiniLM, 3k SciFact chunks (process start, model load, query and 4 sentence embeddings)",
               String(format: "%.1f ms process wall (median of 7)", wall[3]), "target < 20 ms")
    }

    // MARK: build-index ingest

    func embeddedStream(records: Int) throws -> String {
        let path = work + "/embedded-\(records).jsonl"
        if FileManager.default.fileExists(atPath: path) { return path }
        try ensureSciFact()
        let unique = work + "/scifact-embedded.jsonl"
        if !FileManager.default.fileExists(atPath: unique) {
            try sh("chunk '\(scifact)' | embed > '\(unique)'")
        }
        // Replicate with distinct ids until `records` lines.
        // Without its end-of-stream line: the replicated stream is cut to size, so it is built with --allow-unterminated.
        let lines = try String(contentsOfFile: unique, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("{\"end_of_stream\"") }
        let handle = FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path)! : nil
        guard let handle else { throw ValidationError("cannot write \(path)") }
        var buffer = Data()
        for i in 0..<records {
            let line = lines[i % lines.count]
            let round = i / lines.count
            buffer.append(Data((round == 0 ? String(line) : line.replacingOccurrences(of: "{\"id\":\"", with: "{\"id\":\"\(round)-")).utf8))
            buffer.append(0x0A)
            if buffer.count > 1 << 24 { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
        }
        handle.write(buffer)
        try handle.close()
        return path
    }

    func ingest(records: Int) throws {
        let stream = try embeddedStream(records: records)
        let size = Double((try FileManager.default.attributesOfItem(atPath: stream)[.size] as! NSNumber).intValue)
        let out = work + "/ingest.ragx"
        var bestIngest = 0.0
        var bestTotal = Double.infinity
        for _ in 0..<3 {
            let r = try sh("cat '\(stream)' | build-index --allow-unterminated -o '\(out)'")
            bestTotal = min(bestTotal, r.seconds)
            if let rate = Self.number(after: "ingest ", in: r.stderr) { bestIngest = max(bestIngest, rate) }
        }
        record("build-index ingest from a pipe (\(records) × 384-d, \(String(format: "%.0f", size / 1e6)) MB)",
               String(format: "%.0f records/s (%.0f MB/s)", bestIngest, bestIngest * size / Double(records) / 1e6),
               "target ≥ 200,000 records/s")
        record("build-index end to end incl. zlib and fsync",
               String(format: "%.2f s = %.0f records/s", bestTotal, Double(records) / bestTotal), "")
    }

    static func number(after marker: String, in text: String) -> Double? {
        guard let r = text.range(of: marker) else { return nil }
        let digits = text[r.upperBound...].prefix { $0.isNumber || $0 == "," }
        return Double(digits.replacingOccurrences(of: ",", with: ""))
    }

    // MARK: open + first answer

    /// An index of the first `size` records; `kind` is build-index's `--kind` (auto makes 50,000
    /// records and more IVF).
    func index(of size: Int, kind: String = "auto") throws -> String {
        let path = work + "/index-\(size)" + (kind == "auto" ? "" : "-" + kind) + ".ragx"
        if !FileManager.default.fileExists(atPath: path) {
            let stream = try embeddedStream(records: max(size, 200_000))
            try sh("head -n \(size) '\(stream)' | build-index --kind \(kind) --allow-unterminated -o '\(path)'")
        }
        return path
    }

    func openAndQuery(sizes: [Int]) throws {
        let question = "Does vitamin D supplementation reduce the risk of fractures?"
        for size in sizes {
            let path = try index(of: size)
            // Whole process: start, map, embed, search, inflate hits, answer, print.
            var wall: [Double] = []
            var baseline: [Double] = []
            for _ in 0..<7 {
                wall.append(try spawn(binDir + "/query", [path, question]) * 1000)
                baseline.append(try spawn("/bin/true", []) * 1000)
            }
            wall.sort(); baseline.sort()
            // In process: open (header and tables) and the first answer, cold page cache not forced.
            var inProcess: [Double] = []
            var openOnly: [Double] = []
            for _ in 0..<7 {
                let clock = Stopwatch()
                let reader = try IndexReader(path: path)
                openOnly.append(clock.milliseconds)
                let engine = QueryEngine(retriever: try Retriever(index: reader))
                _ = try engine.run(question)
                inProcess.append(clock.milliseconds)
            }
            inProcess.sort(); openOnly.sort()
            record("query open + first answer, \(size / 1000)k chunks",
                   String(format: "%.1f ms process wall (median of 7; spawning /bin/true takes %.1f ms); %.2f ms in process, of which open %.3f ms", wall[3], baseline[3], inProcess[3], openOnly[3]),
                   "target < 20 ms")
        }
    }

    // MARK: flat scan

    func flatScan() throws {
        // Flat fp32 explicitly: auto makes 100k rows IVF, whose vectors are in lists, not VF32.
        let reader = try IndexReader(path: try index(of: 100_000, kind: "flat"))
        let vectors = reader.dense.exact!
        let dim = reader.dimension
        let bytes = Double(vectors.count * 4)
        // Touch everything once so the page cache and mapping are warm.
        var sink: Float = 0
        for i in stride(from: 0, to: vectors.count, by: 1024) { sink += vectors[i] }
        // Reference: a plain SIMD read of the same memory, in the same run.
        var bwBest = Double.infinity
        for _ in 0..<10 {
            let clock = Stopwatch()
            var acc = SIMD16<Float>()
            let raw = UnsafeRawPointer(vectors.baseAddress!)
            var off = 0
            let end = vectors.count * 4
            while off + 64 <= end { acc += raw.loadUnaligned(fromByteOffset: off, as: SIMD16<Float>.self); off += 64 }
            sink += acc.sum()
            bwBest = min(bwBest, clock.seconds)
        }
        let queries = (0..<50).map { i in Array(vectors[(i * 997 % reader.count * dim)..<((i * 997 % reader.count + 1) * dim)]) }
        var best = Double.infinity
        for _ in 0..<3 {
            let clock = Stopwatch()
            for q in queries {
                let top = q.withUnsafeBufferPointer { FlatSearch.search(vectors: vectors, dimension: dim, query: $0, k: 10) }
                sink += top[0].score
            }
            best = min(best, clock.seconds / Double(queries.count))
        }
        let gbps = bytes / best / 1e9
        let bw = bytes / bwBest / 1e9
        record("flat exact scan, 100k × \(dim) fp32, k=10, 1 thread",
               String(format: "%.1f GB/s = %.0f%% of the %.1f GB/s read bandwidth measured in this run (%.0f QPS)", gbps, 100 * gbps / bw, bw, 1 / best),
               "target ≥ 70% of bandwidth")
        if sink == .infinity { note("") }
    }

    func printTable() {
        print("| benchmark | measured | reference / target |")
        print("|---|---|---|")
        for (a, b, c) in rows { print("| \(a) | \(b) | \(c) |") }
    }
}
