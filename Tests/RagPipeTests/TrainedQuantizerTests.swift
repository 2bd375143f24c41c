import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeIndex
@testable import RagPipeEvaluation

/// `build-index --train-only` / `--centroids`: the trained quantizer file and builds that use it.
@Suite struct TrainedQuantizerTests {
    static let dim = 32

    func builder(rows: Range<Int>, vectors: [Float], model: String = "test/clustered", dim: Int = TrainedQuantizerTests.dim) throws -> IndexBuilder {
        let builder = IndexBuilder(blockSize: 4096)
        for i in rows {
            let r = ChunkRecord(id: String(i), source: "s.md", title: "", headings: [], text: "row \(i)", start: 0, end: 0, tokens: 2, position: i)
            try builder.add(r, vector: Array(vectors[(i * dim)..<((i + 1) * dim)]), model: model)
        }
        return builder
    }

    func trained(_ coding: VectorCoding, n: Int = 2000) throws -> (TrainedQuantizer, [Float]) {
        let vectors = SyntheticVectors.clustered(count: n, dimension: Self.dim, clusters: 30, noise: 0.35, seed: 5)
        var o = DenseIndexOptions()
        o.kind = .ivf; o.coding = coding; o.nlist = 20
        return (try builder(rows: 0..<n, vectors: vectors).trainQuantizer(dense: o), vectors)
    }

    @Test func fileRoundTripsAndShardsCarryItsFingerprint() throws {
        let dir = try TempDir()
        let (q, vectors) = try trained(.sq8)
        #expect(q.kind == .ivf && q.nlist == 20 && q.nprobe >= 1 && q.nprobe <= 20 && q.halfCentroids.count == 20 * Self.dim)
        #expect(q.parameters.count == 8 * Self.dim, "sq8 ranges are shared")
        let path = dir.path + "/t.ragq"
        try q.write(to: path)
        let read = try TrainedQuantizer(path: path)
        #expect(read.path == path)
        // What is stored reads back as written (the build's informational figures aside).
        #expect(read.fingerprint == q.fingerprint)
        let same = read.serialize() == q.serialize() && read.halfCentroids == q.halfCentroids && read.parameters == q.parameters
        #expect(same)
        // A shard built with it stores its centroids, ranges and nprobe, and names it in META.
        let shard = dir.path + "/s.ragx"
        _ = try builder(rows: 500..<1000, vectors: vectors).write(to: shard, dense: DenseIndexOptions().using(read))
        let index = try IndexReader(path: shard)
        #expect(index.metadata.quantizer == q.fingerprint)
        #expect(index.metadata.dense.nprobe == q.nprobe && index.metadata.dense.nlist == 20 && index.metadata.codes == .sq8)
        #expect(Array(try #require(index.section(.sq8Parameters))) == q.parameters)
        let centroids = try #require(index.section(.ivfCentroids))
        #expect(Array(centroids) == q.halfCentroids.withUnsafeBytes { Array($0) })
    }

    @Test func damagedFilesAreRefusedNamingTheFile() throws {
        let dir = try TempDir()
        let (q, _) = try trained(.fp16, n: 800)
        let good = q.serialize()
        // Every byte of the header and a spread of the body, each flipped: never accepted.
        var positions = Array(0..<32)
        positions += stride(from: 32, to: good.count, by: max(1, good.count / 97)).map { $0 }
        for p in positions {
            var bad = good
            bad[p] ^= 0x10
            let path = dir.write("bad.ragq", bytes: bad)
            #expect(throws: RagPipeError.self, "byte \(p) flipped") { try TrainedQuantizer(path: path) }
        }
        for length in [0, 8, 31, 32, good.count - 1] {
            let path = dir.write("short.ragq", bytes: Array(good[..<length]))
            do { _ = try TrainedQuantizer(path: path); Issue.record("\(length) bytes accepted") } catch let e as RagPipeError {
                #expect(e.description.hasPrefix(path + ": corrupt index: trained quantizer: "), "\(e)")
                #expect(e.exitStatus == 80)
            }
        }
        // A checksummed file whose META lies about the sizes is still refused (the lengths are checked).
        var lying = q
        lying.nlist = 21
        let path = dir.write("lie.ragq", bytes: lying.serialize())
        #expect(throws: RagPipeError.self) { try TrainedQuantizer(path: path) }
    }

    @Test func recordsItWasNotTrainedForAreRefused() throws {
        let (q, vectors) = try trained(.fp32, n: 800)
        let options = DenseIndexOptions().using(q)
        let otherModel = try builder(rows: 0..<100, vectors: vectors, model: "test/other")
        #expect(throws: RagPipeError.modelMismatch("trained quantizer was trained on 'test/clustered' vectors, the records have 'test/other'")) {
            try options.checkTrained(records: otherModel)
        }
        let small = SyntheticVectors.clustered(count: 100, dimension: 16, clusters: 3, noise: 0.3, seed: 1)
        let otherDimension = try builder(rows: 0..<100, vectors: small, dim: 16)
        #expect(throws: RagPipeError.dimensionMismatch("trained quantizer was trained on 32-d vectors, the records have 16")) {
            try options.checkTrained(records: otherDimension)
        }
        let tooFew = try builder(rows: 0..<10, vectors: vectors)
        #expect(throws: RagPipeError.self) { try options.checkTrained(records: tooFew) }
    }
}
