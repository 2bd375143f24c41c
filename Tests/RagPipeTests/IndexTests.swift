import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding
@testable import RagPipeIndex

@Suite struct IndexTests {
    /// Builds an index of `n` random unit vectors with records, returns (path, records, vectors).
    func buildIndex(in dir: TempDir, n: Int, dim: Int = 24, blockSize: Int = 1024) throws -> (String, [ChunkRecord], [[Float]]) {
        var rng = SplitMix(seed: UInt64(n))
        let builder = IndexBuilder(blockSize: blockSize)
        var records: [ChunkRecord] = []
        var vectors: [[Float]] = []
        for i in 0..<n {
            var v = (0..<dim).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            v = v.map { $0 / norm }
            let text = "record \(i) " + String(repeating: "word\(i % 13) ", count: Int(rng.next() % 40))
            let r = ChunkRecord(id: StableHash.hex(UInt64(i)), source: "s\(i % 5).md", title: "T\(i)", headings: ["H", "\(i)"],
                                text: text, start: i, end: i + text.utf8.count, tokens: 3, position: i % 5)
            try builder.add(r, vector: v, model: HashEmbedder.modelName)
            records.append(r)
            vectors.append(v)
        }
        let path = dir.path + "/test.ragx"
        let summary = try builder.write(to: path)
        #expect(summary.count == n)
        return (path, records, vectors)
    }

    @Test func roundTripRecordsAndVectors() throws {
        let dir = try TempDir()
        let (path, records, vectors) = try buildIndex(in: dir, n: 500)
        let index = try IndexReader(path: path)
        try index.verify()
        #expect(index.count == 500)
        #expect(index.dimension == 24)
        #expect(index.metadata.modelID == HashEmbedder.modelName)
        #expect(index.blocks.count > 10, "small blocks exercise the block table")
        for i in [0, 1, 77, 250, 499] {
            #expect(try index.record(i) == records[i])
            #expect(Array(index.dense.exact![(i * 24)..<((i + 1) * 24)]) == vectors[i])
        }
        var rows: [Int] = []
        try index.forEachRecord { row, record in
            rows.append(row)
            #expect(record == records[row])
        }
        #expect(rows == Array(0..<500))
        #expect(dir.contents("").filter { $0.contains(".tmp-") }.isEmpty, "no temporary file left behind")
    }

