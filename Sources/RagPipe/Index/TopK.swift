import RagPipeChunking

/// The k best (highest-scoring) items seen so far: a bounded min-heap in flat arrays, so
/// rejecting a candidate costs one comparison with the current k-th score.
///
/// It is also the one result handler of every scan (faiss's `ResultHandler`): the distance
/// work writes a run of scores to a buffer, and `offer(_:count:ids:)` keeps the best of them.
/// Scans differ only in where a score's id comes from (`ResultIDs`), a generic parameter, so
/// each specializes to a plain loop with no call per vector.
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

    /// Items held: min(k, items offered).
    @inlinable public var count: Int { scores.count }
    /// Whether k items are held, so a candidate must beat `threshold` to enter.
    @inlinable public var isFull: Bool { scores.count >= k }

    /// The score a candidate must beat to enter.
    @inlinable public var threshold: Float { isFull ? scores[0] : -.infinity }

    @inlinable public mutating func push(_ score: Float, _ id: Int) {
        if scores.count < k {
            scores.append(score); ids.append(id)
            siftUp(scores.count - 1)
        } else if score > scores[0] || (score == scores[0] && id < ids[0]) {
            scores[0] = score; ids[0] = id
            siftDown(0)
        }
        assert(scores.count <= k && ids.count == scores.count, "TopK holds more than k items")
    }

    /// Offers `count` scores, the `i`-th with id `ids.id(at: i)`: every one while fewer than k
    /// are held, then those above the threshold. An id is asked for only when its score enters,
    /// so a table of ids from the file is checked only where it is used. Returns the position
    /// of the first id `ids` refuses (out of range), or nil.
    @inlinable public mutating func offer<IDs: ResultIDs>(_ scores: UnsafePointer<Float>, count: Int, ids: IDs) -> Int? {
        var i = 0
        while i < count && !isFull {
            guard let id = ids.id(at: i) else { return i }
            push(scores[i], id)
            i += 1
        }
        var threshold = self.threshold
        while i < count {
            if scores[i] > threshold {
                guard let id = ids.id(at: i) else { return i }
                push(scores[i], id)
                threshold = self.threshold
            }
            i += 1
        }
        assert(checkInvariants())
        return nil
    }

    /// Offers scores whose ids are `firstID ..< firstID + count` (rows of a block, lists).
    @inlinable public mutating func offer(_ scores: UnsafePointer<Float>, count: Int, firstID: Int) {
        _ = offer(scores, count: count, ids: ConsecutiveIDs(first: firstID))
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

    /// Whether the heap is well formed: at most k items, one id per score, and no child lower
    /// than its parent. O(k); `assert`ed after each run offered, so debug builds (the tests)
    /// check it and release builds skip it.
    @usableFromInline package func checkInvariants() -> Bool {
        guard scores.count <= k, ids.count == scores.count else { return false }
        for child in scores.indices.dropFirst() where less(child, (child - 1) / 2) { return false }
        return true
    }

    /// Best first; ties by ascending id.
    public func sorted() -> [(id: Int, score: Float)] {
        assert(checkInvariants())
        return zip(ids, scores).map { (id: $0, score: $1) }.sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
    }
}

/// Where the id of the `i`-th score of a run comes from. nil refuses the id (a damaged file),
/// which `TopK.offer` reports instead of keeping it.
public protocol ResultIDs {
    func id(at i: Int) -> Int?
}

/// Ids `first, first + 1, …`: rows of a flat scan, centroids.
public struct ConsecutiveIDs: ResultIDs {
    public let first: Int
    @inlinable public init(first: Int) { self.first = first }
    @inlinable public func id(at i: Int) -> Int? { first + i }
}
