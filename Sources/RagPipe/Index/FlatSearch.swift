import RagPipeSupport
import RagPipeChunking
import Dispatch

/// Exact inner-product search over row-major fp32 vectors.
public enum FlatSearch {
    /// The `k` rows of `vectors` (`count × dimension`) with the highest dot product with `query`.
    public static func search(vectors: UnsafeBufferPointer<Float>, dimension: Int, query: UnsafeBufferPointer<Float>,
                              k: Int) -> [(id: Int, score: Float)] {
        precondition(query.count == dimension)
        let count = vectors.count / dimension
        var top = TopK(k: max(1, min(k, max(count, 1))))
        guard count > 0, let base = vectors.baseAddress else { return [] }
        // The scan of a flat fp32 index, over memory the caller owns.
        FlatCodes(codec: FP32Codec(dimension: dimension), codes: UnsafeRawPointer(base), count: count).search(Array(query), into: &top, nprobe: nil)
        return top.sorted()
    }
}

/// Exact top-k for many queries at once: query blocks times vector blocks through BLAS
/// (`cblas_sgemm`), each worker on its own vector blocks, heaps merged at the end. The ground
/// truth for recall figures.
public enum ExactSearch {
    public static func topK(queries: [Float], vectors: UnsafeBufferPointer<Float>, dimension d: Int, k: Int) -> [[(id: Int, score: Float)]] {
        let nq = queries.count / d, n = vectors.count / d
        guard nq > 0, n > 0 else { return Array(repeating: [], count: nq) }
        let blockRows = 2048
        let blocks = (n + blockRows - 1) / blockRows
        let workers = min(Cores.available, blocks)
        let useBLAS = (try? BLAS.ensureLoaded()) != nil
        let heaps = UnsafeMutableBufferPointer<[TopK]>.allocate(capacity: workers)
        heaps.initialize(repeating: [])
        defer { heaps.deinitialize(); heaps.deallocate() }
        queries.withUnsafeBufferPointer { qs in
            Parallel.onWorkers(workers) { w in
                var mine = [TopK](repeating: TopK(k: min(k, n)), count: nq)
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: nq * blockRows)
                defer { scores.deallocate() }
                var b = w
                while b < blocks {
                    let first = b * blockRows, rows = min(blockRows, n - first)
                    let x = vectors.baseAddress! + first * d
                    BLAS.dotProducts(m: nq, n: rows, d: d, a: qs.baseAddress!, b: x, into: scores, useBLAS: useBLAS)
                    for q in 0..<nq { mine[q].offer(scores + q * rows, count: rows, firstID: first) }
                    b += workers
                }
                heaps[w] = mine
            }
        }
        return (0..<nq).map { q in
            var merged = TopK(k: min(k, n))
            for w in 0..<workers { for (id, s) in heaps[w][q].sorted() { merged.push(s, id) } }
            return merged.sorted()
        }
    }
}
