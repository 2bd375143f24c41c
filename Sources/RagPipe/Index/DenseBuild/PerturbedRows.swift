import RagPipeSupport

/// Proxy queries for tuning an index without real questions.
///
/// A row of the collection is an easier query than a real question: its neighbours sit in its
/// own list and the next few, so an nprobe tuned on rows fell short on questions (0.90 instead
/// of 0.95 recall@10 on SciFact claims against 8,915 SciFact chunks). Each proxy is
/// `q = c·x + √(1−c²)·u`: `x` a row, which is then left out of the truth and the results as a
/// question's own passage is absent from the index; `c` uniform in `similarity` (a MiniLM
/// sentence scored 0.68 against its own passage on average, 0.48–0.85 from the 10th to the
/// 90th percentile, on SciFact; a SQuAD question 0.57 against its paragraph); `u` the unit part,
/// orthogonal to `x`, of the sum of `mixedRows` random rows minus that many means: a direction
/// drawn from the collection's own spread. An isotropic direction does not do: in 384
/// dimensions it is nearly orthogonal to every row, so it lowers all scores alike and leaves the
/// ranking, and the recall, as easy as the row's.
enum PerturbedRows {
    static let similarity = 0.5...0.9
    static let mixedRows = 8
    /// Rows averaged for the mean: a strided sample is enough for a direction of spread.
    static let meanSample = 65_536

    static func make(vectors: BuildVectors, count: Int, seed: UInt64) throws -> (queries: [Float], sources: [Int]) {
        let n = vectors.count, d = vectors.dimension
        guard count > 0, n > 0 else { return ([], []) }
        var rng = SplitMix64(seed: seed)
        var rows = Array(0..<n)
        for i in 0..<count { rows.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        let sources = Array(rows[..<count])

        let stride = max(1, n / meanSample)
        var mean = [Float](repeating: 0, count: d)
        var averaged = 0
        var y = [Float](repeating: 0, count: d)
        for row in Swift.stride(from: 0, to: n, by: stride) {
            try vectors.readRow(row, into: &y)
            for j in 0..<d { mean[j] += y[j] }
            averaged += 1
        }
        for j in 0..<d { mean[j] /= Float(averaged) }

        var queries = [Float](repeating: 0, count: count * d)
        var u = [Float](repeating: 0, count: d)
        var x = [Float](repeating: 0, count: d)
        for (i, source) in sources.enumerated() {
            try vectors.readRow(source, into: &x)
            for j in 0..<d { u[j] = -Float(mixedRows) * mean[j] }
            for _ in 0..<mixedRows {
                try vectors.readRow(Int.random(in: 0..<n, using: &rng), into: &y)
                for j in 0..<d { u[j] += y[j] }
            }
            var along: Float = 0
            for j in 0..<d { along += u[j] * x[j] }
            for j in 0..<d { u[j] -= along * x[j] }
            var norm: Float = 0
            for j in 0..<d { norm += u[j] * u[j] }
            norm = norm.squareRoot()
            let c = Float(Double.random(in: similarity, using: &rng))
            // A collection with no spread (every row alike) has no direction to move in: the row itself.
            let s = norm > 1e-6 ? (1 - c * c).squareRoot() / norm : 0
            let scale: Float = norm > 1e-6 ? c : 1
            for j in 0..<d { queries[i * d + j] = scale * x[j] + s * u[j] }
        }
        return (queries, sources)
    }
}
