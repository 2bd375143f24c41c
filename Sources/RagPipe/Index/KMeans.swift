import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import CKernels
import Dispatch

/// Spherical k-means over unit vectors: a point belongs to the centroid with the highest dot
/// product (for unit vectors, the nearest one), and a centroid is the normalized mean of its
/// points. Assignment is one matrix product per block of points (BLAS), on every core.
///
/// Assignment is exact but mostly avoids the matrix product: a point keeps its
/// `candidateCount` best centroids from its last full scoring, and the smallest of those scores
/// bounds every other centroid's score then. Centroids travel a known angle per update, so the
/// bound still holds once loosened by that travel (`CandidateBounds`): a point whose best
/// candidate beats it, clear of a near tie, keeps that label, which is the one a full scoring
/// gives; the others are scored against every centroid again. The centroids are those of plain
/// Lloyd iterations (the tests compare them), at a fraction of the matrix products: 5.7 full
/// passes for 20 iterations on 114,496 of the synthetic bench vectors (1,789 lists), 4.6 for 19
/// on 22,306 SciFact chunks (571 lists).
public enum KMeans {
    static let candidateCount = 32

    public struct Training: Sendable {
        public var centroids: [Float]
        public var iterations: Int
        /// Empty clusters re-seeded by splitting a large one, over all iterations.
        public var splits: Int
        /// Points scored against every centroid, over all iterations: n × iterations for
        /// Lloyd's algorithm without bounds.
        public var fullScorings: Int
        /// The points' last labels and their bounds, valid for `centroids`: what lets the
        /// training points be assigned once more (to the stored centroids) without a full pass.
        var finalBounds: (bounds: CandidateBounds, labels: [Int32])? = nil
    }

