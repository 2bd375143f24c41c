import Foundation
import Testing
@testable import RagPipeFuzzing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding
@testable import RagPipeIndex

/// Deterministic mutation fuzzing of real index files: every mutated file must give a clean
/// `RagPipeError` or a valid answer, never a crash, hang or out-of-bounds read. Structural
/// mutations re-compute the checksums so they reach the checks behind them.
/// `make fuzz` runs it long (RAGPIPE_FUZZ_ITERATIONS, RAGPIPE_FUZZ_SEED).
@Suite struct IndexFuzzTests {
    static let iterations = Int(ProcessInfo.processInfo.environment["RAGPIPE_FUZZ_ITERATIONS"] ?? "") ?? 3_000
    static let seed = UInt64(ProcessInfo.processInfo.environment["RAGPIPE_FUZZ_SEED"] ?? "") ?? 1

    static func baseIndex(in dir: TempDir, ivf: Bool = false) throws -> [UInt8] {
        let builder = IndexBuilder(blockSize: 1024)
        let embedder = HashEmbedder(dimension: 16)
        for i in 0..<200 {
            let text = "Record \(i) is about topic \(i % 9) and its neighbours \(i % 4)."
            let r = ChunkRecord(id: StableHash.hex(UInt64(i)), source: "doc\(i % 7).md", title: "T", headings: ["H\(i % 3)"],
                                text: text, start: 0, end: text.utf8.count, tokens: 9, position: i % 5)
            try builder.add(r, vector: try embedder.embed(text), model: HashEmbedder.modelName)
        }
        let path = dir.path + "/base.ragx"
        let bm25 = BM25Builder.build(texts: (0..<200).map { "Record \($0) is about topic \($0 % 9) and its neighbours \($0 % 4)." })
        _ = try builder.write(to: path, extraSections: [(.bm25Vocabulary, bm25.vocabulary), (.bm25Postings, bm25.postings),
                                                         (.bm25Lengths, bm25.lengths)],
                              bm25: .init(k1: 0.9, b: 0.4, averageLength: bm25.averageLength), dense: ivf ? ivfOptions : DenseIndexOptions())
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static var ivfOptions: DenseIndexOptions {
        var o = DenseIndexOptions()
        o.kind = .ivf; o.coding = .sq8; o.nlist = 5
        return o
    }

    /// Opens, verifies, searches and reads every hit; returns whether it answered.
    static func exercise(_ path: String) -> Bool {
        do {
            let index = try IndexReader(path: path)
            let q = try HashEmbedder(dimension: index.dimension).embed("topic 3 neighbours")
            let top = try index.dense.search(q, k: 5, nprobe: max(1, index.dense.nlist))
            for hit in top { _ = try index.record(hit.id); _ = try index.dense.similarity(row: hit.id, q) }
            if let bm25 = try BM25Searcher(index: index) {
                for hit in try bm25.search("topic 3 neighbours record", k: 5) { _ = try index.record(hit.id) }
            }
            try index.verify()
            return true
        } catch is RagPipeError {
            return false
        } catch {
            Issue.record("unexpected error type: \(error)")
            return false
        }
    }

    @Test(arguments: [false, true]) func mutatedIndexesFailCleanly(ivf: Bool) throws {
        let dir = try TempDir()
        let base = try Self.baseIndex(in: dir, ivf: ivf)
        let path = dir.path + "/mutated.ragx"
        var rng = SplitMix(seed: Self.seed)
        func random(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
        let tableOffset = base.withUnsafeBytes { Int($0.u64(at: 24)) }
        let sections = base.withUnsafeBytes { Int($0.u32(at: 32)) }
        var answered = 0, refused = 0
        for iteration in 0..<Self.iterations {
            var m = base
            let kind = iteration % 8
            switch kind {
            case 0:                                   // bit flips anywhere, checksums left stale
                for _ in 0...random(8) { m[random(m.count)] ^= UInt8(1 << random(8)) }
            case 1:                                   // truncation
                m.removeLast(1 + random(m.count))
            case 2:                                   // trailing garbage
                m.append(contentsOf: (0..<(1 + random(4096))).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            case 3:                                   // a table offset or length set to an edge value, checksums fixed
                let e = tableOffset + 32 * random(sections) + (random(2) == 0 ? 8 : 16)
                let values: [UInt64] = [0, 1, 63, 64, UInt64(m.count), UInt64(m.count) + 1, UInt64.max, UInt64.max - 7, 1 << 40, rng.next()]
                withUnsafeBytes(of: values[random(values.count)].littleEndian) { for k in 0..<8 { m[e + k] = $0[k] } }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            case 4:                                   // two sections swapped, checksums fixed
                let a = tableOffset + 32 * random(sections), c = tableOffset + 32 * random(sections)
                for k in 0..<4 { m.swapAt(a + k, c + k) }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            case 5:                                   // bytes inside a section changed, checksums fixed
                let e = tableOffset + 32 * random(sections)
                let (offset, length) = m.withUnsafeBytes { (Int($0.u64(at: e + 8)), Int($0.u64(at: e + 16))) }
                for _ in 0...random(4) { m[offset + random(length)] = UInt8(truncatingIfNeeded: rng.next()) }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            case 6:                                   // header fields (size, table offset, count), checksum fixed
                let field = [16, 24, 32, 8][random(4)]
                withUnsafeBytes(of: rng.next() % UInt64(m.count * 2)) { for k in 0..<4 { m[field + k] = $0[k] } }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            case 7 where ivf && random(2) == 0:       // an IVFD list entry field set to an extreme, checksums fixed
                let ivfd = m.withUnsafeBytes { raw -> Int in
                    (0..<sections).map { tableOffset + 32 * $0 }.first { raw.u32(at: $0) == IndexFormat.SectionKind.ivfDirectory.rawValue }
                        .map { Int(raw.u64(at: $0 + 8)) } ?? 0
                }
                let field = ivfd + 16 * random(5) + [0, 4, 8][random(3)]
                let values: [UInt32] = [0, 1, 64, 0xFFFF_FFFF, 1 << 30, UInt32(truncatingIfNeeded: rng.next())]
                withUnsafeBytes(of: values[random(values.count)].littleEndian) { for k in 0..<4 { m[field + k] = $0[k] } }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            default:                                  // a TXTI entry field set to an extreme, checksums fixed
                let txti = m.withUnsafeBytes { raw -> Int in
                    (0..<sections).map { tableOffset + 32 * $0 }.first { raw.u32(at: $0) == IndexFormat.SectionKind.textIndex.rawValue }
                        .map { Int(raw.u64(at: $0 + 8)) } ?? 0
                }
                let blocks = m.withUnsafeBytes { Int($0.u32(at: txti)) }
                let field = txti + 8 + 32 * random(blocks) + [0, 8, 12, 16, 20][random(5)]
                let values: [UInt32] = [0, 1, 0xFFFF_FFFF, 1 << 30, UInt32(truncatingIfNeeded: rng.next())]
                withUnsafeBytes(of: values[random(values.count)].littleEndian) { for k in 0..<4 { m[field + k] = $0[k] } }
                FuzzHarness.mendChecksums(&m, fileSize: false)
            }
            try Data(m).write(to: URL(fileURLWithPath: path))
            if Self.exercise(path) { answered += 1 } else { refused += 1 }
        }
        print("fuzz\(ivf ? " (ivf sq8)" : ""): \(Self.iterations) mutated indexes (seed \(Self.seed)): \(refused) refused with a clean error, \(answered) answered")
        // The real assertion is that the process is still running; this one checks the mutations reach the checks.
        #expect(refused > Self.iterations / 2, "most mutations must be detected")
    }
}
