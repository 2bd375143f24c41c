import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeIndex
@testable import RagPipeEvaluation

/// How `build-index` chooses the default nprobe: on the user's questions, or on proxy queries
/// made from the collection's rows.
@Suite struct TuningTests {
    /// Proxies are unit vectors at cosine 0.5…0.9 from their row, moved within the span of the
    /// collection (an isotropic move would leave it), and the same for the same seed.
    @Test func perturbedRowsMoveAlongTheCollectionsOwnSpread() throws {
        let d = 64, n = 2000
        // No isotropic noise: every row lies in a 24-dimensional subspace.
        let rows = SyntheticVectors.subspaceClusters(count: n, dimension: d, latent: 24, clusters: 30, noise: 0, seed: 5)
        let made = try rows.withUnsafeBufferPointer { try PerturbedRows.make(vectors: BuildVectors($0, dimension: d), count: 300, seed: 9) }
        #expect(made.sources.count == 300 && Set(made.sources).count == 300, "distinct source rows")
        let again = try rows.withUnsafeBufferPointer { try PerturbedRows.make(vectors: BuildVectors($0, dimension: d), count: 300, seed: 9) }
        #expect(again.queries == made.queries && again.sources == made.sources)
        let other = try rows.withUnsafeBufferPointer { try PerturbedRows.make(vectors: BuildVectors($0, dimension: d), count: 300, seed: 10) }
        #expect(other.queries != made.queries)

        // An orthonormal basis of the rows' span (Gram–Schmidt in Double).
        var basis: [[Double]] = []
        for i in 0..<400 {
            var v = (0..<d).map { Double(rows[i * d + $0]) }
            for b in basis { let p = zip(v, b).reduce(0) { $0 + $1.0 * $1.1 }; for j in 0..<d { v[j] -= p * b[j] } }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1e-4 { basis.append(v.map { $0 / norm }) }
        }
        #expect(basis.count == 24, "the synthetic rows span their latent subspace: \(basis.count)")
        var cosines: [Double] = []
        for (i, row) in made.sources.enumerated() {
            let q = (0..<d).map { Double(made.queries[i * d + $0]) }
            let x = (0..<d).map { Double(rows[row * d + $0]) }
            let norm = q.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 1) < 1e-4, "unit length: \(norm)")
            cosines.append(zip(q, x).reduce(0) { $0 + $1.0 * $1.1 })
            var residual = q
            for b in basis { let p = zip(q, b).reduce(0) { $0 + $1.0 * $1.1 }; for j in 0..<d { residual[j] -= p * b[j] } }
            let off = residual.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(off < 1e-3, "query \(i) leaves the collection's span by \(off)")
        }
        #expect(cosines.min()! >= 0.5 - 1e-4 && cosines.max()! <= 0.9 + 1e-4)
        // Spread over the whole range, not one level.
        #expect(cosines.filter { $0 < 0.6 }.count > 30 && cosines.filter { $0 > 0.8 }.count > 30)
    }

    func build(_ vectors: [Float], dimension d: Int, options: DenseIndexOptions, in dir: TempDir) throws -> (IndexReader, DenseReport) {
        let builder = IndexBuilder(blockSize: 4096)
        for i in 0..<(vectors.count / d) {
            let r = ChunkRecord(id: String(i), source: "s.md", title: "", headings: [], text: "row \(i)", start: 0, end: 0, tokens: 2, position: i)
            try builder.add(r, vector: Array(vectors[(i * d)..<((i + 1) * d)]), model: "test/subspace")
        }
        let path = dir.path + "/t-\(UUID().uuidString).ragx"
        let summary = try builder.write(to: path, dense: options)
        return (try IndexReader(path: path), summary.dense)
    }

    func recall(_ index: IndexReader, _ vectors: [Float], queries: [Float], dimension d: Int, nprobe: Int?) throws -> Double {
        var found = 0, relevant = 0
        for i in 0..<(queries.count / d) {
            let q = Array(queries[(i * d)..<((i + 1) * d)])
            let want = Set(vectors.withUnsafeBufferPointer { v in q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: d, query: $0, k: 10) } }.map(\.id))
            relevant += want.count
            found += try index.dense.search(q, k: 10, nprobe: nprobe).filter { want.contains($0.id) }.count
        }
        return Double(found) / Double(relevant)
    }

    /// With the user's queries, the stored default is the smallest nprobe that reaches the target
    /// on exactly those queries, and the stored recall is what search then gives.
    @Test func suppliedQueriesChooseTheSmallestNProbeThatReachesTheTarget() throws {
        let dir = try TempDir()
        let d = 48
        let all = SyntheticVectors.subspaceClusters(count: 6400, dimension: d, clusters: 60, seed: 3)
        let vectors = Array(all[..<(6000 * d)]), questions = Array(all[(6000 * d)...])
        var o = DenseIndexOptions()
        o.kind = .ivf; o.coding = .sq8; o.nlist = 80; o.targetRecall = 0.95
        o.tuning = .supplied(vectors: questions, dimension: d, model: "test/subspace")
        let (index, report) = try build(vectors, dimension: d, options: o, in: dir)
        #expect(report.tuning == .suppliedQueries && report.tuningQueries == 400)
        #expect(index.metadata.dense.tuning == .suppliedQueries && index.metadata.dense.tuningQueries == 400)
        let p = report.nprobe
        #expect(p > 1 && p < 80, "tuning chose between the extremes: \(p)")
        let atP = try recall(index, vectors, queries: questions, dimension: d, nprobe: nil)
        #expect(atP >= 0.95 && abs(atP - report.recallAt10!) < 1e-9, "stored \(report.recallAt10!), measured \(atP)")
        let below = try recall(index, vectors, queries: questions, dimension: d, nprobe: p - 1)
        #expect(below < 0.95, "nprobe \(p - 1) already reaches \(below)")

        // The wrong dimension or model is refused, and nothing is written.
        o.tuning = .supplied(vectors: Array(questions[..<(10 * 16)]), dimension: 16, model: "test/subspace")
        #expect(throws: RagPipeError.self) { try build(vectors, dimension: d, options: o, in: dir) }
        o.tuning = .supplied(vectors: questions, dimension: d, model: "other/model")
        #expect(throws: RagPipeError.self) { try build(vectors, dimension: d, options: o, in: dir) }
        #expect(dir.contents("").filter { $0.hasSuffix(".ragx") }.count == 1)
    }

    /// Tuned without the questions, on proxies, the default holds on held-out queries, and the
    /// proxies ask for no fewer lists than the collection's own rows (the old tuning) do.
    @Test func theProxyDefaultHoldsOnHeldOutQueries() throws {
        let dir = try TempDir()
        let d = 48
        let all = SyntheticVectors.subspaceClusters(count: 8500, dimension: d, clusters: 60, spread: 1.2, noise: 0.05, seed: 4)
        let vectors = Array(all[..<(8000 * d)]), held = Array(all[(8000 * d)...])
        var o = DenseIndexOptions()
        o.kind = .ivf; o.coding = .fp32; o.nlist = 100; o.targetRecall = 0.95
        o.tuning = .perturbedRows(count: 400)   // fewer than the default 1,000: a debug build searches slowly
        let (index, report) = try build(vectors, dimension: d, options: o, in: dir)
        #expect(report.tuning == .perturbedRows && report.tuningQueries == 400)
        let heldOut = try recall(index, vectors, queries: held, dimension: d, nprobe: nil)
        #expect(heldOut >= 0.94, "held-out recall \(heldOut) at the proxy-tuned nprobe \(report.nprobe)")
        // Own rows, each left out of its own results as the old tuning did.
        let own = Array(stride(from: 0, to: 8000, by: 16))
        let ownTruth = own.map { i in
            let q = Array(vectors[(i * d)..<((i + 1) * d)])
            return Set(vectors.withUnsafeBufferPointer { v in q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: d, query: $0, k: 11) } }.map(\.id).filter { $0 != i }.prefix(10))
        }
        var p = 0, ownRecall = 0.0
        while ownRecall < 0.95 && p < 100 {
            p += 1
            var found = 0
            for (n, i) in own.enumerated() {
                let q = Array(vectors[(i * d)..<((i + 1) * d)])
                found += try index.dense.search(q, k: 11, nprobe: p).filter { $0.id != i && ownTruth[n].contains($0.id) }.prefix(10).count
            }
            ownRecall = Double(found) / Double(own.count * 10)
        }
        // Synthetic held-out queries are drawn like the rows, so they show no shift: what the
        // proxies guard against is measured on real questions (`make eval`, `make bench`).
        // Here: the proxies are no easier than the rows.
        #expect(p <= report.nprobe, "own rows need nprobe \(p), proxies \(report.nprobe)")
    }
}