    /// Trains `k` centroids on `n` points (`points` is n × d, row-major, unit rows). Seeds are
    /// k distinct points drawn with `seed`; stops after `iterations`, or earlier once fewer than
    /// 0.1% of points change cluster. `bounded: false` scores every point against every
    /// centroid each iteration: the same result, the reference the tests compare with.
    public static func train(points: UnsafeBufferPointer<Float>, dimension d: Int, clusters k: Int,
                             iterations: Int = 20, seed: UInt64 = 1, bounded: Bool = true,
                             progress: (Int) -> Void = { _ in }) -> Training {
        let n = points.count / d
        precondition(k > 0 && k <= n, "need at least as many points as clusters")
        var rng = SplitMix64(seed: seed)
        var order = Array(0..<n)
        for i in 0..<k { order.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        var centroids = [Float](repeating: 0, count: k * d)
        for c in 0..<k {
            for j in 0..<d { centroids[c * d + j] = points[order[c] * d + j] }
        }

        var labels = [Int32](repeating: -1, count: n)
        var sums = [Double](repeating: 0, count: k * d)
        var sizes = [Int](repeating: 0, count: k)
        var splits = 0
        var done = 0
        // Below 2 × candidateCount centroids every assignment is a full one.
        var bounds = bounded && k > 2 * candidateCount ? CandidateBounds(points: n, clusters: k) : nil
        var previous = [Float](repeating: 0, count: k * d)
        for iteration in 0..<iterations {
            progress(iteration)
            let assigned: [Int32]
            if bounds != nil {
                assigned = assign(points: points, dimension: d, centroids: centroids, bounds: &bounds!, previous: labels, full: iteration == 0)
            } else {
                assigned = assign(points: points, dimension: d, centroids: centroids).labels
            }
            var changed = 0
            for i in 0..<n where labels[i] != assigned[i] { changed += 1 }
            labels = assigned

            for i in sums.indices { sums[i] = 0 }
            for c in 0..<k { sizes[c] = 0 }
            if bounds != nil { previous = centroids }
            sums.withUnsafeMutableBufferPointer { s in
                for i in 0..<n {
                    let c = Int(labels[i])
                    sizes[c] += 1
                    let row = points.baseAddress! + i * d, sum = s.baseAddress! + c * d
                    for j in 0..<d { sum[j] += Double(row[j]) }
                }
            }
            for c in 0..<k where sizes[c] > 0 {
                var norm: Double = 0
                for j in 0..<d { norm += sums[c * d + j] * sums[c * d + j] }
                guard norm > 0 else { continue }
                let scale = 1 / norm.squareRoot()
                for j in 0..<d { centroids[c * d + j] = Float(sums[c * d + j] * scale) }
            }
            splits += splitEmptyClusters(&centroids, sizes: &sizes, dimension: d)
            // After the splits: a re-seeded centroid's jump is a move like any other.
            bounds?.recordMoves(from: previous, to: centroids, dimension: d)
            done = iteration + 1
            if iteration > 0 && changed * 1000 < n { break }
        }
        return Training(centroids: centroids, iterations: done, splits: splits, fullScorings: bounds?.fullScorings ?? n * done,
                        finalBounds: bounds.map { ($0, labels) })
    }

    /// An empty cluster takes half of the largest one: the large centroid is copied and the two
    /// copies nudged apart in opposite directions (as FAISS does), so the next assignment
    /// divides its points between them.
    static func splitEmptyClusters(_ centroids: inout [Float], sizes: inout [Int], dimension d: Int) -> Int {
        let epsilon: Float = 1.0 / 1024
        var splits = 0
        for empty in sizes.indices where sizes[empty] == 0 {
            let big = sizes.indices.max { sizes[$0] < sizes[$1] || (sizes[$0] == sizes[$1] && $0 > $1) }!
            guard sizes[big] > 1 else { break }
            for j in 0..<d {
                let x = centroids[big * d + j]
                let sign: Float = j % 2 == 0 ? 1 : -1
                centroids[empty * d + j] = x * (1 + sign * epsilon)
                centroids[big * d + j] = x * (1 - sign * epsilon)
            }
            centroids.withUnsafeMutableBufferPointer { all in
                normalize(UnsafeMutableBufferPointer(rebasing: all[(empty * d)..<((empty + 1) * d)]))
                normalize(UnsafeMutableBufferPointer(rebasing: all[(big * d)..<((big + 1) * d)]))
            }
            sizes[empty] = sizes[big] / 2
            sizes[big] -= sizes[empty]
            splits += 1
        }
        return splits
    }

    /// For every point, the centroid with the highest dot product (ties: the lower index) and
    /// that product.
    public static func assign(points: UnsafeBufferPointer<Float>, dimension d: Int, centroids: [Float]) -> (labels: [Int32], scores: [Float]) {
        assign(points: points, dimension: d, centroids: centroids, candidates: nil, lowest: nil)
    }


    /// Full assignment; with `candidates`, also each point's `candidateCount` best centroids
    /// (ascending indices, n × candidateCount) and the smallest of their scores (`lowest`).
    static func assign(points: UnsafeBufferPointer<Float>, dimension d: Int, centroids: [Float],
                       candidates: UnsafeMutablePointer<Int32>?, lowest: UnsafeMutablePointer<Float>?) -> (labels: [Int32], scores: [Float]) {
        let n = points.count / d, k = centroids.count / d
        var labels = [Int32](repeating: 0, count: n)
        var best = [Float](repeating: 0, count: n)
        // Large blocks: OpenBLAS re-packs the centroid matrix on every call.
        let blockRows = 1024
        let blocks = (n + blockRows - 1) / blockRows
        let workers = min(Cores.available, max(1, blocks))
        let useBLAS = (try? BLAS.ensureLoaded()) != nil
        labels.withUnsafeMutableBufferPointer { labelBuffer in
            best.withUnsafeMutableBufferPointer { bestBuffer in
                centroids.withUnsafeBufferPointer { cent in
                    Parallel.onWorkers(workers) { w in
                        let scores = UnsafeMutablePointer<Float>.allocate(capacity: blockRows * k)
                        defer { scores.deallocate() }
                        var b = w
                        while b < blocks {
                            let first = b * blockRows, rows = min(blockRows, n - first)
                            let x = points.baseAddress! + first * d
                            BLAS.dotProducts(m: rows, n: k, d: d, a: x, b: cent.baseAddress!, into: scores, useBLAS: useBLAS)
                            for r in 0..<rows {
                                var top: Float = 0
                                labelBuffer[first + r] = Int32(rp_argmax(scores + r * k, k, &top))
                                bestBuffer[first + r] = top
                                if let candidates, let lowest {
                                    let mine = candidates + (first + r) * candidateCount
                                    rp_top_indices(scores + r * k, k, candidateCount, mine)
                                    var low = Float.infinity
                                    for c in 0..<candidateCount { low = min(low, scores[r * k + Int(mine[c])]) }
                                    lowest[first + r] = low
                                }
                            }
                            b += workers
                        }
                    }
                }
            }
        }
        return (labels, best)
    }
}
