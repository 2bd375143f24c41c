import RagPipeChunking

/// Turns texts into fixed-size vectors. Implementations are pure: the same text always gives
/// the same vector, whatever else is in the batch.
public protocol Embedder: Sendable {
    /// Recorded in streams and in the index; `query` refuses an index made by another model.
    var modelID: String { get }
    var dimension: Int { get }
    /// Longest input in tokens (special tokens included); longer inputs are truncated.
    var maxTokens: Int { get }
    /// Counts tokens the way this embedder sees them, for the chunker.
    var tokenCounter: any TokenCounter { get }
    /// The model whose vectors this embedder reproduces exactly (same weights, same input
    /// tokens), or nil when that is not known: what thresholds calibrated on a model apply to.
    var reproducedModel: String? { get }
    /// What the embedding cache files vectors under: the model id, plus whatever else changes
    /// the vectors without changing the id, so a cache never serves vectors of older arithmetic.
    var cacheIdentity: String { get }
    /// Embeds `texts` into consecutive rows of `output` (`texts.count × dimension` floats),
    /// L2-normalized. Returns how many inputs were truncated.
    @discardableResult
    func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int
}

extension Embedder {
    public var reproducedModel: String? { nil }
    public var cacheIdentity: String { modelID }

    public func embed(_ text: String) throws -> [Float] {
        var v = [Float](repeating: 0, count: dimension)
        try v.withUnsafeMutableBufferPointer { _ = try embed([text], into: $0) }
        return v
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
@inline(__always) package func normalize(_ v: UnsafeMutableBufferPointer<Float>) {
    var sum: Float = 0
    for x in v { sum += x * x }
    guard sum > 0 else { return }
    let scale = 1 / sum.squareRoot()
    for i in v.indices { v[i] *= scale }
}
