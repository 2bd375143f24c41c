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
    /// Inverted lists: the lists `search` would probe for `q`, closest first (nil for a flat
    /// storage). Shards that share centroids compute it once per query (`DenseShards`).
    func probes(_ q: [Float], nprobe: Int?) -> [Int]?
    /// `search` over the lists `probes` (a flat storage scans everything, as `search`).
    func search(_ q: [Float], into top: inout TopK, probes: [Int]) throws(IndexFileError)
    /// The vector row `row`'s code stands for.
    func reconstruct(row: Int) throws(IndexFileError) -> [Float]
}

/// Lists whose search is one scan per probed list into the result handler, in probe order:
/// what lets nprobe tuning widen a search list by list (`WideningSearch`). A storage whose
/// search does more after its scans (re-scoring its own candidates) does not conform, and is
/// tuned with fresh searches.
protocol ListScanning: DenseCodes {
    /// The `count` lists whose centroids are closest to `q`, closest first: the order `search`
    /// probes them in.
    func rankedLists(_ q: [Float], count: Int) -> [Int]
    /// Offers the codes of `lists` (list numbers) to `top`, as `search` does for its probes.
    func scan(_ q: [Float], lists: ArraySlice<Int>, into top: inout TopK) throws(IndexFileError)
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
