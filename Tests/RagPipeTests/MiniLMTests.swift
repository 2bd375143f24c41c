import Foundation
import Testing
@testable import RagPipe

/// The model folder `make model` fetches; tests that need it are skipped with a note when absent.
let modelDirectory: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.appendingPathComponent("models/all-MiniLM-L6-v2").path
}()

let modelAvailable = FileManager.default.fileExists(atPath: modelDirectory + "/model.safetensors")

struct Golden {
    var texts: [String] = []
    var ids: [[Int32]] = []
    var untruncated: [Int] = []
    var vectors: [[Float]] = []

    static let shared: Golden = try! Golden.load()

    static func load() throws -> Golden {
        var g = Golden()
        let dir = sharedDirectory + "/golden/minilm"
        let texts = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/texts.jsonl"))
            .split(separator: 0x0A).map { Data($0) }.reduce(into: Data("[".utf8)) { acc, line in
                if acc.count > 1 { acc.append(UInt8(ascii: ",")) }; acc.append(line) } + Data("]".utf8)) as! [[String: Any]]
        g.texts = texts.sorted { ($0["i"] as! Int) < ($1["i"] as! Int) }.map { $0["text"] as! String }
        for line in try String(contentsOfFile: dir + "/token_ids.jsonl", encoding: .utf8).split(separator: "\n") {
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            g.ids.append((o["ids"] as! [Int]).map { Int32($0) })
            g.untruncated.append(o["n_ids_untruncated"] as! Int)
        }
        let emb = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/embeddings.json"))) as! [String: Any]
        for row in emb["rows"] as! [[String: Any]] {
            g.vectors.append((row["vector"] as! [NSNumber]).map { $0.floatValue })
        }
        return g
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMTokenizerTests {
    @Test func tokenIDsMatchSentenceTransformers() throws {
        let tokenizer = try WordPieceTokenizer(vocabFile: modelDirectory + "/vocab.txt")
        let golden = Golden.shared
        #expect(golden.texts.count == 20)
        for (i, text) in golden.texts.enumerated() {
            let (ids, full) = tokenizer.encode(text, maxLength: 256)
            #expect(ids == golden.ids[i], "text \(i): \(text.prefix(60))")
            #expect(full == golden.untruncated[i], "text \(i) untruncated length")
        }
    }

    @Test func counterAgreesWithEncodeAndIsAdditiveOverWhitespace() throws {
        let tokenizer = try WordPieceTokenizer(vocabFile: modelDirectory + "/vocab.txt")
        let counter = WordPieceTokenCounter(tokenizer: tokenizer)
        for text in Golden.shared.texts {
            #expect(counter.count(text: text) == tokenizer.encode(text, maxLength: 1 << 20).ids.count)
        }
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMEmbeddingTests {
    static let embedder: MiniLMEmbedder = try! MiniLMEmbedder(directory: modelDirectory)

    func check(_ vectors: [Float], rows: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
        let golden = Golden.shared
        for (k, i) in rows.enumerated() {
            let v = Array(vectors[(k * 384)..<((k + 1) * 384)])
            let g = golden.vectors[i]
            let maxDelta = zip(v, g).map { abs($0 - $1) }.max()!
            let cosine = zip(v, g).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(maxDelta <= 1e-5, "text \(i): max |Δ| \(maxDelta)", sourceLocation: sourceLocation)
            #expect(cosine >= 0.99999, "text \(i): cosine \(cosine)", sourceLocation: sourceLocation)
        }
    }

    func embed(_ rows: [Int], threads: Int = 1) throws -> [Float] {
        let e = Self.embedder
        e.threads = threads
        defer { e.threads = 1 }
        var out = [Float](repeating: .nan, count: rows.count * 384)
        try out.withUnsafeMutableBufferPointer { _ = try e.embed(rows.map { Golden.shared.texts[$0] }, into: $0) }
        return out
    }

    @Test func modelCardExampleValues() throws {
        let v = try embed([0])
        #expect(abs(v[0] - 0.0676569) < 1e-6)
        #expect(abs(v[1] - 0.0634959) < 1e-6)
        #expect(abs(v[2] - 0.0487131) < 1e-6)
    }

    @Test func everyGoldenTextAloneMatches() throws {
        for i in 0..<20 { check(try embed([i]), rows: [i]) }
    }

    @Test func mixedBatchesAndThreadsMatch() throws {
        let all = Array(0..<20)
        check(try embed(all), rows: all)
        let shuffled = [19, 4, 0, 7, 18, 2, 11, 5, 13, 1]
        check(try embed(shuffled, threads: 2), rows: shuffled)
        check(try embed(all.reversed(), threads: 2), rows: all.reversed())
    }

    @Test func truncationIsReported() throws {
        var out = [Float](repeating: 0, count: 3 * 384)
        let n = try out.withUnsafeMutableBufferPointer {
            try Self.embedder.embed([Golden.shared.texts[18], "short", Golden.shared.texts[19]], into: $0)
        }
        #expect(n == 2, "texts 18 and 19 exceed 256 tokens")
    }
}

@Suite struct AccentStrippingTests {
    /// Expected values from Python: NFD, drop category Mn, lowercase.
    @Test func matchesNFDWithoutNonspacingMarks() throws {
        let tokenizer = try WordPieceTokenizer(pieces: ["[CLS]", "[SEP]", "[UNK]", "[PAD]"].map { Array($0.utf8) }, source: "test")
        #expect(tokenizer.normalize("한국어 Ǻngström ṩ").unicodeScalars.map(\.value) ==
            [0x1112, 0x1161, 0x11AB, 0x1100, 0x116E, 0x11A8, 0x110B, 0x1165, 0x20,
             0x61, 0x6E, 0x67, 0x73, 0x74, 0x72, 0x6F, 0x6D, 0x20, 0x73])
        // ǅ and ﬁ have compatibility (not canonical) decompositions: NFD keeps them.
        #expect(tokenizer.normalize("Åland ǅ ﬁ").unicodeScalars.map(\.value) ==
            [0x61, 0x6C, 0x61, 0x6E, 0x64, 0x20, 0x1C6, 0x20, 0xFB01])
    }
}
