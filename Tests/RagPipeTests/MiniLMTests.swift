import CKernels
import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeEmbedding

/// The model folder `make model` fetches; tests that need it are skipped with a note when absent.
let modelDirectory: String = {
    var dir = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { dir.deleteLastPathComponent() }
    return dir.appendingPathComponent("models/all-MiniLM-L6-v2").path
}()

let modelAvailable = FileManager.default.fileExists(atPath: modelDirectory + "/model.safetensors")

/// sentence-transformers' token ids and embeddings of 20 texts (Fixtures/minilm/README.md).
struct Golden {
    var texts: [String] = []
    var ids: [[Int32]] = []
    var untruncated: [Int] = []
    var truncated: [Bool] = []
    var vectors: [[Float]] = []

    static let directory = Fixtures.directory + "/minilm"

    /// Read once; a missing or malformed file fails every test that asks for it, naming the file.
    private static let loaded = Result { try Golden.load() }
    static func shared() throws -> Golden { try loaded.get() }

    static func load(from dir: String = Golden.directory) throws -> Golden {
        var g = Golden()
        let textsPath = dir + "/texts.jsonl", idsPath = dir + "/token_ids.jsonl", embeddingsPath = dir + "/embeddings.json"
        var byIndex: [Int: String] = [:]
        for object in try Fixtures.jsonLines("texts.jsonl", in: dir) {
            guard let i = object["i"] as? Int, let text = object["text"] as? String else {
                throw FixtureError.malformed(textsPath, "a line without an integer i and a string text")
            }
            byIndex[i] = text
        }
        g.texts = byIndex.keys.sorted().map { byIndex[$0]! }
        for object in try Fixtures.jsonLines("token_ids.jsonl", in: dir) {
            guard let ids = object["ids"] as? [Int], let untruncated = object["n_ids_untruncated"] as? Int,
                  let truncated = object["truncated"] as? Bool else {
                throw FixtureError.malformed(idsPath, "a line without ids, n_ids_untruncated and truncated")
            }
            g.ids.append(ids.map { Int32($0) })
            g.untruncated.append(untruncated)
            g.truncated.append(truncated)
        }
        guard let embeddings = try JSONSerialization.jsonObject(with: try Fixtures.data("embeddings.json", in: dir)) as? [String: Any],
              let rows = embeddings["rows"] as? [[String: Any]] else {
            throw FixtureError.malformed(embeddingsPath, "no rows array")
        }
        for (i, row) in rows.enumerated() {
            guard let vector = row["vector"] as? [NSNumber], vector.count == 384 else {
                throw FixtureError.malformed(embeddingsPath, "row \(i) has no 384-value vector")
            }
            g.vectors.append(vector.map { $0.floatValue })
        }
        guard g.texts.count == 20, g.ids.count == 20, g.vectors.count == 20 else {
            throw FixtureError.malformed(dir, "\(g.texts.count) texts, \(g.ids.count) id rows, \(g.vectors.count) vectors; expected 20 of each")
        }
        return g
    }
}

/// The fixtures are read without the model: a missing one must fail, naming the file.
@Suite struct GoldenFixtureTests {
    @Test func loadsTheCommittedFixtures() throws {
        let golden = try Golden.shared()
        #expect(golden.untruncated[18] > 256 && golden.truncated[18] && golden.ids[18].count == 256)
        #expect(golden.ids.allSatisfy { $0.first == 101 && $0.last == 102 }, "[CLS] … [SEP]")
    }

    @Test func aMissingFileIsAnErrorNamingIt() throws {
        let dir = try TempDir()
        for name in ["texts.jsonl", "token_ids.jsonl"] {
            dir.write(name, try String(contentsOfFile: Golden.directory + "/" + name, encoding: .utf8))
        }
        let error = #expect(throws: FixtureError.self) { try Golden.load(from: dir.path) }
        #expect(error?.description == "missing test fixture \(dir.path)/embeddings.json")
    }