extension TuningTests {
    @Test func commandLineTunesOnQueriesFromANumpyMatrixOrAStream() throws {
        let dir = try TempDir()
        let d = 32
        let all = SyntheticVectors.subspaceClusters(count: 3200, dimension: d, clusters: 40, seed: 8)
        dir.write("v.npy", bytes: NumpyTests.npy(rows: 3000, columns: d, values: Array(all[..<(3000 * d)])))
        let questions = Array(all[(3000 * d)...])
        dir.write("q.npy", bytes: NumpyTests.npy(rows: 200, columns: d, values: questions))
        func line(_ i: Int, model: String) -> String {
            "{\"id\":\"q\(i)\",\"text\":\"\",\"model\":\"\(model)\",\"embedding\":[" + (0..<d).map { String(questions[i * d + $0]) }.joined(separator: ",") + "]}"
        }
        let stream = (0..<200).map { line($0, model: "external") }.joined(separator: "\n") + "\n{\"end_of_stream\":{\"version\":1,\"stage\":\"embed\",\"records\":200}}\n"
        dir.write("q.jsonl", stream)

        let fromNumpy = try shell("build-index --npy v.npy --kind ivf --nlist 30 --tune-queries q.npy -o a.ragx", in: dir.path)
        #expect(fromNumpy.status == 0 && fromNumpy.stderr.contains("recall@10") && fromNumpy.stderr.contains("(200 --tune-queries)"), "\(fromNumpy.stderr)")
        let fromStream = try shell("build-index --npy v.npy --kind ivf --nlist 30 --tune-queries q.jsonl -o b.ragx", in: dir.path)
        #expect(fromStream.status == 0 && fromStream.stderr.contains("(200 --tune-queries)"), "\(fromStream.stderr)")
        // The same vectors either way: the same tuning.
        let a = try IndexReader(path: dir.path + "/a.ragx").metadata.dense, b = try IndexReader(path: dir.path + "/b.ragx").metadata.dense
        #expect(a.nprobe == b.nprobe && a.recallAt10 == b.recallAt10)
        let proxy = try shell("build-index --npy v.npy --kind ivf --nlist 30 -o c.ragx", in: dir.path)
        #expect(proxy.stderr.contains("(1,000 proxy queries: perturbed rows)"), "\(proxy.stderr)")
        let meta = try IndexReader(path: dir.path + "/a.ragx").metadata.dense
        #expect(meta.tuning == .suppliedQueries && meta.tuningQueries == 200)

        // Bad question files: one line naming the option and the place, a status below 128, no index.
        dir.write("q16.npy", bytes: NumpyTests.npy(rows: 5, columns: 16, values: Array(questions[..<80])))
        dir.write("other.jsonl", (0..<3).map { line($0, model: "other/model") }.joined(separator: "\n") + "\n")
        dir.write("broken.jsonl", line(0, model: "external") + "\n{\"id\": \n")
        // `embed --lines` output: no id, no end-of-stream line.
        dir.write("lines.jsonl", (0..<200).map { line($0, model: "external").replacingOccurrences(of: "\"id\":\"q\($0)\",", with: "") }.joined(separator: "\n") + "\n")
        let fromLines = try shell("build-index --npy v.npy --kind ivf --nlist 30 --tune-queries lines.jsonl -o l.ragx", in: dir.path)
        #expect(fromLines.status == 0 && fromLines.stderr.contains("(200 --tune-queries)"), "\(fromLines.stderr)")
        // Read once: a pipe serves (process substitution, stdin) for either form.
        for (label, command) in [("pipe", "--tune-queries <(cat q.jsonl)"), ("npy pipe", "--tune-queries <(cat q.npy)"), ("stdin", "--tune-queries - < q.npy")] {
            let r = try shell("build-index --npy v.npy --kind ivf --nlist 30 \(command) -o p.ragx", in: dir.path)
            #expect(r.status == 0 && r.stderr.contains("(200 --tune-queries)"), "\(label): \(r.stderr)")
            let meta = try IndexReader(path: dir.path + "/p.ragx").metadata.dense
            #expect(meta.nprobe == a.nprobe && meta.recallAt10 == a.recallAt10, "\(label)")
        }
        // One question still tunes (with a warning), and finite values too large to square in Float are accepted.
        dir.write("one.jsonl", "{\"model\":\"external\",\"embedding\":[" + (0..<d).map { String(questions[$0] * 1e30) }.joined(separator: ",") + "]}\n")
        let one = try shell("build-index --npy v.npy --kind ivf --nlist 30 --tune-queries one.jsonl -o one.ragx", in: dir.path)
        #expect(one.status == 0 && one.stderr.contains("tuned on 1 question only") && one.stderr.contains("(1 --tune-queries)"), "\(one.stderr)")
        // A zero vector is named by its line, blank lines counted.
        dir.write("zero.jsonl", line(0, model: "external") + "\n\n" + "{\"model\":\"external\",\"embedding\":[" + Array(repeating: "0", count: d).joined(separator: ",") + "]}\n")
        // An end-of-stream line that counts other records than the file has is refused.
        dir.write("miscounted.jsonl", line(0, model: "external") + "\n{\"end_of_stream\":{\"version\":1,\"stage\":\"embed\",\"records\":2}}\n")
        let cases: [(String, Int32, String)] = [
            ("--tune-queries q16.npy", 83, "--tune-queries q16.npy: vectors have 16 values, the index's have 32"),
            ("--tune-queries q.jsonl --model-id mine", 82, "--tune-queries q.jsonl: vectors of model 'external', the records' are 'mine'"),
            ("--tune-queries other.jsonl", 82, "model 'other/model'"),
            ("--tune-queries broken.jsonl", 65, "--tune-queries broken.jsonl:2"),
            ("--tune-queries miscounted.jsonl", 65, "miscounted.jsonl:2"),
            ("--tune-queries zero.jsonl", 65, "--tune-queries zero.jsonl:3: malformed record: vector is zero"),
            ("--tune-queries .", 66, "is a directory"),
            ("--tune-queries missing.jsonl", 66, "missing.jsonl"),
            ("--tune-queries q.npy --nprobe 4", 64, "--tune-queries"),
        ]
        for (options, status, message) in cases {
            let r = try shell("build-index --npy v.npy --kind ivf --nlist 30 \(options) -o bad.ragx", in: dir.path)
            #expect(r.status == status && r.stderr.contains(message), "\(options): status \(r.status), \(r.stderr)")
            // (A usage error is followed by the usage, as for every option.)
            #expect(status == 64 || r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
            #expect(!dir.exists("bad.ragx"))
        }
    }
}

