import ArgumentParser
import Foundation
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeAnswering
import RagPipeEvaluation
import RagPipePipeline

/// IVF / code benchmarks: recall@10 against exact search and single-thread QPS per nprobe, build
/// time, file size and open time, on real MiniLM vectors and on 1M synthetic clustered vectors.
extension Bench {
    struct VectorSet {
        var name: String
        var base: [Float]
        var queries: [Float]
        var dimension: Int
        var count: Int { base.count / dimension }
        var queryCount: Int { queries.count / dimension }
        /// An `embed` stream of the base rows (with texts), when the set has one.
        var stream: String?
        var npy: String
    }

    /// SciFact chunked at ≤ 64 WordPiece tokens and embedded with MiniLM (37,300 chunks, cached);
    /// every 37th chunk (1,000) is held out as a query, the rest are indexed.
    func realMiniLMVectors(model: String) throws -> VectorSet {
        try ensureSciFact()
        let dir = work + "/ivf"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let embedded = dir + "/scifact64-minilm.jsonl"
        if !FileManager.default.fileExists(atPath: embedded) {
            note("embedding SciFact at 64-token chunks with MiniLM (once; ~6 min on 2 cores)")
            try sh("chunk --max-tokens 64 --overlap 0 --model '\(model)' '\(scifact)' | embed --model '\(model)' --cache '\(dir)/embed-cache' > '\(embedded).partial' && mv '\(embedded).partial' '\(embedded)'")
        }
        let base = dir + "/real-base.jsonl", queries = dir + "/real-queries.jsonl"
        try sh("awk -v q='\(queries)' -v b='\(base)' '/^\\{.end_of_stream/ { next } NR % 37 == 19 && c < 1000 { print > q; c++; next } { print > b }' '\(embedded)'")
        try sh("build-index --no-bm25 --allow-unterminated -o '\(dir)/real-base-flat.ragx' '\(base)' && build-index --no-bm25 --allow-unterminated -o '\(dir)/real-queries.ragx' '\(queries)'")
        let b = try IndexReader(path: dir + "/real-base-flat.ragx"), q = try IndexReader(path: dir + "/real-queries.ragx")
        var set = VectorSet(name: "SciFact MiniLM", base: Array(b.dense.exact!), queries: Array(q.dense.exact!), dimension: b.dimension,
                            stream: base, npy: dir + "/real-base.npy")
        try writeNumpy(set.base, rows: set.count, columns: set.dimension, to: set.npy)
        try writeNumpy(set.queries, rows: set.queryCount, columns: set.dimension, to: dir + "/real-queries.npy")
        set.name = "SciFact MiniLM, \(grouped(set.count)) × \(set.dimension)"
        return set
    }

    /// `count` unit vectors in 1,000 clusters on a 24-dimensional subspace, plus 1,000 held-out
    /// queries from the same clusters.
    func syntheticVectors(count: Int) throws -> VectorSet {
        let d = 384
        let dir = work + "/ivf"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        note("generating \(grouped(count + 1000)) clustered \(d)-d vectors")
        let all = SyntheticVectors.subspaceClusters(count: count + 1000, dimension: d, clusters: 1_000, seed: 42)
        let set = VectorSet(name: "synthetic clustered, \(grouped(count)) × \(d)", base: Array(all[..<(count * d)]),
                            queries: Array(all[(count * d)...]), dimension: d, stream: nil, npy: dir + "/synthetic-base.npy")
        try writeNumpy(set.base, rows: count, columns: d, to: set.npy)
        try writeNumpy(set.queries, rows: 1000, columns: d, to: dir + "/synthetic-queries.npy")
        return set
    }

