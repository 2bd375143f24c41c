import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import CKernels

/// Layout of an index's dense vectors, as META records it.
public enum IndexKind: String, CaseIterable, Sendable {
    case flat, ivf
}

/// The searchable vectors of an index: flat or IVF lists, over fp32, fp16 or sq8 codes, and
/// optionally the exact fp32 vectors to re-rank with. A read-only view of memory owned by
/// `owner` (a mapped file, or the buffers of a build that is still tuning itself).
public struct DenseIndex: @unchecked Sendable {
    public let name: String
    public let count: Int
    public let dimension: Int
    public let kind: IndexKind
    public let coding: VectorCoding
    let quantizer: SQ8Quantizer?
    /// Row-ordered fp32 vectors: the codes of a flat fp32 index, or the optional re-rank section.
    public let exact: UnsafeBufferPointer<Float>?
    /// Row-ordered codes of a flat index.
    let flatCodes: UnsafeRawPointer?
    let ivf: IVFLists?
    let owner: AnyObject?
    /// Lists probed per query when the caller does not say (IVF only).
    public let defaultNProbe: Int
    /// With inexact codes and exact vectors, this many times k candidates are re-scored exactly.
    public var rerankFactor = 4

    var codeSize: Int { dimension * coding.bytesPerComponent }
    public var nlist: Int { ivf?.lists.count ?? 0 }
    public var reranks: Bool { coding != .fp32 && exact != nil }

    struct IVFLists {
        /// nlist × d IEEE half: half the bytes of fp32, so a probe's centroid scan stays in L2.
        let centroids: UnsafePointer<UInt16>
        let lists: [List]
        /// Row → position in list order; needed to find a row's code without exact vectors.
        let rowPositions: UnsafePointer<UInt32>?
        let largestList: Int

        struct List {
            let ids: UnsafePointer<UInt32>
            let codes: UnsafeRawPointer
            let count: Int
            let firstPosition: Int
        }
    }

    init(name: String, count: Int, dimension: Int, kind: IndexKind, coding: VectorCoding, quantizer: SQ8Quantizer?,
         exact: UnsafeBufferPointer<Float>?, flatCodes: UnsafeRawPointer?, ivf: IVFLists?, defaultNProbe: Int, owner: AnyObject?) {
        self.name = name; self.count = count; self.dimension = dimension; self.kind = kind; self.coding = coding
        self.quantizer = quantizer; self.exact = exact; self.flatCodes = flatCodes; self.ivf = ivf
        self.defaultNProbe = defaultNProbe; self.owner = owner
    }

    func corrupt(_ reason: String) -> RagPipeError { .corruptIndex(path: name, reason: reason) }

    /// The `k` best rows for unit query `q`, best first (ties by ascending row). IVF probes
    /// `nprobe` lists (default: the tuned value in META).
    public func search(_ q: [Float], k: Int, nprobe: Int? = nil) throws -> [(id: Int, score: Float)] {
        precondition(q.count == dimension)
        let k = max(1, min(k, count))
        if kind == .flat && coding == .fp32 {
            return q.withUnsafeBufferPointer { FlatSearch.search(vectors: exact!, dimension: dimension, query: $0, k: k) }
        }
        let depth = reranks ? min(count, k * rerankFactor) : k
        let prepared = PreparedQuery(q, coding: coding, quantizer: quantizer)
        var top = TopK(k: depth)
        switch kind {
        case .flat:
            let chunk = 1024
            withScratch(chunk) { scores, ints in
                var first = 0
                while first < count {
                    let n = min(chunk, count - first)
                    CodeScanner.scores(prepared, coding: coding, codes: flatCodes! + first * codeSize, count: n,
                                       dimension: dimension, into: scores, scratch: ints)
                    top.offer(scores, count: n, firstID: first)
                    first += n
                }
            }
        case .ivf:
            let ivf = ivf!
            let probes = probeOrder(q, nprobe: nprobe ?? defaultNProbe)
            try withScratch(max(1, ivf.largestList)) { scores, ints in
                for l in probes {
                    let list = ivf.lists[l]
                    CodeScanner.scores(prepared, coding: coding, codes: list.codes, count: list.count,
                                       dimension: dimension, into: scores, scratch: ints)
                    if let bad = top.offer(scores, count: list.count, ids: StoredRowIDs(ids: list.ids, limit: count)) {
                        throw corrupt("IVFL list \(l): row id \(UInt32(littleEndian: list.ids[bad])) out of range")
                    }
                }
            }
        }
        guard reranks else { return top.sorted() }
        var exactTop = TopK(k: k)
        q.withUnsafeBufferPointer { qp in
            for (id, _) in top.sorted() {
                exactTop.push(VectorMath.dot(exact!.baseAddress! + id * dimension, qp.baseAddress!, dimension), id)
            }
        }
        return exactTop.sorted()
    }

    /// The `nprobe` lists whose centroids are closest to `q`, closest first.
    func probeOrder(_ q: [Float], nprobe: Int) -> [Int] {
        let ivf = ivf!
        let nlist = ivf.lists.count
        var top = TopK(k: max(1, min(nprobe, nlist)))
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: nlist)
        defer { scores.deallocate() }
        q.withUnsafeBufferPointer { rp_f16_scores($0.baseAddress!, ivf.centroids, nlist, dimension, scores) }
        top.offer(scores, count: nlist, firstID: 0)
        return top.sorted().map(\.id)
    }

    private func withScratch(_ n: Int, _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) throws -> Void) rethrows {
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let ints = UnsafeMutablePointer<Int32>.allocate(capacity: n)
        defer { scores.deallocate(); ints.deallocate() }
        try body(scores, ints)
    }

    /// Cosine similarity of row `row` with unit query `q`: exact when the fp32 vectors are
    /// present, else from the row's code.
    public func similarity(row: Int, _ q: [Float]) throws -> Float {
        precondition(row >= 0 && row < count)
        if let exact {
            return q.withUnsafeBufferPointer { VectorMath.dot(exact.baseAddress! + row * dimension, $0.baseAddress!, dimension) }
        }
        let v = try reconstruct(row: row)
        return v.withUnsafeBufferPointer { vp in q.withUnsafeBufferPointer { VectorMath.dot(vp.baseAddress!, $0.baseAddress!, dimension) } }
    }

    /// The vector row `row` stands for (exact, or decoded from its code).
    public func reconstruct(row: Int) throws -> [Float] {
        precondition(row >= 0 && row < count)
        if let exact { return Array(exact[(row * dimension)..<((row + 1) * dimension)]) }
        let code: UnsafeRawPointer
        if let flatCodes {
            code = flatCodes + row * codeSize
        } else {
            let ivf = ivf!
            guard let positions = ivf.rowPositions else { throw corrupt("IVFR section missing") }
            let position = Int(positions[row])
            guard position < count else { throw corrupt("IVFR: row \(row) has position \(position), beyond \(count)") }
            var lo = 0, hi = ivf.lists.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if ivf.lists[mid].firstPosition <= position { lo = mid } else { hi = mid - 1 }
            }
            let list = ivf.lists[lo]
            guard position - list.firstPosition < list.count, Int(list.ids[position - list.firstPosition]) == row else {
                throw corrupt("IVFR: row \(row) does not point at its own entry in list \(lo)")
            }
            code = list.codes + (position - list.firstPosition) * codeSize
        }
        return CodeScanner.decode(code, dimension: dimension, coding: coding, quantizer: quantizer)
    }
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
