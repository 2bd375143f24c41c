import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import CKernels
import Dispatch

/// How `build-index` lays out the dense vectors.
public struct DenseIndexOptions: Sendable {
    /// nil: `auto`, flat below `autoIVFThreshold` vectors, IVF from there on.
    public var kind: IndexKind?
    public var coding: VectorCoding = .fp32
    public var nlist: Int?
    /// A fixed default nprobe instead of the tuned one.
    public var nprobe: Int?
    /// Keep the exact fp32 vectors beside fp16/sq8 codes and re-rank with them.
    public var rerank = false
    /// k-means training sample size (points, not per list).
    public var trainingPoints: Int?
    public var iterations = 20
    public var seed: UInt64 = 1
    /// The recall@10 against exact search that the default nprobe must reach.
    public var targetRecall = 0.95
    /// Rows of the collection used as tuning queries.
    public var tuningQueries = 500

    /// Below this many vectors an exact flat scan is faster than building lists is worth:
    /// a flat fp32 scan took 2.2 ms at 36,300 × 384 and 4.6 ms at 100,000 (`make bench`), less than
    /// embedding a query with MiniLM (~10 ms, `query --json` timings).
    public static let autoIVFThreshold = 50_000
    public static let minimumPointsPerList = 39
    public static let maximumPointsPerList = 256

    public init() {}

    /// ~4·√N, and at most N/39 so every list gets 39 training points.
    public static func defaultNList(count n: Int) -> Int {
        max(1, min(Int((4 * Double(n).squareRoot()).rounded()), n / minimumPointsPerList))
    }

    /// 64 points per list (at least the 39 k-means needs, at most FAISS's 256), or all of N.
    public static func defaultTrainingPoints(nlist: Int, count n: Int) -> Int {
        min(n, nlist * 64)
    }
}

