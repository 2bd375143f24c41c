import Testing
@testable import RagPipeEmbedding

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct MiniLMDeterminismTests {
    @Test func vectorsAreBitIdenticalAcrossBatches() throws {
        let e = try MiniLMEmbedder(directory: modelDirectory)
        let texts = try Golden.shared().texts
        var all = [Float](repeating: 0, count: texts.count * 384)
        try all.withUnsafeMutableBufferPointer { _ = try e.embed(texts, into: $0) }
        var mismatches = 0
        for (i, t) in texts.enumerated() {
            let alone = try e.embed(t)
            if alone != Array(all[(i * 384)..<((i + 1) * 384)]) { mismatches += 1 }
        }
        #expect(mismatches == 0, "a vector must not depend on its batch, to the bit")
    }
}