    @Test func searchMatchesBruteForceOracle() throws {
        let dir = try TempDir()
        let (path, _, vectors) = try buildIndex(in: dir, n: 2000, dim: 37)
        let index = try IndexReader(path: path)
        var rng = SplitMix(seed: 99)
        for _ in 0..<20 {
            let q = (0..<37).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            let got = q.withUnsafeBufferPointer { FlatSearch.search(vectors: index.dense.exact!, dimension: 37, query: $0, k: 10) }
            var scored: [(id: Int, score: Float)] = []
            for (i, v) in vectors.enumerated() {
                let score = q.withUnsafeBufferPointer { qp in
                    v.withUnsafeBufferPointer { vp in VectorMath.dotScalar(qp.baseAddress!, vp.baseAddress!, 37) }
                }
                scored.append((id: i, score: score))
            }
            scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
            let oracle = scored.prefix(10)
            #expect(got.map { $0.id } == oracle.map { $0.id })
            for (g, o) in zip(got, oracle) { #expect(abs(g.score - o.score) < 1e-5) }
        }
    }

    @Test func simdDotMatchesScalarForEveryLength() {
        for n in 0..<100 {
            let a = (0..<n).map { Float($0 % 7) - 3 }, b = (0..<n).map { Float($0 % 5) * 0.5 }
            let fast = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { VectorMath.dot(pa.baseAddress ?? UnsafePointer(bitPattern: 8)!, $0.baseAddress ?? UnsafePointer(bitPattern: 8)!, n) } }
            let slow = a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { VectorMath.dotScalar(pa.baseAddress ?? UnsafePointer(bitPattern: 8)!, $0.baseAddress ?? UnsafePointer(bitPattern: 8)!, n) } }
            #expect(fast == slow, "n = \(n)")
        }
    }

    @Test func topKKeepsTheBestAndBreaksTiesByID() {
        var top = TopK(k: 3)
        for (i, s) in [0.5, 0.9, 0.1, 0.9, 0.7, 0.2].enumerated() { top.push(Float(s), i) }
        #expect(top.sorted().map(\.id) == [1, 3, 4])
    }

    @Test func topKCountsFillsAndChecksItsHeap() {
        var rng = SplitMix(seed: 4)
        for k in [1, 2, 5, 16] {
            var top = TopK(k: k)
            #expect(top.count == 0 && !top.isFull && top.threshold == -.infinity)
            var offered: [(id: Int, score: Float)] = []
            for i in 0..<300 {
                // Few distinct scores, so ties are common.
                let score = Float(rng.next() % 40)
                top.push(score, i)
                offered.append((id: i, score: score))
                #expect(top.count == min(i + 1, k) && top.isFull == (i + 1 >= k))
                #expect(top.checkInvariants(), "k \(k), after \(i + 1)")
            }
            let oracle = offered.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }.prefix(k)
            #expect(top.sorted().map(\.id) == oracle.map(\.id))
            #expect(top.threshold == oracle.last!.score)
        }
        // The check sees a broken heap: a root above its children, more than k, ids and scores apart.
        var top = TopK(k: 3)
        for (i, s) in [0.5, 0.9, 0.7].enumerated() { top.push(Float(s), i) }
        var broken = top
        broken.scores[0] = 2
        #expect(!broken.checkInvariants())
        broken = top
        broken.scores.append(3); broken.ids.append(3)
        #expect(!broken.checkInvariants())
        broken = top
        broken.ids.removeLast()
        #expect(!broken.checkInvariants())
    }

    /// `offer` (every scan's result handler) keeps what pushing each score in turn keeps, stops at
    /// the first id refused when its score would enter, and never asks for the id of a score
    /// that does not enter.
    @Test func offeringARunKeepsWhatPushingEachScoreKeeps() {
        var rng = SplitMix(seed: 9)
        for trial in 0..<200 {
            let k = 1 + Int(rng.next() % 12), n = Int(rng.next() % 300)
            let scores = (0..<n).map { _ in rng.next() % 17 == 0 ? Float.nan : Float(rng.next() % 25) / 4 }
            var pushed = TopK(k: k), offered = TopK(k: k)
            // Two runs, ids continuing across them, as a flat scan offers blocks.
            let split = n / 2
            for i in 0..<n where scores[i] > pushed.threshold || !pushed.isFull { pushed.push(scores[i], 1000 + i) }
            scores.withUnsafeBufferPointer { p in
                offered.offer(p.baseAddress!, count: split, firstID: 1000)
                offered.offer(p.baseAddress! + split, count: n - split, firstID: 1000 + split)
            }
            #expect(offered.sorted().map(\.id) == pushed.sorted().map(\.id), "trial \(trial)")
        }
        struct Refusing: ResultIDs {
            let refused: Int
            func id(at i: Int) -> Int? { i == refused ? nil : i }
        }
        let scores: [Float] = [5, 1, 4, 0, 9, 2]
        var top = TopK(k: 2)
        // Position 3 (score 0) never enters a full top 2 of {5, 4}, so its id is never asked for.
        #expect(scores.withUnsafeBufferPointer { top.offer($0.baseAddress!, count: 6, ids: Refusing(refused: 3)) } == nil)
        #expect(top.sorted().map(\.id) == [4, 0])
        top = TopK(k: 2)
        #expect(scores.withUnsafeBufferPointer { top.offer($0.baseAddress!, count: 6, ids: Refusing(refused: 4)) } == 4)
        top = TopK(k: 4)
        #expect(scores.withUnsafeBufferPointer { top.offer($0.baseAddress!, count: 6, ids: Refusing(refused: 1)) } == 1, "while filling, every id")
    }

    func mutated(_ path: String, _ change: (inout [UInt8]) -> Void) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        change(&bytes)
        let out = path + ".bad"
        try Data(bytes).write(to: URL(fileURLWithPath: out))
        return out
    }

    func expectCorrupt(_ path: String, containing fragment: String, onOpen: Bool = true) {
        do {
            let index = try IndexReader(path: path)
            if onOpen { Issue.record("opened a damaged index"); return }
            try index.verify()
            Issue.record("verify passed on a damaged index")
        } catch let error as RagPipeError {
            #expect(error.description.contains(fragment), "\(error)")
            #expect(error.exitStatus == 80 || error.exitStatus == 81)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func damageIsDetectedWithAClearError() throws {
        let dir = try TempDir()
        let (path, _, _) = try buildIndex(in: dir, n: 300)
        let index = try IndexReader(path: path)
        let texts = index.sections[.textBlocks]!.range
        let vectors = index.sections[.vectorsF32]!.range
        let size = index.file.bytes.count

        expectCorrupt(try mutated(path) { $0.removeLast(100) }, containing: "truncated")
        expectCorrupt(try mutated(path) { $0.removeLast(size - 30) }, containing: "truncated")
        expectCorrupt(try mutated(path) { $0[1] = 0x51 }, containing: "bad magic")
        expectCorrupt(try mutated(path) { $0[20] ^= 1 }, containing: "header checksum")
        expectCorrupt(try mutated(path) { $0[size - 10] ^= 0x40 }, containing: "section table")
        // A flipped byte in the texts: open stays cheap, verify and the record read catch it.
        let flippedText = try mutated(path) { $0[texts.lowerBound + 40] ^= 0x10 }
        expectCorrupt(flippedText, containing: "TXTB", onOpen: false)
        let reopened = try IndexReader(path: flippedText)
        #expect(throws: RagPipeError.self) { for i in 0..<reopened.count { _ = try reopened.record(i) } }
        expectCorrupt(try mutated(path) { $0[vectors.lowerBound + 7] ^= 0x01 }, containing: "VF32", onOpen: false)
    }

    @Test func newerVersionIsRefusedByName() throws {
        let dir = try TempDir()
        let (path, _, _) = try buildIndex(in: dir, n: 10)
        let newer = try mutated(path) { bytes in
            bytes[8] = 4
            let crc = bytes.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
            withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { bytes[60 + k] = $0[k] } }
        }
        #expect(throws: RagPipeError.versionTooNew(path: newer, found: 4, supported: 3)) { _ = try IndexReader(path: newer) }
        // A version-1 file may only hold what version 1 could: flat fp32.
        #expect(try IndexReader(path: path).metadata.formatVersion == 1)
    }

    @Test func badStreamsLeaveNoFile() throws {
        let dir = try TempDir()
        let target = dir.path + "/out.ragx"
        func line(_ dim: Int, model: String = HashEmbedder.modelName, value: Float = 0.5) -> [UInt8] {
            var out: [UInt8] = []
            let r = ChunkRecord(id: "a", source: "s", title: "", headings: [], text: "t", start: 0, end: 1, tokens: 1, position: 0)
            [Float](repeating: value, count: dim).withUnsafeBufferPointer { RecordCodec.appendLine(r, model: model, vector: $0, to: &out) }
            return Array(out.dropLast())
        }
        let cases: [([[UInt8]], Int32)] = [
            ([line(4), line(5)], 83),
            ([line(4), line(4, model: "other")], 82),
            ([line(4), line(4, value: .nan)], 65),
            ([line(4), Array("{\"id\":\"x\"".utf8)], 65),
            ([], 66),
        ]
        for (lines, status) in cases {
            let builder = IndexBuilder()
            do {
                for (i, l) in lines.enumerated() { try l.withUnsafeBytes { try builder.addLine($0, place: "stdin:\(i + 1)") } }
                _ = try builder.write(to: target)
                Issue.record("accepted a bad stream")
            } catch let error as RagPipeError {
                #expect(error.exitStatus == status, "\(error)")
                if !lines.isEmpty { #expect(error.description.contains("stdin:2"), "names the record: \(error)") }
            }
            #expect(!dir.exists("out.ragx"))
        }
    }
}
