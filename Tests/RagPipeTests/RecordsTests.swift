import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding

@Suite struct RecordsTests {
    func roundTrip(_ r: ChunkRecord, vector: [Float]? = nil, encoding: RecordCodec.VectorEncoding = .base64) throws
        -> (ChunkRecord, [Float], RecordCodec.VectorInfo)
    {
        var line: [UInt8] = []
        if let vector {
            vector.withUnsafeBufferPointer { RecordCodec.appendLine(r, model: "m", vector: $0, encoding: encoding, to: &line) }
        } else {
            RecordCodec.appendLine(r, to: &line)
        }
        #expect(line.last == 0x0A)
        #expect(!line.dropLast().contains(0x0A), "a record must stay on one line")
        var vectors: [Float] = []
        let (parsed, info) = try line.dropLast().withUnsafeBytes { try RecordCodec.parseLine($0, vectors: &vectors) }
        return (parsed, vectors, info)
    }

    let tricky = ChunkRecord(id: "abc", source: "dir/ü.md", title: "Tab\there \"quoted\" \\ back",
                             headings: ["A", "B — ünïcødé 中文 😀"], text: "line1\nline2\r\n\u{01}ctrl \u{7F} end",
                             start: 3, end: 40, tokens: 12, position: 2)

    @Test func recordSurvivesEscapesAndUnicode() throws {
        let (parsed, vectors, info) = try roundTrip(tricky)
        #expect(parsed == tricky)
        #expect(vectors.isEmpty)
        #expect(info.dimension == 0)
    }

    @Test(arguments: [RecordCodec.VectorEncoding.base64, .array])
    func vectorsRoundTripExactly(encoding: RecordCodec.VectorEncoding) throws {
        for dim in [1, 2, 3, 5, 384] {
            var v: [Float] = []
            for i in 0..<dim {
                let jitter: Float = i % 3 == 0 ? 1e-7 : 0
                v.append(Float(i) * 0.001 - 0.17 + jitter)
            }
            let (parsed, vectors, info) = try roundTrip(tricky, vector: v, encoding: encoding)
            #expect(parsed == tricky)
            #expect(vectors == v, "dim \(dim)")
            #expect(info.dimension == dim)
            #expect(info.model == "m")
        }
    }

    @Test func base64MatchesRFC4648() {
        // 1.0f little-endian is 00 00 80 3F.
        var out: [UInt8] = []
        [Float(1)].withUnsafeBufferPointer { VectorBase64.append($0, to: &out) }
        #expect(String(decoding: out, as: UTF8.self) == "AACAPw==")
        var back: [Float] = []
        let n = Array("AACAPwAAAEA=".utf8).withUnsafeBytes { VectorBase64.decode($0, appendingTo: &back) }
        #expect(n == 2)
        #expect(back == [1, 2])
    }

    @Test func base64RejectsGarbage() {
        for bad in ["AACAP", "AACAPw=!", "AA=APw==", "AAAAAAA="] {
            var out: [Float] = []
            let n = Array(bad.utf8).withUnsafeBytes { VectorBase64.decode($0, appendingTo: &out) }
            #expect(n == nil, "\(bad)")
            #expect(out.isEmpty)
        }
    }

    @Test(arguments: [
        "", "{", "{\"id\":\"a\"}", "{\"text\":\"a\"}", "{\"id\":\"a\",\"text\":\"b\"} x",
        "{\"id\":\"a\",\"text\":\"b\",\"start\":1.5}", "{\"id\":\"a\",\"text\":\"b\\q\"}",
        "{\"id\":\"a\",\"text\":\"\\ud800\"}", "{\"id\":\"a\",\"text\":\"b\",\"vector\":\"AACAPw\"}",
        "{\"id\":\"a\",\"text\":\"b\",\"dim\":2,\"vector\":\"AACAPw==\"}", "[1,2]",
    ])
    func malformedLinesAreRejected(line: String) {
        var vectors: [Float] = []
        #expect(throws: JSONScanError.self) {
            _ = try Array(line.utf8).withUnsafeBytes { try RecordCodec.parseLine($0, vectors: &vectors) }
        }
        #expect(vectors.isEmpty, "a rejected line must not leave floats behind")
    }

    @Test func unknownKeysAndEscapesAreRead() throws {
        let line = #"{"metadata":{"a":[1,{"b":null}],"c":true},"id":"x","text":"caf\u00e9 \ud83d\ude00 \/ \"q\"","extra":-1e5}"#
        var vectors: [Float] = []
        let (r, _) = try Array(line.utf8).withUnsafeBytes { try RecordCodec.parseLine($0, vectors: &vectors) }
        #expect(r.text == "café 😀 / \"q\"")
        #expect(r.end == r.text.utf8.count, "a missing end defaults to the text's length")
    }

    @Test func invalidUTF8InStringsIsRejected() {
        var bytes = Array(#"{"id":"a","text":"x"#.utf8)
        bytes.append(0xFF)
        bytes.append(contentsOf: Array(#""}"#.utf8))
        var vectors: [Float] = []
        #expect(throws: JSONScanError.self) { _ = try bytes.withUnsafeBytes { try RecordCodec.parseLine($0, vectors: &vectors) } }
    }

    @Test func stableIDsDependOnSourceAndSpanOnly() {
        let a = ChunkRecord.stableID(source: "a.md", start: 0, end: 10)
        #expect(a == ChunkRecord.stableID(source: "a.md", start: 0, end: 10))
        #expect(a != ChunkRecord.stableID(source: "a.md", start: 0, end: 11))
        #expect(a != ChunkRecord.stableID(source: "b.md", start: 0, end: 10))
        #expect(a.count == 16)
    }

    @Test func lineReaderHandlesCRLFMissingFinalNewlineAndLongLines() throws {
        let dir = try TempDir()
        let long = String(repeating: "x", count: 3 << 20)
        let path = dir.write("lines.txt", "a\r\nb\n\n\(long)\nlast")
        var lines: [String] = []
        var numbers: [Int] = []
        try LineReader(path: path).forEachLine { line, n in
            lines.append(String(decoding: line, as: UTF8.self)); numbers.append(n)
        }
        #expect(lines == ["a", "b", "", long, "last"])
        #expect(numbers == [1, 2, 3, 4, 5])
    }
}

/// Skipping recurses into arrays and objects; input nested beyond any real file is an error, not
/// a stack overflow (the fuzz targets' first JSON crash: config.json, SQuAD and BEIR files).
@Suite struct JSONNestingTests {
    @Test func deepNestingIsRefusedAtTheLimitNotOverflowingTheStack() throws {
        func skip(_ depth: Int) throws {
            let text = "{\"a\":" + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
            try Array(text.utf8).withUnsafeBytes { raw in
                var s = JSONScanner(raw)
                try s.beginObject()
                while try s.nextKey() != nil { try s.skipValue() }
            }
        }
        try skip(JSONScanner.maximumNesting)           // as deep as allowed
        let error = #expect(throws: JSONScanError.self) { try skip(JSONScanner.maximumNesting + 1) }
        #expect(error?.reason.contains("nested deeper") == true)
        #expect(throws: JSONScanError.self) { try skip(1_000_000) }   // would overflow any stack
        // A model folder's config.json like the fuzzer's: one line of error, no trap.
        let dir = try TempDir()
        dir.write("config.json", "{\"hidden_size\":" + String(repeating: "[", count: 100_000) + "}")
        #expect(throws: RagPipeError.self) { try BertConfig(configFile: dir.path + "/config.json") }
    }
}