/// `evaluate` reports what IVF loses on the user's own queries.
extension TuningTests {
    @Test func approximateRecallIsTheDefaultSearchAgainstEveryListProbed() throws {
        let dir = try TempDir()
        let d = 32
        let all = SyntheticVectors.subspaceClusters(count: 3300, dimension: d, clusters: 40, seed: 12)
        let vectors = Array(all[..<(3000 * d)])
        let queries = (0..<300).map { Array(all[((3000 + $0) * d)..<((3001 + $0) * d)]) }
        var o = DenseIndexOptions()
        o.kind = .ivf; o.coding = .sq8; o.nlist = 40; o.nprobe = 2
        let (index, _) = try build(vectors, dimension: d, options: o, in: dir)
        let measured = try #require(try ApproximateRecall.measure(index.dense, queries: queries))
        var found = 0
        for q in queries {
            let all = Set(try index.dense.search(q, k: 10, nprobe: 40).map(\.id))
            found += try index.dense.search(q, k: 10, nprobe: 2).filter { all.contains($0.id) }.count
        }
        #expect(measured.recallAt10 == Double(found) / 3000 && measured.nprobe == 2 && measured.nlist == 40 && measured.queries == 300)
        #expect(measured.recallAt10 < 1 && !measured.referenceIsExact, "two of 40 lists miss some neighbours")
        let stored = try #require(try ApproximateRecall.measure(index.dense, queries: queries, built: index.metadata.dense))
        #expect(stored.built?.recallAt10 == index.metadata.dense.recallAt10 && index.metadata.dense.recallAt10 != nil)
        #expect(stored.text.contains("; the build measured \(String(format3: index.metadata.dense.recallAt10!)) against exact search on 1,000 proxy queries: perturbed rows"), "\(stored.text)")
        o.nprobe = 40
        let every = try #require(try ApproximateRecall.measure(try build(vectors, dimension: d, options: o, in: dir).0.dense, queries: queries))
        #expect(every.recallAt10 == 1)
        o.kind = .flat; o.nprobe = nil
        #expect(try ApproximateRecall.measure(try build(vectors, dimension: d, options: o, in: dir).0.dense, queries: queries) == nil)
    }

