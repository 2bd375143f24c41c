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
/// time, peak RSS, file size and open time, on real MiniLM vectors queried with real questions
/// (sentences of held-out documents, SciFact claims) and on 1M synthetic clustered vectors; FAISS
/// IVF-SQ8 and hnswlib run on the same .npy files in the same run (bench/ann_peers.py).
extension Bench {
    /// Passes over each query set per measured point; QPS is the best pass's.
    static let searchPasses = 5

    struct QuerySet {
        var name: String
        var vectors: [Float]
        var npy: String
        /// The `embed` stream the vectors came from, when there is one (for `--tune-queries`).
        var stream: String?
    }

    struct VectorSet {
        var name: String
        var base: [Float]
        var dimension: Int
        var queries: [QuerySet]
        var count: Int { base.count / dimension }
        /// An `embed` stream of the base rows (with texts), when the set has one.
        var stream: String?
        var npy: String
    }

    /// One `build-index` configuration of the IVF benchmark.
    struct IVFConfiguration {
        var label: String
        var arguments: [String]
        /// Sweep nprobe on the first query set (otherwise the default nprobe alone is measured).
        var sweep = true
        /// Counted in the recall ≥ 0.95 summary against the peers.
        var summary = false
    }

    /// One measured point: a configuration (or peer) at one setting on one query set.
    struct SearchPoint {
        var system: String
        var queries: String
        var parameter: Int
        var recall: Double
        var qps: Double
        var batchedQPS: Double?
    }

    /// The held-out share of SciFact documents: FNV-1a of a fixed salt and the `_id`, 1 in 10.
    static func heldOut(_ id: String) -> Bool {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in ("ragpipe-bench-heldout-1:" + id).utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h % 10 == 0
    }

