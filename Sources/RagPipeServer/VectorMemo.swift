import Foundation
import RagPipeChunking
import RagPipeEmbedding

/// The index's embedder with a memory of the texts it embedded: answering a question embeds the
/// candidate sentences of its hits and the sentences its groundedness check compares, and popular
/// chunks come back in question after question. A text's vector never depends on its batch (each
/// sequence runs through the encoder alone), so a remembered vector is the one the embedder would
/// make again, to the last bit, and answers stay exactly `query`'s. Bounded by `capacity`
/// vectors, the oldest forgotten first.
final class VectorMemo: Embedder, @unchecked Sendable {
    let base: any Embedder
    let capacity: Int
    private let lock = NSLock()
    private var vectors: [String: [Float]] = [:]
    private var order: [String] = []
    private var next = 0

    init(_ base: any Embedder, capacity: Int) {
        self.base = base; self.capacity = max(0, capacity)
    }

    var modelID: String { base.modelID }
    var dimension: Int { base.dimension }
    var maxTokens: Int { base.maxTokens }
    var tokenCounter: any TokenCounter { base.tokenCounter }
    var reproducedModel: String? { base.reproducedModel }
    var cacheIdentity: String { base.cacheIdentity }

    var count: Int { lock.withLock { vectors.count } }

    func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        guard capacity > 0 else { return try base.embed(texts, into: output) }
        let d = dimension
        var missing: [Int] = []
        lock.withLock {
            for (i, text) in texts.enumerated() {
                if let v = vectors[text] {
                    for j in 0..<d { output[i * d + j] = v[j] }
                } else {
                    missing.append(i)
                }
            }
        }
        guard !missing.isEmpty else { return 0 }
        var fresh = [Float](repeating: 0, count: missing.count * d)
        let truncated = try fresh.withUnsafeMutableBufferPointer { try base.embed(missing.map { texts[$0] }, into: $0) }
        for (k, i) in missing.enumerated() {
            for j in 0..<d { output[i * d + j] = fresh[k * d + j] }
        }
        lock.withLock {
            for (k, i) in missing.enumerated() where vectors[texts[i]] == nil {
                if order.count < capacity {
                    order.append(texts[i])
                } else {
                    vectors[order[next]] = nil
                    order[next] = texts[i]
                    next = (next + 1) % capacity
                }
                vectors[texts[i]] = Array(fresh[(k * d)..<((k + 1) * d)])
            }
        }
        return truncated
    }
}
