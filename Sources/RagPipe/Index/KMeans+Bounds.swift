import RagPipeSupport
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the exact assignment between full ones keeps per point (`KMeans`): its candidates, the
/// bound they give on every other centroid, and how far centroids may have moved since.
///
/// At a point's last full scoring every non-candidate scored at most `lowest`, an angle of at
/// least acos(lowest). A centroid that has since moved by θ (radians, over the sphere) is
/// still at least acos(lowest) − θ away, so scores at most cos(acos(lowest) − θ). θ is at most
/// the sum of that centroid's moves since. Moves are heavy-tailed (small lists wander): the
/// `moverCount` centroids that travelled furthest since are scored outright, as candidates, and
/// the bound takes the largest travel of the rest.
struct CandidateBounds {
    let l = KMeans.candidateCount
    static let moverCount = 64
    /// n × l centroid indices, ascending per point.
    var candidates: [Int32]
    var lowest: [Float]
    /// The update count at the point's last full scoring.
    var refreshedAt: [Int32]
    /// Per update so far, every centroid's summed moves up to it (k each; the first all zero).
    var travelled: [[Double]] = []
    /// Per update count u: the centroids that travelled furthest since update u, and the
    /// furthest any other travelled.
    var since: [(movers: [Int32], others: Double, any: Double)] = []
    /// Points scored against every centroid so far.
    var fullScorings = 0
    /// Scores are summed in another order by BLAS than by `VectorMath.dot`: a margin for that.
    static let rounding: Float = 1e-5

    init(points n: Int, clusters k: Int) {
        candidates = [Int32](repeating: 0, count: n * KMeans.candidateCount)
        lowest = [Float](repeating: 1, count: n)
        refreshedAt = [Int32](repeating: 0, count: n)
        travelled = [[Double](repeating: 0, count: k)]
        since = [([], 0, 0)]
    }

    var updates: Int { travelled.count - 1 }

    /// Records every centroid's move between `old` and `new` (one update).
    mutating func recordMoves(from old: [Float], to new: [Float], dimension d: Int) {
        var total = travelled.last!
        old.withUnsafeBufferPointer { o in
            new.withUnsafeBufferPointer { c in
                for i in total.indices {
                    // From the chord, not acos of the dot product: a move of 10⁻⁴ rad has a
                    // cosine that rounds to 1 in float, and the bound must not miss it.
                    var chord = 0.0
                    for j in 0..<d {
                        let step = Double(c[i * d + j]) - Double(o[i * d + j])
                        chord += step * step
                    }
                    total[i] += 2 * asin(min(1, chord.squareRoot() / 2))
                }
            }
        }
        travelled.append(total)
        let m = min(Self.moverCount, total.count)
        since = travelled.map { then in
            let moved = zip(total, then).map { $0 - $1 }
            let order = moved.indices.sorted { moved[$0] > moved[$1] || (moved[$0] == moved[$1] && $0 < $1) }
            return (order[..<m].sorted().map { Int32($0) }, m < order.count ? moved[order[m]] : 0, moved[order[0]])
        }
    }

    /// The score a point's best candidate must beat for no other centroid to beat it; nil when
    /// the centroids may have moved too far for any bound.
    /// With `scoringMovers`, the bound on the centroids other than the movers (which are then
    /// scored); without, on every centroid outside the candidates.
    func threshold(_ i: Int, scoringMovers: Bool) -> Float? {
        let moved = scoringMovers ? since[Int(refreshedAt[i])].others : since[Int(refreshedAt[i])].any
        let room = acos(Double(min(1, max(-1, lowest[i])))) - moved
        guard room > 0 else { return nil }
        return Float(cos(room)) + Self.rounding
    }
}

