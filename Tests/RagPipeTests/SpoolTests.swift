import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeChunking
@testable import RagPipeIndex
@testable import RagPipePipeline
@testable import RagPipeEvaluation

/// A large build keeps its vectors in a spool file and reads them chunk by chunk; the index it
/// writes must be the one an in-memory build writes, byte for byte outside META's timings.
@Suite struct SpoolTests {
    static let d = 24

    func build(_ dir: TempDir, name: String, options: DenseIndexOptions, spooled: Bool, chunkRows: Int?) throws -> IndexReader {
        let n = 2500
        let vectors = SyntheticVectors.clustered(count: n, dimension: Self.d, clusters: 30, noise: 0.4, seed: 21)
        let builder = IndexBuilder(blockSize: 2048, spoolDirectory: spooled ? dir.path : nil)
        builder.spoolThreshold = 0
        builder.passChunkRows = chunkRows
        for i in 0..<n {
            let r = ChunkRecord(id: "r\(i)", source: "s.md", title: "", headings: [], text: "row \(i)", start: 0, end: 0, tokens: 2, position: i)
            try builder.add(r, vector: Array(vectors[(i * Self.d)..<((i + 1) * Self.d)]), model: "test/spool")
        }
        #expect((builder.spool != nil) == spooled)
        _ = try builder.write(to: dir.path + "/" + name, dense: options)
        return try IndexReader(path: dir.path + "/" + name)
    }

    @Test(arguments: [(IndexKind.ivf, VectorCoding.sq8, false), (.ivf, .fp16, true), (.flat, .sq8, false), (.flat, .fp32, false), (.ivf, .fp32, false),
                      (.ivf, .rabitq, false)])
    func aSpooledBuildWritesTheInMemoryIndex(kind: IndexKind, coding: VectorCoding, rerank: Bool) throws {
        let dir = try TempDir()
        var options = DenseIndexOptions()
        options.kind = kind; options.coding = coding; options.rerank = rerank; options.nlist = 40
        options.tuning = .perturbedRows(count: 200)
        let plain = try build(dir, name: "plain.ragx", options: options, spooled: false, chunkRows: nil)
        // Chunks of 97 rows: every pass crosses many chunk boundaries.
        let spooled = try build(dir, name: "spooled.ragx", options: options, spooled: true, chunkRows: 97)
        for kind in IndexFormat.SectionKind.allCases where kind != .metadata {
            let a = plain.section(kind).map(Array.init), b = spooled.section(kind).map(Array.init)
            #expect(a == b, "\(kind.fourCC) differs")
        }
        #expect(plain.metadata.dense.nprobe == spooled.metadata.dense.nprobe)
        #expect(plain.metadata.dense.recallAt10 == spooled.metadata.dense.recallAt10)
        // The spool was unlinked when made: only the two indexes are left.
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(left == ["plain.ragx", "spooled.ragx"], "\(left)")
    }

    @Test func theSpoolGivesBackWhatWasAppendedAndRefusesAMissingDirectory() throws {
        let dir = try TempDir()
        let spool = try VectorSpool(directory: dir.path)
        let values = (0..<(3 * VectorSpool.bufferFloats / 2)).map { Float($0 % 1000) / 7 }
        try values.withUnsafeBufferPointer { all in
            try spool.append(UnsafeBufferPointer(rebasing: all[..<1000]))
            try spool.append(UnsafeBufferPointer(rebasing: all[1000...]))
        }
        #expect(spool.count == values.count)
        let mapped = try spool.finish()
        #expect(Array(mapped) == values)
        spool.releaseMapping()
        #expect(Array(mapped) == values, "given-back pages read back from the file")
        #expect(throws: RagPipeError.self) { try VectorSpool(directory: dir.path + "/missing") }
    }

    @Test func numpyIsReadABlockAtATime() throws {
        let dir = try TempDir()
        dir.write("m.npy", bytes: NumpyTests.npy(rows: 1000, columns: 7))
        let whole = try NumpyMatrix(path: dir.path + "/m.npy")
        var blocks: [Int] = [], seen: [Float] = [], shape = (0, 0)
        try NumpyMatrix.forEachRowBlock(path: dir.path + "/m.npy", rowsPerBlock: 64) { shape = ($0, $1) } body: {
            blocks.append($0.count / 7); seen += $0
        }
        #expect(shape == (1000, 7) && seen == whole.values)
        #expect(blocks == Array(repeating: 64, count: 15) + [40])
        dir.write("short.npy", bytes: NumpyTests.npy(rows: 100, columns: 7, dropBytes: 5))
        #expect(throws: RagPipeError.self) {
            try NumpyMatrix.forEachRowBlock(path: dir.path + "/short.npy", rowsPerBlock: 64) { _, _ in } body: { _ in }
        }
    }

    @Test func buildIndexFromNumpySpoolsBesideTheOutput() throws {
        let dir = try TempDir()
        dir.write("base.npy", bytes: NumpyTests.npy(rows: 300, columns: 24))
        try FileManager.default.createDirectory(atPath: dir.path + "/out", withIntermediateDirectories: true)
        let r = try shell("build-index --npy base.npy -o out/v.ragx", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out") == ["v.ragx"])
        #expect(OutputTarget.directory(of: "out/v.ragx") == "out" && OutputTarget.directory(of: "v.ragx") == "."
                && OutputTarget.directory(of: "/v.ragx") == "/")
    }
}
