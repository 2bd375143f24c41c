import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeChunking
@testable import RagPipeEmbedding
@testable import RagPipeIndex
@testable import RagPipeRetrieval
@testable import RagPipeAnswering
@testable import RagPipeEvaluation
@testable import RagPipePipeline
@testable import RagPipeFuzzing

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
