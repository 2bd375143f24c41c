import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding

/// Layout of an index's dense vectors, as META records it.
public enum IndexKind: String, CaseIterable, Sendable {
    case flat, ivf
}

/// The searchable vectors of an index: codes in a storage (flat or IVF lists, over fp32, fp16
/// or sq8 codes, fixed when the index is opened or built), and optionally the exact fp32
/// vectors to re-rank with. A read-only view of memory owned by `owner` (a mapped file, or the
/// buffers of a build that is still tuning itself).
public struct DenseIndex: @unchecked Sendable {
    public let name: String
    public let count: Int
    public let dimension: Int
    let codes: any DenseCodes
    /// Row-ordered fp32 vectors: the codes of a flat fp32 index, or the optional re-rank section.
    public let exact: UnsafeBufferPointer<Float>?
    let owner: AnyObject?
    /// With inexact codes and exact vectors, this many times k candidates are re-scored exactly.
    public var rerankFactor = 4

    public var kind: IndexKind { codes.kind }
    public var coding: VectorCoding { codes.coding }
    public var nlist: Int { codes.nlist }
    /// Lists probed per query when the caller does not say (IVF only): the tuned value in META.
    public var defaultNProbe: Int { codes.defaultNProbe }
    /// Whether search re-scores its candidates with the exact vectors: inexact codes and `VF32` kept.
    public var reranks: Bool { !codes.isExact && exact != nil }

    init(name: String, count: Int, dimension: Int, codes: any DenseCodes, exact: UnsafeBufferPointer<Float>?, owner: AnyObject?) {
        self.name = name; self.count = count; self.dimension = dimension; self.codes = codes; self.exact = exact; self.owner = owner
    }

    /// The `k` best rows for unit query `q`, best first (ties by ascending row). IVF probes
    /// `nprobe` lists (default: the tuned value in META).
    public func search(_ q: [Float], k: Int, nprobe: Int? = nil) throws -> [(id: Int, score: Float)] {
        precondition(q.count == dimension)
        let k = max(1, min(k, count))
        var top = TopK(k: candidateCount(k: k))
        do throws(IndexFileError) { try codes.search(q, into: &top, nprobe: nprobe) } catch { throw error.error(path: name) }
        return hits(of: top, q, k: k)
    }

    /// How many candidates the codes' scan keeps for `k` hits: more when they are re-ranked.
    func candidateCount(k: Int) -> Int {
        reranks ? min(count, k * rerankFactor) : k
    }

    /// The `k` hits of a scan's candidates: re-scored with the exact vectors when they are kept.
    func hits(of top: TopK, _ q: [Float], k: Int) -> [(id: Int, score: Float)] {
        guard reranks, let rerank = exact else { return top.sorted() }
        var exactTop = TopK(k: k)
        q.withUnsafeBufferPointer { qp in
            for (id, _) in top.sorted() {
                exactTop.push(VectorMath.dot(rerank.baseAddress! + id * dimension, qp.baseAddress!, dimension), id)
            }
        }
        return exactTop.sorted()
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
        do throws(IndexFileError) { return try codes.reconstruct(row: row) } catch { throw error.error(path: name) }
    }
}
