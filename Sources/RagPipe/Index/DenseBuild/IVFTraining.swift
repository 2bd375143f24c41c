import RagPipeSupport
import CKernels

/// The coarse quantizer of an IVF build: k-means on a sample of the rows, centroids rounded to
/// the halves the file stores, and every row assigned to its list with those stored values.
enum IVFTraining {
    struct Result {
        /// nlist × d IEEE half, as `IVFC` stores them.
        var halfCentroids: [UInt16]
        /// The list of every row.
        var labels: [Int32]
    }

    static func run(vectors: BuildVectors, nlist: Int, options: DenseIndexOptions,
                    report: inout DenseReport, status: (String) -> Void) throws -> Result {
        let n = vectors.count, d = vectors.dimension
        var sampleSize = options.trainingPoints ?? DenseIndexOptions.defaultTrainingPoints(nlist: nlist, count: n)
        sampleSize = min(n, max(nlist, sampleSize), nlist * DenseIndexOptions.maximumPointsPerList)
        if sampleSize < nlist * DenseIndexOptions.minimumPointsPerList {
            report.warnings.append("k-means trains \(nlist) lists on \(sampleSize) points, fewer than the \(DenseIndexOptions.minimumPointsPerList) per list it needs; consider a smaller --nlist")
        }
        var rng = SplitMix64(seed: options.seed)
        var rows = Array(0..<n)
        for i in 0..<sampleSize { rows.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        let sampleRows = rows[..<sampleSize].sorted()
        rows = []
        var sample = [Float](repeating: 0, count: sampleSize * d)
        try sample.withUnsafeMutableBufferPointer { out in
            for (s, row) in sampleRows.enumerated() { try vectors.readRow(row, into: out.baseAddress! + s * d) }
        }
        let clock = Stopwatch()
        var training = sample.withUnsafeBufferPointer {
            KMeans.train(points: $0, dimension: d, clusters: nlist, iterations: options.iterations, seed: options.seed &+ 1) { i in
                status("k-means: \(nlist) lists on \(sampleSize) points, iteration \(i + 1)")
            }
        }
        // Stored centroids are halves; rows are assigned with exactly the values queries will see.
        var halfCentroids = [UInt16](repeating: 0, count: nlist * d)
        rp_f32_to_f16(training.centroids, &halfCentroids, nlist * d)
        var storedCentroids = [Float](repeating: 0, count: nlist * d)
        rp_f16_to_f32(halfCentroids, &storedCentroids, nlist * d)
        status("assigning \(n) vectors to \(nlist) lists")
        // The training points keep their bounds: rounding the centroids to halves is one more
        // (small) move, so most of them are settled without a full scoring (exactly, as in
        // training), and the pass over every row scores only the others.
        var sampleLabels: [Int32]?
        // Taken out of `training`, so the bounds' arrays have one owner and update in place.
        if var final = training.finalBounds.take() {
            final.bounds.recordMoves(from: training.centroids, to: storedCentroids, dimension: d)
            sampleLabels = sample.withUnsafeBufferPointer {
                KMeans.assign(points: $0, dimension: d, centroids: storedCentroids, bounds: &final.bounds, previous: final.labels, full: false)
            }
        }
        // Not needed again: the pass below must not hold it beside its own buffers.
        sample = []
        var labels = [Int32](repeating: 0, count: n)
        var nextSample = 0
        var others: [Float] = []
        try vectors.forEachChunk { range, chunk in
            guard let sampleLabels else {
                labels.replaceSubrange(range, with: KMeans.assign(points: chunk, dimension: d, centroids: storedCentroids).labels)
                return
            }
            // This chunk's training rows take their labels; the rest are gathered and scored.
            var otherRows: [Int] = []
            otherRows.reserveCapacity(range.count)
            for row in range {
                if nextSample < sampleRows.count && sampleRows[nextSample] == row {
                    labels[row] = sampleLabels[nextSample]
                    nextSample += 1
                } else {
                    otherRows.append(row)
                }
            }
            guard !otherRows.isEmpty else { return }
            others.removeAll(keepingCapacity: true)
            for row in otherRows { others.append(contentsOf: chunk[((row - range.lowerBound) * d)..<((row - range.lowerBound + 1) * d)]) }
            let scored = others.withUnsafeBufferPointer { KMeans.assign(points: $0, dimension: d, centroids: storedCentroids).labels }
            for (row, label) in zip(otherRows, scored) { labels[row] = label }
        }
        report.trainingPoints = sampleSize
        report.trainingIterations = training.iterations
        report.trainingFullPasses = Double(training.fullScorings) / Double(sampleSize)
        report.emptyListSplits = training.splits
        report.trainingSeconds = clock.seconds
        return Result(halfCentroids: halfCentroids, labels: labels)
    }
}
