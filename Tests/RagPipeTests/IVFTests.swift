import Foundation
import Testing
import CKernels
@testable import RagPipeFuzzing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeIndex
@testable import RagPipeEvaluation

@Suite struct IVFTests {
    static let dim = 32

    /// An index over clustered vectors; records carry their row in the text.
    func build(_ dir: TempDir, n: Int = 3000, options: DenseIndexOptions, name: String = "ivf.ragx", seed: UInt64 = 11) throws -> (String, [Float], IndexBuilder.Summary) {
        let d = Self.dim
        let vectors = SyntheticVectors.clustered(count: n, dimension: d, clusters: 40, noise: 0.35, seed: seed)
        let builder = IndexBuilder(blockSize: 4096)
        for i in 0..<n {
            let r = ChunkRecord(id: String(i), source: "s.md", title: "", headings: [], text: "row \(i)", start: 0, end: 0, tokens: 2, position: i)
            try builder.add(r, vector: Array(vectors[(i * d)..<((i + 1) * d)]), model: "test/clustered")
        }
        let path = dir.path + "/" + name
        let summary = try builder.write(to: path, dense: options)
        return (path, vectors, summary)
    }

    func exactTop(_ vectors: [Float], _ q: [Float], k: Int) -> [(id: Int, score: Float)] {
        vectors.withUnsafeBufferPointer { v in q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: Self.dim, query: $0, k: k) } }
    }

    func options(_ kind: IndexKind, _ coding: VectorCoding, rerank: Bool = false, nlist: Int? = nil) -> DenseIndexOptions {
        var o = DenseIndexOptions()
        o.kind = kind; o.coding = coding; o.rerank = rerank; o.nlist = nlist
        return o
    }

    @Test func probingEveryListIsExactSearch() throws {
        let dir = try TempDir()
        let (path, vectors, summary) = try build(dir, options: options(.ivf, .fp32, nlist: 50))
        #expect(summary.kind == .ivf && summary.dense.nlist == 50)
        let index = try IndexReader(path: path)
        try index.verify()
        #expect(index.dense.kind == .ivf && index.dense.exact == nil, "IVF fp32 keeps its vectors in the lists only")
        let queries = SyntheticVectors.clustered(count: 30, dimension: Self.dim, clusters: 40, noise: 0.35, seed: 11)
        for i in 0..<30 {
            let q = Array(queries[(i * Self.dim)..<((i + 1) * Self.dim)])
            let got = try index.dense.search(q, k: 10, nprobe: 50)
            let want = exactTop(vectors, q, k: 10)
            #expect(got.map(\.id) == want.map(\.id))
            for (g, w) in zip(got, want) { #expect(g.score == w.score) }
            for hit in got { #expect(abs(try index.dense.similarity(row: hit.id, q) - hit.score) < 1e-6) }
        }
        // Asking for every row returns every row once, with its exact score.
        let q = Array(queries[0..<Self.dim])
        let all = try index.dense.search(q, k: 3000, nprobe: 50)
        #expect(all.count == 3000 && Set(all.map(\.id)).count == 3000)
        let sameOrder = all.map(\.id) == exactTop(vectors, q, k: 3000).map(\.id)
        #expect(sameOrder)
    }

    @Test func sq8WithRerankReturnsTheExactOrderAndScores() throws {
        let dir = try TempDir()
        let (path, vectors, _) = try build(dir, options: options(.ivf, .sq8, rerank: true, nlist: 40))
        let index = try IndexReader(path: path)
        #expect(index.dense.reranks)
        var matches = 0
        for i in stride(from: 0, to: 3000, by: 97) {
            let q = Array(vectors[(i * Self.dim)..<((i + 1) * Self.dim)])
            let got = try index.dense.search(q, k: 10, nprobe: 40)
            let want = exactTop(vectors, q, k: 10)
            if got.map(\.id) == want.map(\.id) { matches += 1 }
            for hit in got { #expect(abs(hit.score - (try index.dense.similarity(row: hit.id, q))) < 1e-6, "re-ranked scores are exact") }
        }
        #expect(matches == 31, "every query's top 10 equals exact search when every list is probed")
    }

    @Test func tunedNProbeReachesTheTargetOnHeldOutQueries() throws {
        let dir = try TempDir()
        var o = options(.ivf, .sq8, nlist: 60)
        o.targetRecall = 0.95
        let (path, vectors, summary) = try build(dir, n: 6000, options: o)
        let r = summary.dense
        #expect(r.recallAt10! >= 0.95 && r.nprobe >= 1 && r.nprobe < 60, "tuned: nprobe \(r.nprobe), recall \(r.recallAt10!)")
        #expect(r.listBalance! >= 1 && r.trainingPoints == min(6000, 60 * 64) && r.trainingIterations >= 1)
        let index = try IndexReader(path: path)
        #expect(index.metadata.dense.nprobe == r.nprobe && index.metadata.dense.recallAt10 == (r.recallAt10! * 10_000).rounded() / 10_000)
        // Fresh queries from the same distribution: recall at the stored default stays near the target.
        let queries = SyntheticVectors.clustered(count: 200, dimension: Self.dim, clusters: 40, noise: 0.35, seed: 11 &+ 1000)
        var found = 0
        for i in 0..<200 {
            let q = Array(queries[(i * Self.dim)..<((i + 1) * Self.dim)])
            let want = Set(exactTop(vectors, q, k: 10).map(\.id))
            found += try index.dense.search(q, k: 10).filter { want.contains($0.id) }.count
        }
        #expect(Double(found) / 2000 >= 0.9, "held-out recall \(Double(found) / 2000)")
        // Fewer lists probed finds less: the tuning had something to choose.
        if r.nprobe > 1 {
            var fewer = 0
            for i in 0..<200 {
                let q = Array(queries[(i * Self.dim)..<((i + 1) * Self.dim)])
                let want = Set(exactTop(vectors, q, k: 10).map(\.id))
                fewer += try index.dense.search(q, k: 10, nprobe: 1).filter { want.contains($0.id) }.count
            }
            #expect(fewer < found)
        }
    }

    /// The nprobe tuning chooses is what a reader of the file searches with when not told:
    /// stored in META, handed to the opened index, and used by `search` without `nprobe`.
    /// (The build's own view of the index never needs it: tuning names every nprobe it tries.)
    @Test func theTunedNProbeIsStoredAndIsWhatSearchUses() throws {
        let dir = try TempDir()
        var o = options(.ivf, .sq8, nlist: 60)
        o.targetRecall = 0.9
        let (path, vectors, summary) = try build(dir, n: 6000, options: o)
        let tuned = summary.dense.nprobe
        #expect(tuned > 1 && tuned < 60, "tuning chose between the extremes: \(tuned)")
        let index = try IndexReader(path: path)
        #expect(index.metadata.dense.nprobe == tuned)
        #expect(index.dense.defaultNProbe == tuned)
        var differsFromAll = 0
        for i in stride(from: 0, to: 6000, by: 97) {
            let q = Array(vectors[(i * Self.dim)..<((i + 1) * Self.dim)])
            let byDefault = try index.dense.search(q, k: 10)
            let told = try index.dense.search(q, k: 10, nprobe: tuned)
            #expect(byDefault.map(\.id) == told.map(\.id) && byDefault.map(\.score) == told.map(\.score))
            if try index.dense.search(q, k: 10, nprobe: 60).map(\.id) != byDefault.map(\.id) { differsFromAll += 1 }
        }
        #expect(differsFromAll > 0, "the default is not every list")
        // A fixed --nprobe is stored as given (clamped to nlist), and so is every list when there
        // are too few vectors to tune on.
        o.nprobe = 7
        let fixed = try build(dir, n: 3000, options: o, name: "fixed.ragx")
        #expect(fixed.2.dense.nprobe == 7)
        #expect(try IndexReader(path: fixed.0).dense.defaultNProbe == 7)
        var few = options(.ivf, .fp16, nlist: 3)
        few.nprobe = nil
        let tiny = try build(dir, n: 10, options: few, name: "tiny.ragx")
        #expect(tiny.2.dense.nprobe == 3)
        #expect(try IndexReader(path: tiny.0).dense.defaultNProbe == 3)
    }

    /// nprobe tuning widens one search per query instead of searching afresh at every nprobe
    /// it tries: at each nprobe the hits must be the fresh search's, in order and score.
    @Test(arguments: [(VectorCoding.sq8, false), (.sq8, true), (.fp16, false), (.fp32, false)])
    func wideningASearchGivesTheFreshSearchAtEveryNProbe(coding: VectorCoding, rerank: Bool) throws {
        let dir = try TempDir()
        let (path, _, _) = try build(dir, options: options(.ivf, coding, rerank: rerank, nlist: 150))
        let index = try IndexReader(path: path)
        #expect(index.dense.reranks == rerank)
        #expect(index.dense.widens, "IVF lists of every coding are tuned by widening")
        let queries = SyntheticVectors.clustered(count: 12, dimension: Self.dim, clusters: 40, noise: 0.35, seed: 5)
        for i in 0..<12 {
            let q = Array(queries[(i * Self.dim)..<((i + 1) * Self.dim)])
            var widening = index.dense.wideningSearch(q, k: 20)
            // Steps of 1 and jumps past the first ranking's 64 lists (the ranking is extended).
            for p in [1, 2, 3, 7, 8, 20, 33, 64, 65, 129, 149, 150, 150] {
                try index.dense.widen(&widening, to: p)
                let fresh = try index.dense.search(q, k: 20, nprobe: p)
                let widened = index.dense.hits(of: widening)
                #expect(widened.map(\.id) == fresh.map(\.id), "query \(i), nprobe \(p)")
                #expect(widened.map(\.score) == fresh.map(\.score), "query \(i), nprobe \(p)")
            }
            #expect(widening.probed == 150)
        }
    }

    @Test func anEmptyListTakesHalfOfTheLargest() {
        let d = 4
        var centroids: [Float] = [0, 0, 0, 1,  0.6, 0.8, 0, 0,  1, 0, 0, 0]
        var sizes = [0, 10, 3]
        #expect(KMeans.splitEmptyClusters(&centroids, sizes: &sizes, dimension: d) == 1)
        #expect(sizes == [5, 5, 3])
        let empty = Array(centroids[0..<4]), big = Array(centroids[4..<8])
        #expect(empty != big, "the two copies are nudged apart")
        for c in [empty, big] {
            #expect(abs(c.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5, "unit length")
            #expect(c[0] * 0.6 + c[1] * 0.8 > 0.999, "both stay next to the split centroid")
        }
        // Duplicated points leave lists empty; training still fills every list it can.
        let points = [Float](repeating: 0.5, count: 40 * d) + SyntheticVectors.clustered(count: 60, dimension: d, clusters: 3, noise: 0.3, seed: 9)
        let training = points.withUnsafeBufferPointer { KMeans.train(points: $0, dimension: d, clusters: 8, iterations: 10, seed: 3) }
        #expect(training.splits > 0)
        let labels = points.withUnsafeBufferPointer { KMeans.assign(points: $0, dimension: d, centroids: training.centroids).labels }
        #expect(Set(labels).count >= 6, "\(Set(labels).count) lists in use")
    }

    /// The bounds spare full scorings but must not change a single label: the bounded training
    /// ends with the centroids of plain Lloyd iterations, on data with small, wandering lists.
    @Test func boundedKMeansIsLloydsAlgorithm() {
        let d = 24, k = 150
        let points = SyntheticVectors.clustered(count: 6000, dimension: d, clusters: 60, noise: 0.45, seed: 5)
        points.withUnsafeBufferPointer { p in
            let plain = KMeans.train(points: p, dimension: d, clusters: k, iterations: 15, seed: 2, bounded: false)
            let bounded = KMeans.train(points: p, dimension: d, clusters: k, iterations: 15, seed: 2)
            #expect(plain.fullScorings == 6000 * plain.iterations)
            #expect(bounded.iterations == plain.iterations && bounded.splits == plain.splits)
            let differing = zip(bounded.centroids, plain.centroids).filter { $0 != $1 }.count
            #expect(differing == 0, "\(differing) centroid components differ: the same labels at every iteration give the same centroids")
            #expect(bounded.fullScorings < plain.fullScorings * 3 / 4, "\(bounded.fullScorings) of \(plain.fullScorings) full scorings")
            // The candidates hold each point's best centroids: restricted to them, every point
            // finds the label a full scoring gives.
            var bounds = CandidateBounds(points: 6000, clusters: k)
            let full = KMeans.assign(points: p, dimension: d, centroids: plain.centroids, bounds: &bounds, previous: [Int32](repeating: 0, count: 6000), full: true)
            #expect(full == KMeans.assign(points: p, dimension: d, centroids: plain.centroids).labels)
            #expect(bounds.fullScorings == 6000)
            let again = KMeans.assign(points: p, dimension: d, centroids: plain.centroids, bounds: &bounds, previous: full, full: false)
            #expect(again == full && bounds.fullScorings == 6000, "unmoved centroids settle every point by its bound")
        }
    }

    /// The final assignment settles the training rows from their k-means bounds and scores the
    /// others: every row must get the list a full scoring against the stored centroids gives.
    @Test func assigningWithTheTrainingBoundsIsAFullAssignment() throws {
        let d = Self.dim, n = 6000
        let vectors = SyntheticVectors.clustered(count: n, dimension: d, clusters: 40, noise: 0.35, seed: 3)
        for (points, chunkRows) in [(2500, 700), (6000, 6000), (6000, 999)] {
            var options = DenseIndexOptions()
            options.trainingPoints = points
            var report = DenseReport()
            let result = try vectors.withUnsafeBufferPointer { all in
                try IVFTraining.run(vectors: BuildVectors(all, dimension: d, chunkRows: chunkRows), nlist: 100, options: options,
                                    report: &report, status: { _ in })
            }
            var stored = [Float](repeating: 0, count: result.halfCentroids.count)
            rp_f16_to_f32(result.halfCentroids, &stored, stored.count)
            let full = vectors.withUnsafeBufferPointer { KMeans.assign(points: $0, dimension: d, centroids: stored).labels }
            #expect(report.trainingPoints == points)
            let differ = zip(result.labels, full).filter { $0 != $1 }.count
            #expect(differ == 0, "\(differ) of \(n) rows in another list (\(points) training points, chunks of \(chunkRows))")
        }
    }

    @Test func topIndicesKeepsTheLargestAndTheLowerOfTies() {
        let values: [Float] = [0.5, 0.9, -1, 0.9, .nan, 0.7, 0.1, 0.9]
        var out = [Int32](repeating: -1, count: 3)
        rp_top_indices(values, values.count, 3, &out)
        #expect(out == [1, 3, 7])
        out = [Int32](repeating: -1, count: 4)
        rp_top_indices(values, values.count, 4, &out)
        #expect(out == [1, 3, 5, 7])
        // An oracle on random values: the kept set is the sorted order's first l.
        var rng = SplitMix64(seed: 4)
        for _ in 0..<50 {
            let n = Int.random(in: 1...300, using: &rng), l = Int.random(in: 1...min(n, 40), using: &rng)
            let v = (0..<n).map { _ in Float(Int.random(in: 0..<50, using: &rng)) }
            var got = [Int32](repeating: -1, count: l)
            rp_top_indices(v, n, l, &got)
            let want = v.indices.sorted { v[$0] > v[$1] || (v[$0] == v[$1] && $0 < $1) }.prefix(l).sorted().map { Int32($0) }
            #expect(got == want)
        }
    }

    @Test func buildsAreDeterministic() throws {
        let dir = try TempDir()
        let (a, _, _) = try build(dir, options: options(.ivf, .fp16, nlist: 30), name: "a.ragx")
        let (b, _, _) = try build(dir, options: options(.ivf, .fp16, nlist: 30), name: "b.ragx")
        let bytesA = try Data(contentsOf: URL(fileURLWithPath: a)), bytesB = try Data(contentsOf: URL(fileURLWithPath: b))
        // META records the training time; everything else must be identical.
        let ra = try IndexReader(path: a), rb = try IndexReader(path: b)
        #expect(bytesA.count == bytesB.count)
        for kind in [IndexFormat.SectionKind.ivfCentroids, .ivfDirectory, .ivfLists, .ivfRowPositions] {
            #expect(Array(ra.section(kind)!) == Array(rb.section(kind)!), "\(kind.fourCC)")
        }
    }

    @Test func everyKindAndCodingRoundTripsThroughTheFile() throws {
        let dir = try TempDir()
        for kind in IndexKind.allCases {
            for coding in VectorCoding.allCases where !(kind == .flat && coding == .rabitq) {
                for rerank in coding == .fp32 ? [false] : [false, true] {
                    let name = "\(kind)-\(coding)-\(rerank).ragx"
                    let (path, vectors, summary) = try build(dir, n: 1500, options: options(kind, coding, rerank: rerank, nlist: kind == .ivf ? 20 : nil), name: name)
                    let index = try IndexReader(path: path)
                    try index.verify()
                    #expect(index.metadata.kind == kind && index.metadata.codes == coding && index.dense.reranks == rerank)
                    let version = try Data(contentsOf: URL(fileURLWithPath: path)).withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt32.self) }
                    #expect(version == (coding == .rabitq ? 3 : kind == .flat && coding == .fp32 ? 1 : 2), "\(name): lowest version that describes it")
                    if kind == .flat && coding == .fp32 { #expect(summary.dense.recallAt10 == nil) }
                    else { #expect(summary.dense.recallAt10! >= 0.9, "\(name): recall \(summary.dense.recallAt10!)") }
                    // A row's reconstruction is its vector up to the coding's precision.
                    let tolerance: Float = coding == .fp32 || rerank ? 0 : (coding == .fp16 ? 1e-3 : 2e-2)   // rabitq: its lists' sq8 codes
                    for row in [0, 7, 1499] {
                        let back = try index.dense.reconstruct(row: row)
                        for j in 0..<Self.dim { #expect(abs(back[j] - vectors[row * Self.dim + j]) <= tolerance, "\(name) row \(row)") }
                    }
                    let q = Array(vectors[0..<Self.dim])
                    #expect(try index.dense.search(q, k: 1)[0].id == 0, "\(name): a stored vector finds itself")
                }
            }
        }
    }

    @Test func damagedListsAreRefusedCleanly() throws {
        let dir = try TempDir()
        let (path, vectors, _) = try build(dir, n: 1200, options: options(.ivf, .sq8, nlist: 12))
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let index = try IndexReader(path: path)
        let directory = index.sections[.ivfDirectory]!.range, lists = index.sections[.ivfLists]!.range
        let positions = index.sections[.ivfRowPositions]!.range
        func patched(_ edit: (inout [UInt8]) -> Void) throws -> String { try damagedCopy(of: original, in: dir, edit) }
        // A list offset beyond the section.
        var p = try patched { put32(&$0, UInt32(lists.count + 64), at: directory.lowerBound) }
        #expect(throws: RagPipeError.self) { try IndexReader(path: p) }
        // A list claiming more rows than the index holds.
        p = try patched { put32(&$0, 5000, at: directory.lowerBound + 8) }
        #expect(throws: RagPipeError.self) { try IndexReader(path: p) }
        // A row id inside a list beyond the row count: found when the list is scanned.
        let listOffsets = (0..<12).map { Int(IVFListEntry(parsing: index.section(.ivfDirectory)!, at: $0 * IVFListEntry.size).offset) }
        p = try patched { for l in 0..<12 { put32(&$0, 99_999, at: lists.lowerBound + listOffsets[l]) } }
        let damaged = try IndexReader(path: p)
        let q = Array(vectors[0..<Self.dim])
        #expect(throws: RagPipeError.self) { try damaged.dense.search(q, k: 5, nprobe: 12) }
        // A row position pointing at another row's entry.
        p = try patched { put32(&$0, 3, at: positions.lowerBound) ; put32(&$0, 3, at: positions.lowerBound + 4) }
        let swapped = try IndexReader(path: p)
        var refused = 0
        for row in 0..<2 { do { _ = try swapped.dense.reconstruct(row: row) } catch is RagPipeError { refused += 1 } }
        #expect(refused >= 1)
        // A file stamped version 1 cannot hold lists: version-1 readers would misread it.
        p = try patched { $0[8] = 1 }
        #expect(throws: RagPipeError.corruptIndex(path: p, reason: "META: index kind 'ivf' with 'sq8' codes is not readable by this version")) {
            try IndexReader(path: p)
        }
    }

    @Test func commandLineBuildsAndQueriesIVF() throws {
        let dir = try TempDir()
        let d = Self.dim
        let vectors = SyntheticVectors.clustered(count: 2000, dimension: d, clusters: 40, noise: 0.35, seed: 21)
        dir.write("v.npy", bytes: NumpyTests.npy(rows: 2000, columns: d, values: vectors))
        let build = try shell("build-index --npy v.npy --kind ivf --codes sq8 --rerank --nlist 20 -o ivf.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("ivf sq8 + fp32 re-rank, 20 lists") && build.stderr.contains("default nprobe")
                && build.stderr.contains("recall@10"), "\(build.stderr)")
        let r = try shell("query --npy v.npy --json -k 3 --nprobe 20 ivf.ragx", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 2000)
        var selfFirst = 0
        for line in lines {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let hits = o["hits"] as! [[String: Any]]
            if hits.count == 3, abs((hits[0]["score"] as! Double) - 1) < 1e-5 { selfFirst += 1 }
        }
        #expect(selfFirst == 2000, "every row finds itself with cosine 1 (re-ranked)")

        let bad = try shell("build-index --npy v.npy --codes fp32 --rerank -o x.ragx; echo \"status $?\"", in: dir.path)
        #expect(bad.stdout.contains("status 64") && bad.stderr.contains("--rerank needs"), "\(bad.stderr)")
        #expect(!dir.exists("x.ragx"))
        let badProbe = try shell("query --npy v.npy --nprobe 0 ivf.ragx", in: dir.path)
        #expect(badProbe.status == 64)
        let tooMany = try shell("build-index --npy v.npy --kind ivf --nlist 5000 -o x.ragx", in: dir.path)
        #expect(tooMany.status == 64 && tooMany.stderr.contains("--nlist 5000"), "\(tooMany.stderr)")

        // Text through the whole pipeline: an IVF fp32 index probed fully answers as the flat one does.
        for i in 0..<40 {
            dir.write("corpus/doc\(i).md", "# Topic \(i)\n\nThe secret word of document \(i) is zebra\(i)quartz. " + String(repeating: "Filler sentence \(i % 7). ", count: 5))
        }
        let text = try shell("""
            chunk --counter upper-bound corpus | embed --embedder hash > e.jsonl && build-index --kind ivf --nlist 4 -o t.ragx e.jsonl \
            && build-index -o f.ragx e.jsonl && query --json --mode hybrid --nprobe 4 t.ragx 'zebra17quartz' > ivf.json \
            && query --json --mode hybrid f.ragx 'zebra17quartz' > flat.json
            """, in: dir.path)
        #expect(text.status == 0, "\(text.stderr)")
        func hits(_ name: String) throws -> [String] {
            let o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + name))) as! [String: Any]
            return (o["hits"] as! [[String: Any]]).map { $0["source"] as! String }
        }
        #expect(try hits("ivf.json") == hits("flat.json"))
        let top = try hits("ivf.json")[0]
        #expect(top.hasSuffix("doc17.md"), "\(top)")
    }
}
