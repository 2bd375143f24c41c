import RagPipeSupport

/// The part of `build-index`'s summary line about the vectors.
public enum DenseSummary {
    public static func line(kind: IndexKind, coding: VectorCoding, report r: DenseReport) -> String {
        var s = "\(kind.rawValue) \(coding.rawValue)" + (r.rerank ? " + fp32 re-rank" : "")
        if kind == .ivf {
            // A build with --centroids trained nothing: k-means ran once, in --train-only.
            if r.trainingPoints == 0 { s += ", \(r.nlist) trained lists (largest \(String(format1: r.listBalance ?? 0))× the mean), assigned in \(String(format1: (r.trainingSeconds ?? 0) * 1000)) ms; default nprobe \(r.nprobe)" } else {
            s += ", \(r.nlist) lists (largest \(String(format1: r.listBalance ?? 0))× the mean), k-means on \(grouped(r.trainingPoints)) points, "
                + "\(r.trainingIterations) iterations" + (r.trainingFullPasses.map { $0 < Double(r.trainingIterations) - 0.05 ? " (the cost of \(String(format1: $0)) full)" : "" } ?? "")
                + (r.emptyListSplits > 0 ? " (\(r.emptyListSplits) empty lists re-split)" : "")
                + ", \(String(format1: (r.trainingSeconds ?? 0) * 1000)) ms; default nprobe \(r.nprobe)"
        }
        }
        if let recall = r.recallAt10 {
            s += (kind == .ivf ? " reaches" : ",") + " recall@10 \(String(format3: recall)) vs exact (\(grouped(r.tuningQueries)) \(r.tuning?.summaryName ?? "own-vector queries"))"
        }
        return s
    }
}

extension TuningSource {
    public var summaryName: String {
        switch self {
        case .perturbedRows: "proxy queries: perturbed rows"
        case .suppliedQueries: "--tune-queries"
        }
    }
}
