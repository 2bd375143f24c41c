import Foundation
import Testing
@testable import RagPipeFuzzing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeIndex
@testable import RagPipeEvaluation

/// `--codes rabitq`: IVF lists scanned through 1-bit codes, the best candidates re-scored with
/// the lists' sq8 codes (docs/FORMAT.md, "RaBitQ"; docs/bench/rabitq-study.md).
@Suite struct RaBitQCodecTests {
    /// Not a multiple of 64: the codes pad to 448 bits, and the rotation's two Hadamard blocks
    /// (256 components each) overlap.
    static let dim = 400

    /// Rows and held-out queries drawn alike, as `make bench`'s synthetic set: clusters on a
    /// low-dimensional subspace, as text embeddings are. (On near-uniform data, such as
    /// `SyntheticVectors.clustered` with noise 0.35 at this dimension, whose nearest neighbours
    /// score 0.15, the 1-bit estimates' error, about ‖r‖·‖q‖/√D, is as large as the spread of the
    /// scores, and 50 candidates of 4,000 held 0.49 of the true top 10.)
    static func vectors(_ n: Int) -> (rows: [Float], queries: [Float]) {
        let all = SyntheticVectors.subspaceClusters(count: n + 100, dimension: dim, clusters: 40, seed: 31)
        return (Array(all[..<(n * dim)]), Array(all[(n * dim)...]))
    }

    func build(_ dir: TempDir, n: Int = 4000, coding: VectorCoding = .rabitq, kind: IndexKind? = .ivf, nlist: Int? = 40,
               name: String = "rabitq.ragx") throws -> (String, [Float], IndexBuilder.Summary) {
        let d = Self.dim
        let vectors = Self.vectors(n).rows
        let builder = IndexBuilder(blockSize: 4096)
        for i in 0..<n {
            let r = ChunkRecord(id: String(i), source: "s.md", title: "", headings: [], text: "row \(i)", start: 0, end: 0, tokens: 2, position: i)
            try builder.add(r, vector: Array(vectors[(i * d)..<((i + 1) * d)]), model: "test/clustered")
        }
        var o = DenseIndexOptions()
        o.kind = kind; o.coding = coding; o.nlist = nlist
        let path = dir.path + "/" + name
        return (path, vectors, try builder.write(to: path, dense: o))
    }

    func exactTop(_ vectors: [Float], _ q: [Float], k: Int) -> [Int] {
        vectors.withUnsafeBufferPointer { v in q.withUnsafeBufferPointer { FlatSearch.search(vectors: v, dimension: Self.dim, query: $0, k: k) } }.map(\.id)
    }

    func recall(_ index: IndexReader, _ vectors: [Float], queries: [Float], nprobe: Int?) throws -> Double {
        let d = Self.dim, count = queries.count / d
        var hits = 0
        for i in 0..<count {
            let q = Array(queries[(i * d)..<((i + 1) * d)])
            let want = Set(exactTop(vectors, q, k: 10))
            hits += try index.dense.search(q, k: 10, nprobe: nprobe).filter { want.contains($0.id) }.count
        }
        return Double(hits) / Double(10 * count)
    }

