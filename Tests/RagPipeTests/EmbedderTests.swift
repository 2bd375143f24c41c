import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding

@Suite struct HashEmbedderTests {
    let embedder = HashEmbedder(dimension: 384)

    func cosine(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

    @Test func vectorsAreUnitLengthAndDeterministic() throws {
        let v = try embedder.embed("Vector indexes store embeddings.")
        #expect(v.count == 384)
        #expect(abs(v.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(try embedder.embed("Vector indexes store embeddings.") == v)
        #expect(try embedder.embed("VECTOR   indexes, store embeddings!") == v, "case and punctuation are normalized away")
    }

    @Test func batchCompositionDoesNotChangeVectors() throws {
        let texts = ["one two three", "", "ünïcødé 中文 text", "one two three four"]
        var batch = [Float](repeating: 0, count: texts.count * 384)
        try batch.withUnsafeMutableBufferPointer { _ = try embedder.embed(texts, into: $0) }
        for (i, t) in texts.enumerated() {
            #expect(Array(batch[(i * 384)..<((i + 1) * 384)]) == (try embedder.embed(t)))
        }
    }

    @Test func sharedWordsMeanHigherSimilarity() throws {
        let q = try embedder.embed("how many lists does IVF probe")
        let near = try embedder.embed("IVF probes a few lists at query time")
        let far = try embedder.embed("zlib compresses text blocks")
        #expect(cosine(q, near) > cosine(q, far) + 0.1)
        #expect(try embedder.embed("").allSatisfy { $0 == 0 }, "no words: the zero vector")
    }
}

/// One registry makes every embedder the tools use (embed's choice, the model an index names).
@Suite struct EmbedderRegistryTests {
    @Test func choicesAndIndexModelsMakeTheirEmbedders() throws {
        let hash = try EmbedderRegistry.embedder(.hash(dimension: 16))
        #expect(hash.modelID == HashEmbedder.modelName && hash.dimension == 16)
        let named = try EmbedderRegistry.embedder(modelID: HashEmbedder.modelName, dimension: 24, native: .init())
        #expect(named.modelID == HashEmbedder.modelName && named.dimension == 24)
        // A native model that is not there: the error says where it looked (exit 69), for both ways in.
        let nowhere = EmbedderRegistry.NativeSettings(modelDirectory: "/nonexistent/all-MiniLM-L6-v2")
        for make in [{ try EmbedderRegistry.embedder(.native(precision: .fp32), native: nowhere) },
                     { try EmbedderRegistry.embedder(modelID: "all-MiniLM-L6-v2", dimension: 384, native: nowhere) }] {
            #expect { _ = try make() } throws: { ($0 as? RagPipeError)?.exitStatus == ExitStatus.unavailable.rawValue }
        }
    }

    @Test func aServerIsNotAskedToReproduceAReducedPrecision() throws {
        let remote = RemoteEmbedder.Settings(endpoint: HTTPEndpoint(url: "http://127.0.0.1:9"))
        #expect {
            _ = try EmbedderRegistry.embedder(modelID: "all-MiniLM-L6-v2@int8", dimension: 384, native: .init(), remote: remote, source: "x.ragx")
        } throws: { error in
            (error as? RagPipeError)?.exitStatus == ExitStatus.usage.rawValue
                && "\(error)".contains("--embed-url: x.ragx holds int8 vectors of all-MiniLM-L6-v2")
        }
    }

    @Test func tokenCounterChoicesNeedAModelOnlyForWordPiece() throws {
        #expect(try TokenCounterChoice.upperBound.counter(modelDirectory: "/nonexistent").name == "upper-bound")
        #expect(throws: RagPipeError.self) { try TokenCounterChoice.wordpiece.counter(modelDirectory: "/nonexistent") }
        if let model = ModelLocator.find() {
            #expect(try TokenCounterChoice.auto.counter(modelDirectory: model).name == "wordpiece")
        }
    }
}
