import CKernels

/// Codes in inverted lists: a query scores the centroids, then scans the `nprobe` lists whose
/// centroids score highest (faiss's `IndexIVF` with a flat coarse quantizer).
struct IVFCodes<Codec: VectorCodec>: ListScanning, @unchecked Sendable {
    let codec: Codec
    /// nlist × d IEEE half: half the bytes of fp32, so a probe's centroid scan stays in L2.
    let centroids: UnsafePointer<UInt16>
    let lists: [IVFList]
    /// Row → position in list order; needed to find a row's code without exact vectors.
    let rowPositions: UnsafePointer<UInt32>?
    let largestList: Int
    /// Rows in all lists: the bound every stored row id is checked against.
    let count: Int
    let defaultNProbe: Int

    var kind: IndexKind { .ivf }
    var nlist: Int { lists.count }

    func search(_ q: [Float], into top: inout TopK, nprobe: Int?) throws(IndexFileError) {
        try scan(q, lists: rankedLists(q, count: nprobe ?? defaultNProbe)[...], into: &top)
    }

    func probes(_ q: [Float], nprobe: Int?) -> [Int]? { rankedLists(q, count: nprobe ?? defaultNProbe) }

    func search(_ q: [Float], into top: inout TopK, probes: [Int]) throws(IndexFileError) {
        try scan(q, lists: probes[...], into: &top)
    }

    func scan(_ q: [Float], lists probes: ArraySlice<Int>, into top: inout TopK) throws(IndexFileError) {
        let query = codec.prepare(q)
        try withScanBuffers(capacity: largestList) { (scores, scratch) throws(IndexFileError) in
            for l in probes {
                let list = lists[l]
                codec.scores(query, codes: list.codes, count: list.count, into: scores, scratch: scratch)
                if let bad = top.offer(scores, count: list.count, ids: StoredRowIDs(ids: list.ids, limit: count)) {
                    throw .corrupt("IVFL list \(l): row id \(UInt32(littleEndian: list.ids[bad])) out of range")
                }
            }
        }
    }

    func rankedLists(_ q: [Float], count: Int) -> [Int] {
        let nlist = lists.count
        var top = TopK(k: max(1, min(count, nlist)))
        withScanBuffers(capacity: nlist) { scores, _ in
            q.withUnsafeBufferPointer { rp_f16_scores($0.baseAddress!, centroids, nlist, codec.dimension, scores) }
            top.offer(scores, count: nlist, firstID: 0)
        }
        return top.sorted().map(\.id)
    }

    func reconstruct(row: Int) throws(IndexFileError) -> [Float] {
        precondition(row >= 0 && row < count)
        guard let rowPositions else { throw .corrupt("IVFR section missing") }
        let position = Int(UInt32(littleEndian: rowPositions[row]))
        guard position < count else { throw .corrupt("IVFR: row \(row) has position \(position), beyond \(count)") }
        var lo = 0, hi = lists.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lists[mid].firstPosition <= position { lo = mid } else { hi = mid - 1 }
        }
        let list = lists[lo]
        guard position - list.firstPosition < list.count, Int(UInt32(littleEndian: list.ids[position - list.firstPosition])) == row else {
            throw .corrupt("IVFR: row \(row) does not point at its own entry in list \(lo)")
        }
        return codec.decode(list.codes + (position - list.firstPosition) * codec.codeSize)
    }
}

/// One inverted list in memory: its stored row ids and their codes. Its layout does not depend
/// on the codec, so it is not nested in the generic `IVFCodes`.
struct IVFList {
    let ids: UnsafePointer<UInt32>
    let codes: UnsafeRawPointer
    let count: Int
    /// The position of its first entry in list order (the sum of the counts before it).
    let firstPosition: Int
}

/// Row ids stored in a list, each checked against the row count before it is used.
struct StoredRowIDs: ResultIDs {
    let ids: UnsafePointer<UInt32>
    let limit: Int
    @inline(__always) func id(at i: Int) -> Int? {
        let id = Int(UInt32(littleEndian: ids[i]))
        return id < limit ? id : nil
    }
}
