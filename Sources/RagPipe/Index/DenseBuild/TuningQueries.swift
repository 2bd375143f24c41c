import RagPipeSupport

/// The queries `build-index` tunes the default nprobe on (`NProbeTuning`).
public enum TuningQueries: Sendable, Equatable {
    /// `count` proxy queries made from the collection's own rows (`PerturbedRows`): the default,
    /// for builds without real questions.
    case perturbedRows(count: Int)
    /// Query vectors the user gave (`--tune-queries`): unit rows, row-major, embedded by
    /// `model` (nil: unknown, as for `.npy`), which must be the index's; `source` names them in
    /// errors. At most `suppliedLimit` of them are used, evenly spaced.
    case supplied(vectors: [Float], dimension: Int, model: String?, source: String = "--tune-queries")

    /// Exact search over the collection for every tuning query costs N·d multiply-adds per
    /// query: 2,000 queries over 1M × 384 vectors are 0.77 × 10¹² of them, a bound on build time.
    public static let suppliedLimit = 2_000

    /// Supplied queries embedded by another model than the index's are refused (exit 82).
    public func checkModel(_ indexModel: String) throws {
        if case .supplied(_, _, let model?, let source) = self, model != indexModel {
            throw RagPipeError.modelMismatch("\(source): vectors of model '\(model)', the records' are '\(indexModel)'")
        }
    }

    var source: TuningSource {
        switch self {
        case .perturbedRows: .perturbedRows
        case .supplied: .suppliedQueries
        }
    }
}

/// Where the queries that measured an index's recall came from, as META records it.
public enum TuningSource: String, Sendable, CaseIterable {
    case perturbedRows = "perturbed-rows"
    case suppliedQueries = "queries"
}

/// Tuning queries made ready for measurement: row-major unit vectors, and for proxies made
/// from a row, that row, which must not count as a hit (a real question's source passage is
/// not in the collection it searches).
struct TuningSet {
    var queries: [Float]
    var count: Int
    var sourceRows: [Int]?

    init(_ tuning: TuningQueries, vectors: BuildVectors, seed: UInt64) throws {
        let d = vectors.dimension
        switch tuning {
        case .perturbedRows(let wanted):
            let made = try PerturbedRows.make(vectors: vectors, count: min(wanted, vectors.count), seed: seed)
            queries = made.queries
            count = made.sources.count
            sourceRows = made.sources
        case .supplied(let all, let dimension, _, let source):
            guard dimension == d else {
                throw RagPipeError.dimensionMismatch("\(source): vectors have \(dimension) values, the index's have \(d)")
            }
            let available = all.count / d
            let used = min(available, TuningQueries.suppliedLimit)
            queries = [Float](repeating: 0, count: used * d)
            for i in 0..<used {
                let row = i * available / used
                for j in 0..<d { queries[i * d + j] = all[row * d + j] }
            }
            count = used
            sourceRows = nil
        }
    }
}
