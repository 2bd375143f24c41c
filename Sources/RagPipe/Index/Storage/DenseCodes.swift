/// Codes in a storage, with their codec fixed: what `DenseIndex` calls once per query. The
/// conforming types are generic over the codec (`FlatCodes`, `IVFCodes`), so their scans
/// specialize to one kernel call per run of codes and one result handler loop.
protocol DenseCodes: Sendable {
    associatedtype Codec: VectorCodec
    var codec: Codec { get }
    /// What META names (the codec's coding, unless the storage scans codes of its own first).
    var coding: VectorCoding { get }
    var kind: IndexKind { get }
    /// Inverted lists (0 for a flat storage).
    var nlist: Int { get }
    /// Lists probed when the caller does not say (0 for a flat storage).
    var defaultNProbe: Int { get }
    /// Offers every code the query scans to `top`. `nprobe` applies to inverted lists.
    func search(_ q: [Float], into top: inout TopK, nprobe: Int?) throws(IndexFileError)
    /// The vector row `row`'s code stands for.
    func reconstruct(row: Int) throws(IndexFileError) -> [Float]
}

extension DenseCodes {
    var coding: VectorCoding { Codec.coding }
    /// Whether scores are exact (the codes are the fp32 vectors), so re-ranking changes nothing.
    var isExact: Bool { Codec.isExact }
}

/// Runs `body` with per-query buffers of a scan: a score and an integer per code of the
/// longest run. Allocated per query, not per run, and freed however `body` ends.
func withScanBuffers<R, E: Error>(capacity: Int, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) throws(E) -> R) throws(E) -> R {
    let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, capacity))
    let scratch = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, capacity))
    defer { scores.deallocate(); scratch.deallocate() }
    return try body(scores, scratch)
}