    @Test func evaluateBEIRPrintsTheIVFRecallOfAnIVFIndex() throws {
        let dir = try TempDir()
        var corpus = "", queries = "", qrels = "query-id\tcorpus-id\tscore\n"
        for i in 0..<120 {
            corpus += "{\"_id\": \"d\(i)\", \"title\": \"Topic \(i % 12)\", \"text\": \"Document \(i) is about topic \(i % 12) and word\(i) with filler \(i % 5).\"}\n"
        }
        for i in 0..<24 {
            queries += "{\"_id\": \"q\(i)\", \"text\": \"topic \(i % 12) word\(i * 5)\"}\n"
            qrels += "q\(i)\td\(i * 5)\t1\n"
        }
        dir.write("corpus.jsonl", corpus); dir.write("queries.jsonl", queries); dir.write("qrels.tsv", qrels)
        let build = try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index --kind ivf --nlist 3 --nprobe 1 -o i.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let r = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense --json", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(lines.count == 2 && lines[0]["configuration"] as? String == "dense")
        let ivf = try #require(lines.last?["ivf"] as? [String: Any])
        #expect(ivf["nprobe"] as? Int == 1 && ivf["nlist"] as? Int == 3 && ivf["queries"] as? Int == 24 && ivf["reference"] as? String == "exact")
        let recall = try #require(ivf["recall@10"] as? Double)
        #expect(recall > 0 && recall <= 1)
        let table = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense", in: dir.path)
        #expect(table.stdout.contains("dense IVF recall@10 ") && table.stdout.contains("(exact search), nprobe 1 of 3 lists, 24 queries"), "\(table.stdout)")
        // A flat index has nothing to report.
        #expect(try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o f.ragx", in: dir.path).status == 0)
        let flat = try shell("evaluate beir f.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense", in: dir.path)
        #expect(flat.status == 0 && !flat.stdout.contains("IVF"), "\(flat.stdout)")
    }
}
