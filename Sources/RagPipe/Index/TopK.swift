import RagPipeChunking

/// The k best (highest-scoring) items seen so far: a bounded min-heap in flat arrays, so
/// rejecting a candidate costs one comparison with the current k-th score.
public struct TopK {
    public let k: Int
    @usableFromInline var scores: [Float] = []
    @usableFromInline var ids: [Int] = []

    public init(k: Int) {
        precondition(k > 0)
        self.k = k
        scores.reserveCapacity(k)
        ids.reserveCapacity(k)
    }

    /// The score a candidate must beat to enter.
    @inlinable public var threshold: Float { scores.count < k ? -.infinity : scores[0] }

    @inlinable public mutating func push(_ score: Float, _ id: Int) {
        if scores.count < k {
            scores.append(score); ids.append(id)
            siftUp(scores.count - 1)
        } else if score > scores[0] || (score == scores[0] && id < ids[0]) {
            scores[0] = score; ids[0] = id
            siftDown(0)
        }
    }

    /// Lower score first; for equal scores the larger id is "lower" so ties keep smaller ids.
    @inlinable func less(_ a: Int, _ b: Int) -> Bool {
        scores[a] < scores[b] || (scores[a] == scores[b] && ids[a] > ids[b])
    }

    @inlinable mutating func siftUp(_ i: Int) {
        var i = i
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { return }
            scores.swapAt(i, parent); ids.swapAt(i, parent)
            i = parent
        }
    }

    @inlinable mutating func siftDown(_ i: Int) {
        var i = i
        let n = scores.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && less(l, m) { m = l }
            if r < n && less(r, m) { m = r }
            if m == i { return }
            scores.swapAt(i, m); ids.swapAt(i, m)
            i = m
        }
    }

    /// Best first; ties by ascending id.
    public func sorted() -> [(id: Int, score: Float)] {
        zip(ids, scores).map { (id: $0, score: $1) }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
    }
}