/// Memory the dense sections are built in, 64-byte aligned, freed with the object.
public final class OwnedBytes: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    init(count: Int) {
        self.count = count
        base = .allocate(byteCount: max(count, 1), alignment: IndexFormat.alignment)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
    }
    convenience init(_ bytes: [UInt8]) {
        self.init(count: bytes.count)
        bytes.withUnsafeBytes { if $0.count > 0 { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
    }
    deinit { base.deallocate() }
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// The dense-vector sections of an index, built in memory, and the figures measured on them.
public final class DenseLayout: @unchecked Sendable {
    public let kind: IndexKind
    public let coding: VectorCoding
    /// Sections besides `VF32`.
    public let sections: [(IndexFormat.SectionKind, OwnedBytes)]
    /// Whether `VF32` (row-ordered exact vectors) is written.
    public let writesExactVectors: Bool
    public let report: DenseReport

    init(kind: IndexKind, coding: VectorCoding, sections: [(IndexFormat.SectionKind, OwnedBytes)], writesExactVectors: Bool, report: DenseReport) {
        self.kind = kind; self.coding = coding; self.sections = sections; self.writesExactVectors = writesExactVectors; self.report = report
    }
}

/// Quality and cost figures of a dense build, stored in META and printed by `build-index`.
public struct DenseReport: Equatable, Sendable {
    public var nlist = 0
    public var nprobe = 0
    /// Recall@10 of the default search against exact fp32 search, on the collection's own rows
    /// as queries (each query's own row left out of both lists); nil for exact flat indexes.
    public var recallAt10: Double?
    public var targetRecall: Double?
    public var tuningQueries = 0
    /// Largest list over the mean list size.
    public var listBalance: Double?
    public var trainingPoints = 0
    public var trainingIterations = 0
    /// Empty lists re-seeded by splitting a large one, over all iterations.
    public var emptyListSplits = 0
    public var trainingSeconds: Double?
    public var rerank = false
    public var warnings: [String] = []
    public init() {}
}

public enum DenseIndexBuilder {
    /// Lays out `vectors` (n × d unit rows, kept alive by the caller during the call).
    public static func build(vectors: UnsafeBufferPointer<Float>, dimension d: Int, options: DenseIndexOptions,
                             status: (String) -> Void = { _ in }) throws -> DenseLayout {
        let n = vectors.count / d
        let kind = options.kind ?? (n >= DenseIndexOptions.autoIVFThreshold ? .ivf : .flat)
        let coding = options.coding
        var report = DenseReport()
        report.rerank = options.rerank && coding != .fp32
        if kind == .flat && coding == .fp32 {
            return DenseLayout(kind: .flat, coding: .fp32, sections: [], writesExactVectors: true, report: report)
        }
        let quantizer = coding == .sq8 ? SQ8Quantizer.train(vectors, dimension: d) : nil
        let codeSize = d * coding.bytesPerComponent
        var sections: [(IndexFormat.SectionKind, OwnedBytes)] = []
        if let quantizer { sections.append((.sq8Parameters, OwnedBytes(quantizer.bytes()))) }
        let writesExact = kind == .flat ? report.rerank : (coding == .fp32 ? false : report.rerank)

        let view: DenseIndex
        switch kind {
        case .flat:
            let codes = OwnedBytes(count: n * codeSize)
            CodeScanner.encode(vectors.baseAddress!, count: n, dimension: d, coding: coding, quantizer: quantizer, into: codes.base)
            sections.append((coding.flatSection, codes))
            view = DenseIndex(name: "(building)", count: n, dimension: d, kind: .flat, coding: coding, quantizer: quantizer,
                              exact: writesExact ? vectors : nil, flatCodes: UnsafeRawPointer(codes.base), ivf: nil,
                              defaultNProbe: 0, owner: codes)
        case .ivf:
            let nlist = options.nlist ?? DenseIndexOptions.defaultNList(count: n)
            guard nlist >= 1 && nlist <= n else {
                throw RagPipeError.usage("--nlist \(nlist) needs between 1 and \(n) (the number of vectors)")
            }
            report.nlist = nlist
            let (lists, built) = try buildLists(vectors: vectors, dimension: d, nlist: nlist, coding: coding, quantizer: quantizer,
                                                options: options, keepPositions: !writesExact, report: &report, status: status)
            sections += built
            view = DenseIndex(name: "(building)", count: n, dimension: d, kind: .ivf, coding: coding, quantizer: quantizer,
                              exact: writesExact ? vectors : nil, flatCodes: nil, ivf: lists, defaultNProbe: nlist,
                              owner: built.map(\.1) as AnyObject)
        }
        try tune(view, vectors: vectors, options: options, report: &report, status: status)
        return DenseLayout(kind: kind, coding: coding, sections: sections, writesExactVectors: writesExact, report: report)
    }

    /// k-means, assignment of every row, and the list sections: `IVFC`, `IVFD`, `IVFL`, and
    /// `IVFR` when there are no exact vectors to look rows up in.
    static func buildLists(vectors: UnsafeBufferPointer<Float>, dimension d: Int, nlist: Int, coding: VectorCoding,
                           quantizer: SQ8Quantizer?, options: DenseIndexOptions, keepPositions: Bool,
                           report: inout DenseReport, status: (String) -> Void) throws -> (DenseIndex.IVFLists, [(IndexFormat.SectionKind, OwnedBytes)]) {
        let n = vectors.count / d
        var sampleSize = options.trainingPoints ?? DenseIndexOptions.defaultTrainingPoints(nlist: nlist, count: n)
        sampleSize = min(n, max(nlist, sampleSize), nlist * DenseIndexOptions.maximumPointsPerList)
        if sampleSize < nlist * DenseIndexOptions.minimumPointsPerList {
            report.warnings.append("k-means trains \(nlist) lists on \(sampleSize) points, fewer than the \(DenseIndexOptions.minimumPointsPerList) per list it needs; consider a smaller --nlist")
        }
        var rng = SplitMix64(seed: options.seed)
        var rows = Array(0..<n)
        for i in 0..<sampleSize { rows.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        var sample = [Float](repeating: 0, count: sampleSize * d)
        for (s, row) in rows[..<sampleSize].sorted().enumerated() {
            for j in 0..<d { sample[s * d + j] = vectors[row * d + j] }
        }
        let clock = Stopwatch()
        let training = sample.withUnsafeBufferPointer {
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
        let labels = KMeans.assign(points: vectors, dimension: d, centroids: storedCentroids).labels
        report.trainingPoints = sampleSize
        report.trainingIterations = training.iterations
        report.emptyListSplits = training.splits
        report.trainingSeconds = clock.seconds

        var sizes = [Int](repeating: 0, count: nlist)
        for l in labels { sizes[Int(l)] += 1 }
        var firstPosition = [Int](repeating: 0, count: nlist + 1)
        for l in 0..<nlist { firstPosition[l + 1] = firstPosition[l] + sizes[l] }
        var order = [Int](repeating: 0, count: n)              // position → row, rows ascending per list
        var fill = firstPosition
        for row in 0..<n { let l = Int(labels[row]); order[fill[l]] = row; fill[l] += 1 }
        report.listBalance = Double(sizes.max()!) / (Double(n) / Double(nlist))

        let codeSize = d * coding.bytesPerComponent
        var offsets = [Int](repeating: 0, count: nlist)
        var total = 0
        for l in 0..<nlist {
            offsets[l] = total
            total += IndexFormat.align(4 * sizes[l]) + IndexFormat.align(codeSize * sizes[l])
        }
        let listBytes = OwnedBytes(count: total)
        var directory = [UInt8]()
        directory.reserveCapacity(nlist * IndexFormat.listEntrySize)
        var lists: [DenseIndex.IVFLists.List] = []
        for l in 0..<nlist {
            let ids = (listBytes.base + offsets[l]).assumingMemoryBound(to: UInt32.self)
            let codes = listBytes.base + offsets[l] + IndexFormat.align(4 * sizes[l])
            for i in 0..<sizes[l] {
                let row = order[firstPosition[l] + i]
                ids[i] = UInt32(row).littleEndian
                CodeScanner.encode(vectors.baseAddress! + row * d, count: 1, dimension: d, coding: coding, quantizer: quantizer,
                                   into: codes + i * codeSize)
            }
            IVFListEntry(offset: UInt64(offsets[l]), count: UInt32(sizes[l])).serialize(into: &directory)
            lists.append(.init(ids: UnsafePointer(ids), codes: UnsafeRawPointer(codes), count: sizes[l], firstPosition: firstPosition[l]))
        }
        let centroids = OwnedBytes(count: nlist * d * 2)
        halfCentroids.withUnsafeBytes { centroids.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var sections: [(IndexFormat.SectionKind, OwnedBytes)] = [(.ivfCentroids, centroids), (.ivfDirectory, OwnedBytes(directory)), (.ivfLists, listBytes)]
        var positions: UnsafePointer<UInt32>? = nil
        if keepPositions {
            let map = OwnedBytes(count: 4 * n)
            let p = map.base.assumingMemoryBound(to: UInt32.self)
            for position in 0..<n { p[order[position]] = UInt32(position).littleEndian }
            positions = UnsafePointer(p)
            sections.append((.ivfRowPositions, map))
        }
        return (DenseIndex.IVFLists(centroids: UnsafePointer(centroids.base.assumingMemoryBound(to: UInt16.self)), lists: lists,
                                    rowPositions: positions, largestList: sizes.max()!), sections)
    }

    /// Chooses the default nprobe: the smallest that reaches the target recall@10 on a sample
    /// of the collection's own rows as queries, and records the recall reached.
    static func tune(_ view: DenseIndex, vectors: UnsafeBufferPointer<Float>, options: DenseIndexOptions,
                     report: inout DenseReport, status: (String) -> Void) throws {
        var view = view
        let n = view.count, dim = view.dimension
        let queries = min(n, options.tuningQueries)
        // Too few vectors to tune on: the asked-for nprobe, else every list (exact).
        if view.kind == .ivf { report.nprobe = max(1, min(options.nprobe ?? view.nlist, view.nlist)) }
        guard queries > 1, n > 10 else { return }
        var rng = SplitMix64(seed: options.seed &+ 2)
        var rows = Array(0..<n)
        for i in 0..<queries { rows.swapAt(i, Int.random(in: i..<n, using: &rng)) }
        let queryRows = Array(rows[..<queries]).sorted()
        status("exact top-10 of \(queries) tuning queries")
        var queryVectors = [Float](repeating: 0, count: queries * dim)
        for (i, row) in queryRows.enumerated() { for j in 0..<dim { queryVectors[i * dim + j] = vectors[row * dim + j] } }
        let truth = ExactSearch.topK(queries: queryVectors, vectors: vectors, dimension: dim, k: 11)
            .enumerated().map { i, hits in Set(hits.lazy.filter { $0.id != queryRows[i] }.prefix(10).map(\.id)) }
        report.tuningQueries = queries
        report.targetRecall = options.targetRecall

        func recall(nprobe: Int) throws -> Double {
            let found = try ParallelMap.run(count: queries) { i -> Int in
                let q = Array(queryVectors[(i * dim)..<((i + 1) * dim)])
                let hits = try view.search(q, k: 11, nprobe: nprobe).lazy.filter { $0.id != queryRows[i] }.prefix(10)
                return hits.reduce(0) { $0 + (truth[i].contains($1.id) ? 1 : 0) }
            }
            let relevant = truth.reduce(0) { $0 + $1.count }
            return relevant == 0 ? 1 : Double(found.reduce(0, +)) / Double(relevant)
        }
        if view.kind == .flat {
            report.recallAt10 = try recall(nprobe: 0)
            return
        }
        if let fixed = options.nprobe {
            report.nprobe = max(1, min(fixed, view.nlist))
            report.recallAt10 = try recall(nprobe: report.nprobe)
            return
        }
        var best = (nprobe: view.nlist, recall: -1.0)
        var p = 1
        while true {
            p = min(p, view.nlist)
            status("tuning nprobe: \(p) of \(view.nlist) lists")
            let r = try recall(nprobe: p)
            if r > best.recall { best = (p, r) }
            if r >= options.targetRecall { best = (p, r); break }
            if p == view.nlist { break }
            p = max(p + 1, Int((Double(p) * 1.25).rounded()))
        }
        if best.recall < options.targetRecall {
            report.warnings.append("recall@10 reaches only \(String(format3: best.recall)) (target \(options.targetRecall)) even probing every list; "
                + (view.coding == .fp32 ? "" : "--rerank or finer codes would raise it"))
        }
        report.nprobe = best.nprobe
        report.recallAt10 = best.recall
        view.defaultNProbe = best.nprobe
    }
}

/// The part of `build-index`'s summary line about the vectors.
public enum DenseSummary {
    public static func line(kind: IndexKind, coding: VectorCoding, report r: DenseReport) -> String {
        var s = "\(kind.rawValue) \(coding.rawValue)" + (r.rerank ? " + fp32 re-rank" : "")
        if kind == .ivf {
            s += ", \(r.nlist) lists (largest \(String(format1: r.listBalance ?? 0))× the mean), k-means on \(grouped(r.trainingPoints)) points, "
                + "\(r.trainingIterations) iterations" + (r.emptyListSplits > 0 ? " (\(r.emptyListSplits) empty lists re-split)" : "")
                + ", \(String(format1: (r.trainingSeconds ?? 0) * 1000)) ms; default nprobe \(r.nprobe)"
        }
        if let recall = r.recallAt10 {
            s += (kind == .ivf ? " reaches" : ",") + " recall@10 \(String(format3: recall)) vs exact (\(r.tuningQueries) own-vector queries)"
        }
        return s
    }
}