    @Test func aMalformedFileIsAnErrorNamingIt() throws {
        let dir = try TempDir()
        dir.write("texts.jsonl", "{\"i\": 0, \"text\": \"a\"}\nnot json\n")
        let error = #expect(throws: FixtureError.self) { try Golden.load(from: dir.path) }
        #expect(error?.description == "malformed test fixture \(dir.path)/texts.jsonl: line 2 is not a JSON object")
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMTokenizerTests {
    @Test func tokenIDsMatchSentenceTransformers() throws {
        let tokenizer = try WordPieceTokenizer(vocabFile: modelDirectory + "/vocab.txt")
        let golden = try Golden.shared()
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
        for text in try Golden.shared().texts {
            #expect(counter.count(text: text) == tokenizer.encode(text, maxLength: 1 << 20).ids.count)
        }
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMEmbeddingTests {
    private static let loaded = Result { try MiniLMEmbedder(directory: modelDirectory) }
    static func embedder() throws -> MiniLMEmbedder { try loaded.get() }

    func check(_ vectors: [Float], rows: [Int], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let golden = try Golden.shared()
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
        let e = try Self.embedder()
        e.threads = threads
        defer { e.threads = 1 }
        let texts = try Golden.shared().texts
        var out = [Float](repeating: .nan, count: rows.count * 384)
        try out.withUnsafeMutableBufferPointer { _ = try e.embed(rows.map { texts[$0] }, into: $0) }
        return out
    }

    @Test func modelCardExampleValues() throws {
        let v = try embed([0])
        #expect(abs(v[0] - 0.0676569) < 1e-6)
        #expect(abs(v[1] - 0.0634959) < 1e-6)
        #expect(abs(v[2] - 0.0487131) < 1e-6)
    }

    @Test func everyGoldenTextAloneMatches() throws {
        for i in 0..<20 { try check(try embed([i]), rows: [i]) }
    }

    @Test func mixedBatchesAndThreadsMatch() throws {
        let all = Array(0..<20)
        try check(try embed(all), rows: all)
        let shuffled = [19, 4, 0, 7, 18, 2, 11, 5, 13, 1]
        try check(try embed(shuffled, threads: 2), rows: shuffled)
        try check(try embed(all.reversed(), threads: 2), rows: all.reversed())
    }

    @Test func truncationIsReported() throws {
        let texts = try Golden.shared().texts, embedder = try Self.embedder()
        var out = [Float](repeating: 0, count: 3 * 384)
        let n = try out.withUnsafeMutableBufferPointer { try embedder.embed([texts[18], "short", texts[19]], into: $0) }
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

/// Every precision and matrix library against sentence-transformers' vectors, and the
/// batch-independence that lets the embedding cache rebuild an index byte for byte.
@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct EncoderPrecisionTests {
    static func embed(_ e: MiniLMEmbedder, _ rows: [Int], threads: Int = 1) throws -> [[Float]] {
        e.threads = threads
        let texts = try Golden.shared().texts
        var out = [Float](repeating: .nan, count: rows.count * 384)
        try out.withUnsafeMutableBufferPointer { _ = try e.embed(rows.map { texts[$0] }, into: $0) }
        return (0..<rows.count).map { Array(out[($0 * 384)..<(($0 + 1) * 384)]) }
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } / (zip(a, a).reduce(0) { $0 + $1.0 * $1.1 }.squareRoot() * zip(b, b).reduce(0) { $0 + $1.0 * $1.1 }.squareRoot())
    }

    @Test(arguments: [MatrixLibrary.onednn, .blas])
    func fp32MatchesSentenceTransformersOnEitherLibrary(library: MatrixLibrary) throws {
        let config = try BertConfig(configFile: modelDirectory + "/config.json")
        let encoder = try BertEncoder(config: config, weights: SafetensorsFile(path: modelDirectory + "/model.safetensors"), library: library)
        #expect(encoder.library == library)
        let tokenizer = try WordPieceTokenizer(vocabFile: modelDirectory + "/vocab.txt")
        let golden = try Golden.shared()
        var out = [Float](repeating: .nan, count: 20 * 384)
        out.withUnsafeMutableBufferPointer { encoder.embed(golden.texts.map { tokenizer.encode($0, maxLength: 256).ids }, into: $0) }
        for i in 0..<20 {
            let v = Array(out[(i * 384)..<((i + 1) * 384)])
            #expect(zip(v, golden.vectors[i]).map { abs($0 - $1) }.max()! <= 1e-5, "text \(i), \(library)")
            #expect(Self.cosine(v, golden.vectors[i]) >= 0.99999, "text \(i), \(library)")
        }
    }

    /// Measured: bf16 0.99997, int8 0.9969 at the worst golden text (the empty one).
    @Test(arguments: [EncoderPrecision.bf16, .int8])
    func reducedPrecisionStaysWithinTheQualityBar(precision: EncoderPrecision) throws {
        let e = try MiniLMEmbedder(directory: modelDirectory, precision: precision)
        #expect(e.modelID == "all-MiniLM-L6-v2@\(precision.rawValue)")
        #expect(e.encoder.kernelDescription.contains("\(precision.rawValue) matmul"))
        let golden = try Golden.shared()
        let vectors = try Self.embed(e, Array(0..<20))
        var worst: Float = 1
        for i in 0..<20 { worst = min(worst, Self.cosine(vectors[i], golden.vectors[i])) }
        #expect(worst >= 0.995, "\(precision): worst cosine \(worst)")
        // Not fp32 in disguise: the products really ran in reduced precision.
        #expect(worst < 0.99999, "\(precision): worst cosine \(worst) is fp32's")
    }

    @Test(arguments: [EncoderPrecision.bf16, .int8])
    func reducedPrecisionIsBitIdenticalInAnyBatch(precision: EncoderPrecision) throws {
        let e = try MiniLMEmbedder(directory: modelDirectory, precision: precision)
        let alone = try (0..<20).map { try Self.embed(e, [$0])[0] }
        let shuffled = [19, 4, 0, 7, 18, 2, 11, 5, 13, 1]
        let together = try Self.embed(e, shuffled, threads: 2)
        for (k, i) in shuffled.enumerated() { #expect(together[k] == alone[i], "\(precision): text \(i)") }
        // A second load calibrates to the same int8 layers.
        let again = try MiniLMEmbedder(directory: modelDirectory, precision: precision)
        #expect(try Self.embed(again, [3])[0] == alone[3])
    }

    @Test func theIndexNamesThePrecisionAndTheRegistryRebuildsIt() throws {
        let e = try EmbedderRegistry.embedder(modelID: "all-MiniLM-L6-v2@int8", dimension: 384, modelDirectory: modelDirectory)
        #expect(e.modelID == "all-MiniLM-L6-v2@int8")
        #expect((e as? MiniLMEmbedder)?.precision == .int8)
        #expect(throws: RagPipeError.self) {
            try EmbedderRegistry.embedder(modelID: "all-MiniLM-L6-v2@fp4", dimension: 384, modelDirectory: modelDirectory)
        }
    }
}

@Suite struct EmbeddingModelIDTests {
    @Test func parsesAndPrintsEveryPrecision() throws {
        for precision in EncoderPrecision.allCases {
            let id = EmbeddingModelID(name: "all-MiniLM-L6-v2", precision: precision)
            #expect(try EmbeddingModelID(parsing: id.description) == id)
        }
        #expect(EmbeddingModelID(name: "m", precision: .fp32).description == "m", "fp32 ids are the ids older files have")
        #expect(throws: RagPipeError.self) { try EmbeddingModelID(parsing: "m@fp32") }
        #expect(throws: RagPipeError.self) { try EmbeddingModelID(parsing: "m@int4") }
    }
}

@Suite struct OpenBLASCoreTests {
    @Test func genericKernelsOnAWideCPUAreReplaced() {
        let avx512 = OpenBLASCore.CPU(level: RP_LEVEL_AVX512, bf16: false)
        let bf16 = OpenBLASCore.CPU(level: RP_LEVEL_AVX512, bf16: true)
        let avx2 = OpenBLASCore.CPU(level: RP_LEVEL_AVX2, bf16: false)
        let old = OpenBLASCore.CPU(level: RP_LEVEL_PORTABLE, bf16: false)
        #expect(OpenBLASCore.override(picked: "Prescott", cpu: bf16) == "Cooperlake")
        #expect(OpenBLASCore.override(picked: "Prescott", cpu: avx512) == "SkylakeX")
        #expect(OpenBLASCore.override(picked: "Haswell", cpu: avx512) == "SkylakeX", "AVX2 kernels on an AVX-512 CPU")
        #expect(OpenBLASCore.override(picked: "Sandybridge", cpu: avx2) == "Haswell")
        #expect(OpenBLASCore.override(picked: "Zen", cpu: avx2) == nil)
        #expect(OpenBLASCore.override(picked: "Cooperlake", cpu: bf16) == nil)
        #expect(OpenBLASCore.override(picked: "Prescott", cpu: old) == nil)
    }

    @Test func theLoadedOpenBLASRunsKernelsThisCPUWarrants() throws {
        try BLAS.ensureLoaded()
        guard let core = BLAS.coreName else { return }   // another BLAS than OpenBLAS
        #expect(OpenBLASCore.override(picked: core, cpu: .current) == nil || getenv("OPENBLAS_CORETYPE") != nil,
                "OpenBLAS runs \(core) kernels")
    }
}
