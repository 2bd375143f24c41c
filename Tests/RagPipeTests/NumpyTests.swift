import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeIndex

/// `build-index --npy` and `query --npy`: vectors made elsewhere (numpy, FAISS).
@Suite struct NumpyTests {
    static func npy(rows: Int, columns: Int, descr: String = "<f4", values: [Float]? = nil, dropBytes: Int = 0) -> [UInt8] {
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out.append(UInt8(header.utf8.count & 0xFF)); out.append(UInt8(header.utf8.count >> 8))
        out.append(contentsOf: header.utf8)
        var rng = SplitMix(seed: UInt64(rows * 31 + columns))
        let data = values ?? (0..<(rows * columns)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 500 }
        for v in data { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        out.removeLast(dropBytes)
        return out
    }

    @Test func vectorsFromNumpyAreIndexedAndQueried() throws {
        let dir = try TempDir()
        let bytes = Self.npy(rows: 300, columns: 24)
        dir.write("base.npy", bytes: bytes)
        let build = try shell("build-index --npy base.npy -o v.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("300 vectors were not unit length and were normalized"))
        let index = try IndexReader(path: dir.path + "/v.ragx")
        #expect(index.count == 300 && index.dimension == 24 && index.metadata.modelID == "external")
        #expect(try index.record(17).id == "17")

        // Each row as a query finds itself first, with cosine 1; the rest as a brute-force oracle.
        let r = try shell("query --npy base.npy --json -k 5 v.ragx", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 300)
        let matrix = try NumpyMatrix(path: dir.path + "/base.npy")
        func unit(_ i: Int) -> [Float] {
            let v = Array(matrix.values[(i * 24)..<((i + 1) * 24)])
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return v.map { $0 / n }
        }
        for i in [0, 41, 299] {
            let o = try JSONSerialization.jsonObject(with: Data(lines[i].utf8)) as! [String: Any]
            let hits = o["hits"] as! [[String: Any]]
            #expect(hits[0]["row"] as? Int == i)
            #expect(abs((hits[0]["score"] as! Double) - 1) < 1e-5)
            let q = unit(i)
            var scored: [(row: Int, score: Float)] = []
            for j in 0..<300 {
                let v = unit(j)
                var dot: Float = 0
                for t in 0..<24 { dot += q[t] * v[t] }
                scored.append((row: j, score: dot))
            }
            scored.sort { $0.score > $1.score || ($0.score == $1.score && $0.row < $1.row) }
            let oracle: [Int] = scored.prefix(5).map { $0.row }
            let got: [Int] = hits.map { $0["row"] as! Int }
            #expect(got == oracle)
        }
    }

    @Test func badMatricesAreRefusedByName() throws {
        let dir = try TempDir()
        dir.write("f8.npy", bytes: Self.npy(rows: 4, columns: 4, descr: "<f8"))
        dir.write("short.npy", bytes: Self.npy(rows: 4, columns: 4, dropBytes: 3))
        dir.write("nan.npy", bytes: Self.npy(rows: 2, columns: 2, values: [1, 0, .nan, 1]))
        dir.write("ok.npy", bytes: Self.npy(rows: 4, columns: 4))
        dir.write("wide.npy", bytes: Self.npy(rows: 1, columns: 5))
        for (file, fragment) in [("f8.npy", "<f4"), ("short.npy", "bytes of data"), ("nan.npy", "row 1")] {
            let r = try shell("build-index --npy \(file) -o x.ragx", in: dir.path)
            #expect(r.status == 65, "\(file): \(r.stderr)")
            #expect(r.stderr.contains(file) && r.stderr.contains(fragment), "\(r.stderr)")
        }
        #expect(!dir.exists("x.ragx"))
        #expect(try shell("build-index --npy ok.npy -o ok.ragx", in: dir.path).status == 0)
        let wide = try shell("query --npy wide.npy ok.ragx", in: dir.path)
        #expect(wide.status == 83, "\(wide.stderr)")
    }

    /// A regular file is read header first, then straight into the matrix; a pipe is read whole.
    /// Both give the same values, and a file cut short or padded is refused either way.
    @Test func filesAndPipesReadTheSameMatrix() throws {
        let dir = try TempDir()
        let values = (0..<(37 * 5)).map { Float($0) * 0.25 - 3 }
        dir.write("m.npy", bytes: Self.npy(rows: 37, columns: 5, values: values))
        let file = try NumpyMatrix(path: dir.path + "/m.npy")
        #expect(file.rows == 37 && file.columns == 5 && file.values == values)
        let fifo = dir.path + "/fifo.npy"
        #expect(mkfifo(fifo, 0o600) == 0)
        // Opened for writing as a FIFO (createFile would replace it with a file and the read would wait forever).
        let payload = Data(Self.npy(rows: 37, columns: 5, values: values))
        let writer = Thread { if let h = FileHandle(forWritingAtPath: fifo) { h.write(payload); try? h.close() } }
        writer.start()
        let piped = try NumpyMatrix(path: fifo)
        #expect(piped.rows == 37 && piped.columns == 5 && piped.values == values)
        var long = Self.npy(rows: 37, columns: 5, values: values)
        long.append(0)
        dir.write("long.npy", bytes: long)
        dir.write("short.npy", bytes: Self.npy(rows: 37, columns: 5, values: values, dropBytes: 4))
        for name in ["long.npy", "short.npy"] {
            #expect(throws: RagPipeError.self) { try NumpyMatrix(path: dir.path + "/" + name) }
        }
    }
}