    /// Sentences of `text`: split after `.`, `!` or `?` followed by white space.
    static func sentences(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        var previousEnds = false
        for c in text {
            if previousEnds && c.isWhitespace {
                out.append(current.trimmingCharacters(in: .whitespaces)); current = ""; previousEnds = false; continue
            }
            current.append(c)
            previousEnds = c == "." || c == "!" || c == "?"
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { out.append(last) }
        return out
    }

    static func jsonLine(id: String, text: String) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: ["_id": id, "title": "", "text": text], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The real-question set (issue 16): the collection is SciFact minus a held-out 10% of its
    /// documents, chunked at ≤ 96 WordPiece tokens without overlap; the queries are 1,000 single
    /// sentences (≥ 6 words) of the held-out documents and the 1,109 SciFact claims, each embedded
    /// alone. All MiniLM, cached under `work/ivf-real`.
    func realQuestionVectors(model: String, sentenceCount: Int = 1_000) throws -> VectorSet {
        try ensureSciFact()
        let dir = work + "/ivf-real"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fm = FileManager.default
        let collection = dir + "/collection.jsonl", sentences = dir + "/sentences.jsonl", claims = dir + "/claims.jsonl"
        if !fm.fileExists(atPath: sentences) || !fm.fileExists(atPath: claims) || !fm.fileExists(atPath: collection) {
            var kept: [String] = [], candidates: [(String, String)] = []
            var held = 0
            for line in try String(contentsOfFile: scifact, encoding: .utf8).split(separator: "\n") {
                guard let doc = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let id = doc["_id"] as? String, let text = doc["text"] as? String else { continue }
                if Self.heldOut(id) {
                    held += 1
                    for (i, s) in Self.sentences(text).enumerated() where s.split(whereSeparator: \.isWhitespace).count >= 6 {
                        candidates.append(("\(id)-s\(i)", s))
                    }
                } else {
                    kept.append(String(line))
                }
            }
            let picked = candidates.count <= sentenceCount ? candidates : (0..<sentenceCount).map { candidates[$0 * candidates.count / sentenceCount] }
            note("real questions: \(grouped(kept.count)) documents indexed, \(held) held out; \(picked.count) of their \(grouped(candidates.count)) sentences (≥ 6 words) as queries")
            try (kept.joined(separator: "\n") + "\n").write(toFile: collection, atomically: true, encoding: .utf8)
            try (picked.map { try Self.jsonLine(id: $0.0, text: $0.1) }.joined(separator: "\n") + "\n").write(toFile: sentences, atomically: true, encoding: .utf8)
            var claimLines: [String] = []
            try sh("gunzip -c '\(data)/scifact/queries.jsonl.gz' > '\(dir)/queries-raw.jsonl'")
            for line in try String(contentsOfFile: dir + "/queries-raw.jsonl", encoding: .utf8).split(separator: "\n") {
                guard let q = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let id = q["_id"] as? String, let text = q["text"] as? String else { continue }
                claimLines.append(try Self.jsonLine(id: "claim-" + id, text: text))
            }
            try (claimLines.joined(separator: "\n") + "\n").write(toFile: claims, atomically: true, encoding: .utf8)
        }
        let cache = dir + "/embed-cache"
        func embedded(_ input: String, chunking: String, what: String) throws -> String {
            let out = input.replacingOccurrences(of: ".jsonl", with: "-minilm.jsonl")
            if !fm.fileExists(atPath: out) {
                note("embedding \(what) with MiniLM (once, cached)")
                try sh("chunk \(chunking) --model '\(model)' '\(input)' | embed --model '\(model)' --cache '\(cache)' > '\(out).partial' && mv '\(out).partial' '\(out)'")
            }
            return out
        }
        let baseStream = try embedded(collection, chunking: "--max-tokens 96 --overlap 0", what: "the collection at 96-token chunks (~7 min on 2 cores)")
        func vectors(_ stream: String, _ name: String) throws -> [Float] {
            let flat = dir + "/\(name)-flat.ragx"
            try sh("build-index --no-bm25 --kind flat --codes fp32 --allow-unterminated -o '\(flat)' '\(stream)'")
            // `exact` points into the reader's mapping: copy it while the reader is alive.
            let reader = try IndexReader(path: flat)
            return withExtendedLifetime(reader) { Array(reader.dense.exact!) }
        }
        let base = try vectors(baseStream, "base")
        let d = 384
        var set = VectorSet(name: "", base: base, dimension: d, queries: [], stream: baseStream, npy: dir + "/base.npy")
        try writeNumpy(base, rows: set.count, columns: d, to: set.npy)
        for (name, file) in [("sentences", sentences), ("claims", claims)] {
            let stream = try embedded(file, chunking: "--no-split", what: "the \(name)")
            let v = try vectors(stream, name)
            let npy = dir + "/\(name).npy"
            try writeNumpy(v, rows: v.count / d, columns: d, to: npy)
            set.queries.append(QuerySet(name: name, vectors: v, npy: npy, stream: stream))
        }
        set.name = "SciFact MiniLM 96-token chunks, \(grouped(set.count)) × \(d)"
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
        let queries = QuerySet(name: "held-out", vectors: Array(all[(count * d)...]), npy: dir + "/synthetic-queries.npy")
        let set = VectorSet(name: "synthetic clustered, \(grouped(count)) × \(d)", base: Array(all[..<(count * d)]), dimension: d,
                            queries: [queries], stream: nil, npy: dir + "/synthetic-base.npy")
        try writeNumpy(set.base, rows: count, columns: d, to: set.npy)
        try writeNumpy(queries.vectors, rows: 1000, columns: d, to: queries.npy)
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

    /// Runs `path args…` (stdout to /dev/null, stderr to a file) and returns its wall time, its
    /// stderr and, with `peakRSS`, its peak resident set, measured through `PeakRSS`'s small
    /// wrapper process (whose start, about a millisecond, the wall time then includes).
    func spawnMeasured(_ path: String, _ args: [String], peakRSS: Bool = false) throws -> (seconds: Double, stderr: String, peakRSS: Int) {
        let errFile = work + "/spawn-stderr.txt", rssFile = work + "/spawn-peak-rss.txt"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 3, rssFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let command = peakRSS ? [me, PeakRSS.flag, path] + args : [path] + args
        let argv = command.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let clock = Stopwatch()
        guard posix_spawn(&pid, command[0], &actions, nil, argv, environ) == 0 else { throw ValidationError("cannot start \(path)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let seconds = clock.seconds
        let text = (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? ""
        guard status == 0 else { throw ValidationError("\(path) \(args.joined(separator: " ")) exited with status \(status): \(text)") }
        let rss = Int(((try? String(contentsOfFile: rssFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        return (seconds, text, rss)
    }

    static func fileSize(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }

    /// The peers' output, parsed (bench/ann_peers.py's `point` and `build` lines).
    struct PeerRun {
        var points: [SearchPoint] = []
        var buildSeconds: [String: Double] = [:]
        var fileBytes: [String: Int] = [:]
    }

    /// Builds each configuration with the `build-index` CLI and measures it; then the peers on the
    /// same .npy files; then the summary rows at recall ≥ 0.95.
    func ivfBenchmark(_ set: VectorSet, configurations: [IVFConfiguration], nprobes: [Int], efs: [Int], annPython: String?,
                      hnswMaxCount: Int, targetRecall: Double = 0.95) throws {
        let d = set.dimension
        var truths: [String: [Set<Int>]] = [:]
        var queryRows: [String: [[Float]]] = [:]
        for q in set.queries {
            note("\(set.name): exact top-10 of \(q.vectors.count / d) \(q.name) queries")
            truths[q.name] = set.base.withUnsafeBufferPointer { ExactSearch.topK(queries: q.vectors, vectors: $0, dimension: d, k: 10) }
                .map { Set($0.map(\.id)) }
            queryRows[q.name] = (0..<(q.vectors.count / d)).map { Array(q.vectors[($0 * d)..<(($0 + 1) * d)]) }
        }
        let sweepSet = set.queries[0].name
        let inputBytes = Self.fileSize(set.stream ?? set.npy)

        // Exact reference: one query at a time (SIMD scan) and batched (BLAS).
        var clock = Stopwatch()
        var sink: Float = 0
        let sample = queryRows[sweepSet]!.prefix(200)
        set.base.withUnsafeBufferPointer { v in
            for q in sample { sink += q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: d, query: $0, k: 10) }[0].score }
        }
        let flatQPS = Double(sample.count) / clock.seconds
        clock.restart()
        _ = set.base.withUnsafeBufferPointer { ExactSearch.topK(queries: set.queries[0].vectors, vectors: $0, dimension: d, k: 10) }
        let batchedQPS = Double(set.queries[0].vectors.count / d) / clock.seconds
        record("\(set.name): exact fp32 search in process, k=10",
               String(format: "%.0f QPS one query at a time (SIMD scan, 1 thread); %.0f QPS batched (BLAS, 2 threads)", flatQPS, batchedQPS),
               "the truth every recall below is measured against")

        var points: [SearchPoint] = []
        var ragpipeBuild: [String: (seconds: Double, rss: Int, file: Int)] = [:]
        for configuration in configurations {
            let label = configuration.label
            let file = work + "/ivf/bench-" + label.filter { $0.isLetter || $0.isNumber } + "-\(set.count).ragx"
            try FileManager.default.createDirectory(atPath: work + "/ivf", withIntermediateDirectories: true)
            let input = set.stream.map { ["--no-bm25", "--allow-unterminated", $0] } ?? ["--npy", set.npy]
            note("\(set.name): build-index \(configuration.arguments.joined(separator: " "))")
            let built = try spawnMeasured(binDir + "/build-index", input + configuration.arguments + ["-o", file], peakRSS: true)
            let summary = built.stderr.split(separator: "\n").last.map(String.init) ?? ""
            note("  " + summary)
            let index = try IndexReader(path: file)
            let size = Self.fileSize(file)
            ragpipeBuild[label] = (built.seconds, built.peakRSS, size)
            var opens: [Double] = []
            for _ in 0..<7 { let c = Stopwatch(); _ = try IndexReader(path: file); opens.append(c.milliseconds) }
            opens.sort()
            let meta = index.metadata.dense
            let isIVF = index.dense.kind == .ivf
            let source = meta.tuning == .suppliedQueries ? "supplied queries (--tune-queries)" : "proxy queries (perturbed rows)"
            let tuning = meta.recallAt10.map { String(format: "default nprobe %d; build-time recall@10 %.3f on %d ", meta.nprobe, $0, meta.tuningQueries) + source }
            record("\(set.name): build-index \(label)",
                   String(format: "build %.2f s (k-means + assignment %.2f s, %d points); peak RSS %.2f GB = %.2f × file, %.2f × input; file %.1f MB (N·d bytes %.1f MB); open %.3f ms",
                          built.seconds, meta.trainingSeconds ?? 0, meta.trainingPoints, Double(built.peakRSS) / 1e9,
                          Double(built.peakRSS) / Double(max(size, 1)), Double(built.peakRSS) / Double(max(inputBytes, 1)),
                          Double(size) / 1e6, Double(set.count * d) / 1e6, opens[3]) + (isIVF ? "; " + (tuning ?? "nprobe \(meta.nprobe) given") : ""),
                   isIVF && set.count >= 1_000_000 ? "target at 1M: peak RSS ≤ 1.5 × file" : "")
            for q in set.queries {
                let sweep = configuration.sweep && q.name == sweepSet && isIVF
                let probes = isIVF ? (sweep ? nprobes.filter { $0 <= index.dense.nlist } + [meta.nprobe] : [meta.nprobe]) : [0]
                var line: [String] = []
                for nprobe in Array(Set(probes)).sorted() {
                    let (recall, qps) = try measure(index, queries: queryRows[q.name]!, truth: truths[q.name]!, nprobe: nprobe)
                    points.append(SearchPoint(system: label, queries: q.name, parameter: nprobe, recall: recall, qps: qps))
                    let name = nprobe == 0 ? "" : "nprobe \(nprobe)\(nprobe == meta.nprobe ? " (default)" : ""): "
                    line.append(name + String(format: "recall %.3f at %.0f QPS", recall, qps))
                }
                let reference: String
                if isIVF, let proxy = meta.recallAt10, let real = points.last(where: { $0.system == label && $0.queries == q.name && $0.parameter == meta.nprobe }) {
                    reference = String(format: "at the default: %.3f here vs %.3f at build time; target ≥ %.2f (within 0.01): ", real.recall, proxy, targetRecall)
                        + (real.recall >= targetRecall - 0.01 ? "met" : "NOT met")
                } else { reference = "" }
                record("\(set.name): \(label), \(q.name) queries (\(grouped(q.vectors.count / d))), k=10, 1 thread, one query at a time", line.joined(separator: "; "), reference)
            }
            // Open + first query in a fresh process.
            var wall: [Double] = [], baseline: [Double] = []
            let one = work + "/ivf/one-query.npy"
            try writeNumpy(queryRows[sweepSet]![0], rows: 1, columns: d, to: one)
            for _ in 0..<7 {
                wall.append(try spawn(binDir + "/query", ["--npy", one, "-k", "10", file]) * 1000)
                baseline.append(try spawn("/bin/true", []) * 1000)
            }
            wall.sort(); baseline.sort()
            record("\(set.name): \(label), open + first query (fresh process)",
                   String(format: "%.1f ms process wall (median of 7; /bin/true %.1f ms)", wall[3], baseline[3]), "target < 20 ms")
        }

        var peers = PeerRun()
        if let annPython {
            peers = try runPeers(set, python: annPython, nprobes: nprobes, efs: efs, hnswMaxCount: hnswMaxCount)
            points += peers.points
        } else {
            record("\(set.name): FAISS and hnswlib", "not run (no --ann-python; `make bench` passes the bench venv's python when it has faiss-cpu and hnswlib)", "")
        }
        summarize(set, configurations: configurations, points: points, peers: peers, ragpipeBuild: ragpipeBuild, sweepSet: sweepSet, targetRecall: targetRecall)
        if sink == .infinity { note("") }
    }

    /// Recall@10 and the best of `passes` passes' QPS, one query at a time, in process (the
    /// peers take the best of as many: on a shared machine a pass of 0.1 s is easily disturbed).
    func measure(_ index: IndexReader, queries: [[Float]], truth: [Set<Int>], nprobe: Int, passes: Int = Bench.searchPasses) throws -> (Double, Double) {
        var found = 0
        var best = Double.infinity
        for _ in 0..<passes {
            found = 0
            let c = Stopwatch()
            for (i, q) in queries.enumerated() {
                let hits = try index.dense.search(q, k: 10, nprobe: nprobe == 0 ? nil : nprobe)
                for h in hits where truth[i].contains(h.id) { found += 1 }
            }
            best = min(best, c.seconds)
        }
        return (Double(found) / Double(truth.reduce(0) { $0 + $1.count }), Double(queries.count) / best)
    }

    func runPeers(_ set: VectorSet, python: String, nprobes: [Int], efs: [Int], hnswMaxCount: Int) throws -> PeerRun {
        let nlist = DenseIndexOptions.defaultNList(count: set.count)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path + "/bench/ann_peers.py"
        note("FAISS and hnswlib on the same vectors: \(python) \(script)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, "--base", set.npy, "--nlist", String(nlist),
                       "--train-points", String(DenseIndexOptions.defaultTrainingPoints(nlist: nlist, count: set.count)),
                       "--nprobes", nprobes.map(String.init).joined(separator: ","), "--efs", efs.map(String.init).joined(separator: ","),
                       "--hnsw-max-count", String(hnswMaxCount), "--repeats", String(Bench.searchPasses)]
        // FAISS and hnswlib build on as many threads as build-index does (every core).
        p.arguments! += ["--build-threads", String(Cores.available), "--hnsw-threads", String(Cores.available)]
        p.arguments! += set.queries.flatMap { ["--queries", "\($0.name)=\($0.npy)"] }
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("\(script) exited with status \(p.terminationStatus)") }
        var run = PeerRun()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch f.first {
            case "row" where f.count == 3: record("\(set.name): \(f[1])", f[2], f[2].hasPrefix("skipped") ? "" : "measured in this run")
            case "point" where f.count == 7:
                run.points.append(SearchPoint(system: f[1], queries: f[2], parameter: Int(f[3]) ?? 0, recall: Double(f[4]) ?? 0,
                                              qps: Double(f[5]) ?? 0, batchedQPS: Double(f[6])))
            case "build" where f.count == 4:
                run.buildSeconds[f[1]] = Double(f[2]); run.fileBytes[f[1]] = Int(f[3])
            default: note("ann_peers.py: \(line)")
            }
        }
        return run
    }

    /// The smallest setting of `system` reaching `recall` on `queries` (the sweep's best QPS there).
    static func smallest(_ points: [SearchPoint], _ system: String, _ queries: String, reaching recall: Double) -> SearchPoint? {
        points.filter { $0.system == system && $0.queries == queries && $0.recall >= recall }.min { $0.parameter < $1.parameter }
    }

    func summarize(_ set: VectorSet, configurations: [IVFConfiguration], points: [SearchPoint], peers: PeerRun,
                   ragpipeBuild: [String: (seconds: Double, rss: Int, file: Int)], sweepSet: String, targetRecall: Double) {
        // The issue's build-time and memory targets are stated for 1M vectors.
        let atScale = set.count >= 1_000_000
        let faiss = Self.smallest(points, "faiss", sweepSet, reaching: targetRecall)
        let hnsw = Self.smallest(points, "hnswlib", sweepSet, reaching: targetRecall)
        func describe(_ p: SearchPoint?, _ parameter: String) -> String {
            guard let p else { return "none reached \(targetRecall) in the sweep" }
            return parameter + String(format: " %d: recall %.3f at %.0f QPS", p.parameter, p.recall, p.qps) + (p.batchedQPS.map { String(format: " (%.0f batched)", $0) } ?? "")
        }
        if !peers.points.isEmpty {
            record("\(set.name): at recall@10 ≥ \(targetRecall) on \(sweepSet) queries, FAISS IVF-SQ8", describe(faiss, "nprobe"), "smallest nprobe of the sweep reaching it")
            if peers.buildSeconds["hnswlib"] != nil {
                record("\(set.name): at recall@10 ≥ \(targetRecall) on \(sweepSet) queries, hnswlib M16", describe(hnsw, "ef"), "smallest ef of the sweep reaching it")
            }
        }
        for configuration in configurations where configuration.summary {
            let ours = Self.smallest(points, configuration.label, sweepSet, reaching: targetRecall)
            var ratios: [String] = []
            if let ours {
                if let hnsw {
                    ratios.append(String(format: "%.2f× hnswlib (target ≥ 1.0×: ", ours.qps / hnsw.qps) + (ours.qps >= hnsw.qps ? "met" : "NOT met")
                                  + String(format: "; %.2f× its batched QPS)", ours.qps / (hnsw.batchedQPS ?? .nan)))
                }
                if let faiss {
                    ratios.append(String(format: "%.2f× FAISS IVF-SQ8 (target ≥ 2×: ", ours.qps / faiss.qps) + (ours.qps >= 2 * faiss.qps ? "met" : "NOT met")
                                  + String(format: "; %.2f× its batched QPS)", ours.qps / (faiss.batchedQPS ?? .nan)))
                }
            }
            record("\(set.name): at recall@10 ≥ \(targetRecall) on \(sweepSet) queries, ragpipe \(configuration.label)", describe(ours, "nprobe"),
                   ratios.isEmpty ? "no peer measured in this run" : ratios.joined(separator: "; "))
            if let b = ragpipeBuild[configuration.label] {
                var build: [String] = []
                if let f = peers.buildSeconds["faiss"] {
                    build.append(String(format: "FAISS train + add %.2f s: ragpipe/FAISS %.2f×", f, b.seconds / f)
                                 + (atScale ? " (target at 1M ≤ 1.0×: " + (b.seconds <= f ? "met" : "NOT met") + ")" : ""))
                }
                if let h = peers.buildSeconds["hnswlib"] { build.append(String(format: "hnswlib add_items %.2f s: %.2f×", h, b.seconds / h)) }
                let rss = Double(b.rss) / Double(max(b.file, 1))
                record("\(set.name): ragpipe \(configuration.label), build against the peers",
                       String(format: "build %.2f s, peak RSS %.2f GB = %.2f × its %.1f MB file", b.seconds, Double(b.rss) / 1e9, rss, Double(b.file) / 1e6)
                        + (peers.fileBytes["faiss"].map { String(format: "; FAISS file %.1f MB", Double($0) / 1e6) } ?? "")
                        + (peers.fileBytes["hnswlib"].map { String(format: "; hnswlib file %.1f MB", Double($0) / 1e6) } ?? ""),
                       (build + (atScale ? ["target at 1M peak RSS ≤ 1.5 × file: " + (rss <= 1.5 ? "met" : "NOT met")] : [])).joined(separator: "; "))
            }
        }
    }
}
