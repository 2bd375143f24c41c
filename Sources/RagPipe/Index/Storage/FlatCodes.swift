/// Row-ordered codes scanned whole: faiss's `IndexFlatCodes`. Codes are scored in runs of
/// `runLength` rows, so the scores of a run stay in L1 between the kernel and the handler.
struct FlatCodes<Codec: VectorCodec>: DenseCodes, @unchecked Sendable {
    static var runLength: Int { 1024 }
    let codec: Codec
    /// `count × codec.codeSize` bytes, kept alive by the index's owner.
    let codes: UnsafeRawPointer
    let count: Int

    var kind: IndexKind { .flat }
    var nlist: Int { 0 }
    var defaultNProbe: Int { 0 }

    func probes(_ q: [Float], nprobe: Int?) -> [Int]? { nil }

    func search(_ q: [Float], into top: inout TopK, probes _: [Int]) { search(q, into: &top, nprobe: nil) }

    func search(_ q: [Float], into top: inout TopK, nprobe _: Int?) {
        let query = codec.prepare(q)
        let codeSize = codec.codeSize
        withScanBuffers(capacity: min(count, Self.runLength)) { scores, scratch in
            var first = 0
            while first < count {
                let n = min(Self.runLength, count - first)
                codec.scores(query, codes: codes + first * codeSize, count: n, into: scores, scratch: scratch)
                top.offer(scores, count: n, firstID: first)
                first += n
            }
        }
    }

    func reconstruct(row: Int) -> [Float] {
        precondition(row >= 0 && row < count)
        return codec.decode(codes + row * codec.codeSize)
    }
}
