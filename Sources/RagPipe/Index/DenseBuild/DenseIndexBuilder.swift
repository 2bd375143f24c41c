import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// Lays out the dense vectors of a build: flat codes, or k-means lists (`IVFTraining`,
/// `IVFListLayout`), then measures the default search against exact search (`NProbeTuning`).
public enum DenseIndexBuilder {
    /// Lays out `vectors` (n × d unit rows, kept alive by the caller during the call).
    public static func build(vectors: UnsafeBufferPointer<Float>, dimension d: Int, options: DenseIndexOptions,
                             status: (String) -> Void = { _ in }) throws -> DenseLayout {
        try build(BuildVectors(vectors, dimension: d), options: options, status: status)
    }

    /// The same over a build's rows, in memory or spooled (`BuildVectors`).
    package static func build(_ vectors: BuildVectors, options: DenseIndexOptions, status: (String) -> Void = { _ in }) throws -> DenseLayout {
        try build(options.coding.codec, vectors: vectors, options: options, status: status)
    }

    /// The build with its codec fixed: everything below is generic over it.
    static func build<Codec: VectorCodec>(_: Codec.Type, vectors: BuildVectors,
                                          options: DenseIndexOptions, status: (String) -> Void) throws -> DenseLayout {
        let n = vectors.count, d = vectors.dimension
        // rabitq codes live in inverted lists: `auto` means IVF for them at any size.
        let kind = options.kind ?? (n >= DenseIndexOptions.autoIVFThreshold || options.coding == .rabitq ? .ivf : .flat)
        if kind == .flat && options.coding == .rabitq { throw RagPipeError.usage("--codes rabitq needs --kind ivf (or auto)") }
        var report = DenseReport()
        // Exact codes are the vectors: nothing to re-rank with, and a flat index of them is VF32 alone.
        report.rerank = options.rerank && !Codec.isExact
        if kind == .flat && Codec.isExact {
            return DenseLayout(kind: .flat, coding: Codec.coding, sections: [], writesExactVectors: true, report: report)
        }
        let codec = try options.trained.map { try $0.codec(Codec.self) } ?? Codec.train(vectors)
        var sections = codec.parameterSections.map { ($0.0, OwnedBytes($0.1)) }
        let writesExact = report.rerank
        let exact = writesExact ? vectors.all : nil

        let view: DenseIndex
        switch kind {
        case .flat:
            let codes = OwnedBytes(count: n * codec.codeSize)
            try vectors.forEachChunk { rows, chunk in
                codec.encode(chunk.baseAddress!, count: rows.count, into: codes.base + rows.lowerBound * codec.codeSize)
            }
            sections.append((Codec.flatSection, codes))
            view = DenseIndex(name: "(building)", count: n, dimension: d,
                              codes: FlatCodes(codec: codec, codes: UnsafeRawPointer(codes.base), count: n), exact: exact, owner: codes)
        case .ivf:
            let nlist = options.trained?.nlist ?? options.nlist ?? DenseIndexOptions.defaultNList(count: n)
            guard nlist >= 1 && nlist <= n else {
                throw RagPipeError.usage("--nlist \(nlist) needs between 1 and \(n) (the number of vectors)")
            }
            report.nlist = nlist
            let training = try options.trained.map { try $0.assign(vectors, report: &report, status: status) }
                ?? IVFTraining.run(vectors: vectors, nlist: nlist, options: options, report: &report, status: status)
            // Every list is probed until tuning chooses: the view is searched with explicit nprobes only.
            let (lists, built) = try IVFListLayout.build(vectors: vectors, training: training, codec: codec, defaultNProbe: nlist,
                                                     keepPositions: !writesExact, report: &report)
            sections += built
            var codes: any DenseCodes = lists
            if options.coding == .rabitq, let sq8 = lists as? IVFCodes<SQ8Codec> {
                let (rabitq, bitSections) = try RaBitQLayout.build(vectors: vectors, training: training, lists: sq8, seed: options.seed)
                sections += bitSections
                codes = rabitq
            }
            view = DenseIndex(name: "(building)", count: n, dimension: d, codes: codes, exact: exact, owner: sections.map(\.1) as AnyObject)
        }
        try NProbeTuning.tune(view, vectors: vectors, options: options, report: &report, status: status)
        vectors.releaseMapping()
        return DenseLayout(kind: kind, coding: options.coding == .rabitq ? .rabitq : Codec.coding, sections: sections,
                           writesExactVectors: writesExact, report: report)
    }
}