extension KMeans {
    /// Every point's best centroid, as `assign` gives it, scoring a point against every centroid
    /// only when its candidates' bound does not settle it (or `full`), and then renewing its
    /// candidates and bound.
    static func assign(points: UnsafeBufferPointer<Float>, dimension d: Int, centroids: [Float],
                       bounds: inout CandidateBounds, previous: [Int32], full: Bool) -> [Int32] {
        let n = points.count / d, l = bounds.l
        var labels = [Int32](repeating: 0, count: n)
        var settled = [Bool](repeating: false, count: n)
        if !full {
            // Points in the order of their last labels: neighbours share candidates, which then
            // stay in cache from one point to the next.
            let order = Self.order(byLabel: previous, clusters: centroids.count / d)
            let blockRows = 4096
            let blocks = (n + blockRows - 1) / blockRows
            let workers = min(Cores.available, max(1, blocks))
            let frozen = bounds
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                settled.withUnsafeMutableBufferPointer { settledBuffer in
                    centroids.withUnsafeBufferPointer { cent in
                        frozen.candidates.withUnsafeBufferPointer { cand in
                            Parallel.onWorkers(workers) { w in
                                let scores = UnsafeMutablePointer<Float>.allocate(capacity: l + CandidateBounds.moverCount)
                                defer { scores.deallocate() }
                                var b = w
                                while b < blocks {
                                    for i in order[(b * blockRows)..<min(n, (b + 1) * blockRows)] {
                                        // The candidates alone settle most points once centroids
                                        // settle; the movers are scored when they do not.
                                        guard let threshold = frozen.threshold(i, scoringMovers: true) else { continue }
                                        let row = points.baseAddress! + i * d
                                        rp_gathered_dots(row, cent.baseAddress!, cand.baseAddress! + i * l, l, d, scores)
                                        // A near tie is left to the full scoring, whose rounding decides it
                                        // as every other full scoring does.
                                        var best = -Float.infinity, second = -Float.infinity, label: Int32 = 0
                                        for c in 0..<l {
                                            if scores[c] > best { second = best; best = scores[c]; label = cand[i * l + c] }
                                            else if scores[c] > second { second = scores[c] }
                                        }
                                        let clear = best - second > CandidateBounds.rounding
                                        if clear, let quick = frozen.threshold(i, scoringMovers: false), best > quick {
                                            labelBuffer[i] = label; settledBuffer[i] = true
                                            continue
                                        }
                                        let movers = frozen.since[Int(frozen.refreshedAt[i])].movers
                                        movers.withUnsafeBufferPointer { rp_gathered_dots(row, cent.baseAddress!, $0.baseAddress, $0.count, d, scores + l) }
                                        for (c, m) in movers.enumerated() where m != label {
                                            let s = scores[l + c]
                                            if s > best || (s == best && m < label) { second = best; best = s; label = m }
                                            else if s > second { second = s }
                                        }
                                        if best > threshold && best - second > CandidateBounds.rounding { labelBuffer[i] = label; settledBuffer[i] = true }
                                    }
                                    b += workers
                                }
                            }
                        }
                    }
                }
            }
        }
        let open = (0..<n).filter { !settled[$0] }
        bounds.fullScorings += open.count
        if open.count == n {
            let all = bounds.candidates.withUnsafeMutableBufferPointer { c in
                bounds.lowest.withUnsafeMutableBufferPointer { low in
                    assign(points: points, dimension: d, centroids: centroids, candidates: c.baseAddress!, lowest: low.baseAddress!).labels
                }
            }
            for i in 0..<n { bounds.refreshedAt[i] = Int32(bounds.updates) }
            return all
        }
        // The rest, gathered a chunk at a time and scored against every centroid.
        let chunkRows = 4096
        var gathered = [Float](repeating: 0, count: min(open.count, chunkRows) * d)
        var candidates = [Int32](repeating: 0, count: min(open.count, chunkRows) * l)
        var lowest = [Float](repeating: 0, count: min(open.count, chunkRows))
        for chunkStart in stride(from: 0, to: open.count, by: chunkRows) {
            let chunk = open[chunkStart..<min(open.count, chunkStart + chunkRows)]
            gathered.withUnsafeMutableBufferPointer { g in
                for (r, i) in chunk.enumerated() {
                    (g.baseAddress! + r * d).update(from: points.baseAddress! + i * d, count: d)
                }
            }
            let fresh = gathered.withUnsafeBufferPointer { g in
                candidates.withUnsafeMutableBufferPointer { c in
                    lowest.withUnsafeMutableBufferPointer { low in
                        assign(points: UnsafeBufferPointer(rebasing: g[..<(chunk.count * d)]), dimension: d, centroids: centroids,
                               candidates: c.baseAddress!, lowest: low.baseAddress!).labels
                    }
                }
            }
            for (r, i) in chunk.enumerated() {
                labels[i] = fresh[r]
                for j in 0..<l { bounds.candidates[i * l + j] = candidates[r * l + j] }
                bounds.lowest[i] = lowest[r]
                bounds.refreshedAt[i] = Int32(bounds.updates)
            }
        }
        return labels
    }

    /// Row numbers sorted by label (a counting sort), rows ascending within a label.
    static func order(byLabel labels: [Int32], clusters k: Int) -> [Int] {
        var start = [Int](repeating: 0, count: k + 1)
        for l in labels { start[Int(l) + 1] += 1 }
        for c in 0..<k { start[c + 1] += start[c] }
        var order = [Int](repeating: 0, count: labels.count)
        for (i, l) in labels.enumerated() { order[start[Int(l)]] = i; start[Int(l)] += 1 }
        return order
    }
}