    @Test func searchRecallMatchesSQ8OnTheSameLists() throws {
        let dir = try TempDir()
        let (path, vectors, summary) = try build(dir)
        let (sq8Path, _, _) = try build(dir, coding: .sq8, name: "sq8.ragx")
        let index = try IndexReader(path: path), sq8 = try IndexReader(path: sq8Path)
        try index.verify()
        #expect(index.metadata.codes == .rabitq && index.dense.coding == .rabitq && index.metadata.formatVersion == 3)
        #expect(summary.dense.recallAt10! >= 0.9, "build-time recall \(summary.dense.recallAt10!)")
        let queries = Self.vectors(4000).queries
        for nprobe in [4, 40] {
            let r = try recall(index, vectors, queries: queries, nprobe: nprobe)
            let s = try recall(sq8, vectors, queries: queries, nprobe: nprobe)
            // The 1-bit scan only picks the candidates: it may lose a little of sq8's recall.
            #expect(r >= s - 0.03, "nprobe \(nprobe): rabitq \(r), sq8 \(s)")
            if nprobe == 40 { #expect(r >= 0.95, "every list probed: recall \(r)") }
        }
        // Scores are the rows' sq8 scores, the same as the sq8 index on the same lists gives.
        let q = Array(queries[0..<Self.dim])
        let got = try index.dense.search(q, k: 10, nprobe: 40), want = try sq8.dense.search(q, k: 10, nprobe: 40)
        for hit in got {
            let reference = try sq8.dense.similarity(row: hit.id, q)
            #expect(abs(hit.score - reference) < 1e-4, "row \(hit.id): \(hit.score) vs sq8 \(reference)")
        }
        #expect(Set(got.map(\.id)).intersection(want.map(\.id)).count >= 9)
        // A stored vector finds itself, and reconstruction is its sq8 code.
        #expect(try index.dense.search(Array(vectors[0..<Self.dim]), k: 1)[0].id == 0)
        let back = try index.dense.reconstruct(row: 7)
        for j in 0..<Self.dim { #expect(abs(back[j] - vectors[7 * Self.dim + j]) <= 2e-2) }
    }

    @Test func aFlatRaBitQIndexIsRefused() throws {
        let dir = try TempDir()
        #expect(throws: RagPipeError.usage("--codes rabitq needs --kind ivf (or auto)")) { try build(dir, n: 200, kind: .flat, nlist: nil) }
        // `auto` means IVF for rabitq codes, however few the vectors.
        let (path, _, summary) = try build(dir, n: 300, kind: nil, nlist: nil)
        let small = try IndexReader(path: path)
        #expect(summary.kind == .ivf && small.metadata.codes == .rabitq)
        dir.write("v.npy", bytes: NumpyTests.npy(rows: 300, columns: Self.dim,
                                                 values: SyntheticVectors.clustered(count: 300, dimension: Self.dim, clusters: 4, noise: 0.3, seed: 3)))
        let r = try shell("build-index --npy v.npy --kind flat --codes rabitq -o f.ragx", in: dir.path)
        #expect(r.status == 64 && r.stderr.contains("--codes rabitq needs --kind ivf") && !FileManager.default.fileExists(atPath: dir.path + "/f.ragx"),
                "\(r.status) \(r.stderr)")
    }

    @Test func damagedSectionsAreRefusedInOneLine() throws {
        let dir = try TempDir()
        let (path, vectors, _) = try build(dir, n: 1200, nlist: 12)
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let index = try IndexReader(path: path)
        let parameters = index.sections[.rabitqParameters]!.range, codes = index.sections[.rabitqCodes]!.range
        func patched(_ edit: (inout [UInt8]) -> Void) throws -> String { try damagedCopy(of: original, in: dir, edit) }
        /// The section table entry of `kind` (header: table offset at 24, count at 32).
        func entry(_ bytes: [UInt8], _ kind: IndexFormat.SectionKind) -> Int {
            let table = bytes.withUnsafeBytes { Int($0.u64(at: 24)) }, count = bytes.withUnsafeBytes { Int($0.u32(at: 32)) }
            return (0..<count).map { table + 32 * $0 }.first { o in bytes.withUnsafeBytes { $0.u32(at: o) } == kind.rawValue }!
        }
        func refused(_ p: String, _ reason: String) {
            do {
                _ = try IndexReader(path: p)
                Issue.record("\(reason): opened")
            } catch {
                let message = "\(error)"
                #expect(message.contains(reason) && !message.contains("\n"), "\(message)")
                #expect((error as? RagPipeError)?.exitStatus == 80, "\(reason): exit status")
            }
        }
        refused(try patched { put32(&$0, 0, at: parameters.lowerBound + 8) }, "RBQP: 0 rotation rounds")
        refused(try patched { put32(&$0, 64, at: parameters.lowerBound + 12) }, "RBQP: padded dimension 64, expected 448")
        refused(try patched { let e = entry($0, .rabitqCodes); put32(&$0, 0x5858_5858, at: e) }, "missing RBQ1 section")
        refused(try patched { let e = entry($0, .rabitqParameters); put32(&$0, 0x5858_5858, at: e) }, "missing RBQP section")
        refused(try patched { o in
            let e = entry(o, .rabitqCodes)
            let length = o.withUnsafeBytes { $0.u64(at: e + 16) } - 64
            withUnsafeBytes(of: length.littleEndian) { for k in 0..<8 { o[e + 16 + k] = $0[k] } }
        }, "RBQ1 section is \(codes.count - 64) bytes, expected \(codes.count)")
        // Stamped version 2: a version-2 reader could not read the 1-bit lists.
        refused(try patched { $0[8] = 2 }, "META: index kind 'ivf' with 'rabitq' codes is not readable by this version")
        // Garbage bits and factors (NaN, infinities) are not checked on open: search still
        // answers, with sq8 scores of whatever candidates they pick, and never traps.
        let garbage = try patched { o in
            var rng = SplitMix64(seed: 9)
            for i in codes { o[i] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        let damaged = try IndexReader(path: garbage)
        let q = Array(vectors[0..<Self.dim])
        let hits = try damaged.dense.search(q, k: 5, nprobe: 12)
        #expect(hits.count == 5 && hits.allSatisfy { $0.score.isFinite && $0.id >= 0 && $0.id < 1200 })
    }
}