    func writeNumpy(_ values: [Float], rows: Int, columns: Int, to path: String) throws {
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var data = Data([0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)])
        data.append(Data(header.utf8))
        values.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// Builds each configuration with the `build-index` CLI and measures it.
    func ivfBenchmark(_ set: VectorSet, configurations: [[String]], nprobes: [Int], faissPython: String?) throws {
        let d = set.dimension
        note("\(set.name): exact top-10 of \(set.queryCount) queries")
        let truth = set.base.withUnsafeBufferPointer { ExactSearch.topK(queries: set.queries, vectors: $0, dimension: d, k: 10) }
            .map { Set($0.map(\.id)) }
        let queries = (0..<set.queryCount).map { Array(set.queries[($0 * d)..<(($0 + 1) * d)]) }

        // Exact references: one query at a time (SIMD scan) and batched (BLAS).
        var clock = Stopwatch()
        var sink: Float = 0
        let sample = queries.prefix(200)
        set.base.withUnsafeBufferPointer { v in
            for q in sample { sink += q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: d, query: $0, k: 10) }[0].score }
        }
        let flatQPS = Double(sample.count) / clock.seconds
        clock.restart()
        _ = set.base.withUnsafeBufferPointer { ExactSearch.topK(queries: set.queries, vectors: $0, dimension: d, k: 10) }
        let batchedQPS = Double(set.queryCount) / clock.seconds
        record("\(set.name): exact flat fp32, k=10", String(format: "%.0f QPS one query at a time (SIMD scan, 1 thread); %.0f QPS batched (BLAS, 2 threads)", flatQPS, batchedQPS),
               "FAISS Flat(IP) at 25k: 434 one at a time, 3,851 batched")

        for arguments in configurations {
            let label = arguments.joined(separator: " ")
            let file = work + "/ivf/bench-" + arguments.joined().replacingOccurrences(of: "-", with: "") + "-\(set.count).ragx"
            let input = set.stream.map { "--no-bm25 --allow-unterminated '\($0)'" } ?? "--npy '\(set.npy)'"
            let built = try sh("build-index \(input) \(label) -o '\(file)'")
            let summary = built.stderr.split(separator: "\n").last.map(String.init) ?? ""
            let index = try IndexReader(path: file)
            let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
            var opens: [Double] = []
            for _ in 0..<7 { let c = Stopwatch(); _ = try IndexReader(path: file); opens.append(c.milliseconds) }
            opens.sort()
            let texts = Self.number(after: "MB → ", in: summary) ?? 0
            let vectorBytes = Double(set.count * d) / 1e6
            record("\(set.name): build-index \(label)",
                   String(format: "build %.2f s (k-means + assignment %.2f s, %d points, %d iterations); file %.1f MB = %.3f × (N·d bytes %.1f MB + compressed texts %.1f MB); open %.3f ms; default nprobe %d, build-time recall@10 %.3f",
                          built.seconds, index.metadata.dense.trainingSeconds ?? 0, index.metadata.dense.trainingPoints, index.metadata.dense.trainingIterations,
                          Double(size) / 1e6, Double(size) / 1e6 / (vectorBytes + texts), vectorBytes, texts, opens[3],
                          index.metadata.dense.nprobe, index.metadata.dense.recallAt10 ?? 0),
                   "FAISS IVF632,SQ8 at 25k: train 1.15 s, file 10.8 MB; target ≤ 1.1× for sq8")
            var line: [String] = []
            let probes = index.dense.kind == .ivf ? (nprobes.filter { $0 <= index.dense.nlist } + [index.metadata.dense.nprobe]) : [0]
            for nprobe in Array(Set(probes)).sorted() {
                var found = 0
                var best = Double.infinity
                for _ in 0..<3 {
                    found = 0
                    let c = Stopwatch()
                    for (i, q) in queries.enumerated() {
                        let hits = try index.dense.search(q, k: 10, nprobe: nprobe == 0 ? nil : nprobe)
                        for h in hits where truth[i].contains(h.id) { found += 1 }
                    }
                    best = min(best, c.seconds)
                }
                let recall = Double(found) / Double(truth.reduce(0) { $0 + $1.count })
                let qps = Double(queries.count) / best
                line.append((nprobe == 0 ? "" : "nprobe \(nprobe)\(nprobe == index.metadata.dense.nprobe ? " (default)" : ""): ") + String(format: "recall %.3f at %.0f QPS", recall, qps))
            }
            record("\(set.name): \(label), held-out queries, k=10, 1 thread, one query at a time", line.joined(separator: "; "),
                   "FAISS IVF632,SQ8 at 25k: nprobe 32 0.871 / 13,684 QPS batched; nprobe 64 0.930 / 7,617 batched, 6,363 one at a time")
            // Open + first query in a fresh process.
            var wall: [Double] = [], baseline: [Double] = []
            let one = work + "/ivf/one-query.npy"
            try writeNumpy(queries[0], rows: 1, columns: d, to: one)
            for _ in 0..<7 {
                wall.append(try spawn(binDir + "/query", ["--npy", one, "-k", "10", file]) * 1000)
                baseline.append(try spawn("/bin/true", []) * 1000)
            }
            wall.sort(); baseline.sort()
            record("\(set.name): \(label), open + first query (fresh process)",
                   String(format: "%.1f ms process wall (median of 7; /bin/true %.1f ms)", wall[3], baseline[3]), "target < 20 ms at 1M")
        }
        if let faissPython {
            let nlist = DenseIndexOptions.defaultNList(count: set.count)
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/bench/faiss_ivf.py"
            let queriesNpy = set.npy.replacingOccurrences(of: "-base.npy", with: "-queries.npy")
            note("FAISS on the same vectors: \(faissPython) \(script)")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: faissPython)
            p.arguments = [script, set.npy, queriesNpy, String(nlist), String(DenseIndexOptions.defaultTrainingPoints(nlist: nlist, count: set.count)),
                           nprobes.map(String.init).joined(separator: ",")]
            let out = Pipe()
            p.standardOutput = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
                if parts.count == 2 { record("\(set.name): FAISS \(parts[0])", parts[1], "measured in this run") }
            }
        }
        if sink == .infinity { note("") }
    }
}
