import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// Lays out the dense vectors of a build: flat codes, or k-means lists (`IVFTraining`,
/// `IVFListLayout`), then measures the default search against exact search (`NProbeTuning`).
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
            let training = IVFTraining.run(vectors: vectors, dimension: d, nlist: nlist, options: options, report: &report, status: status)
            let (lists, built) = IVFListLayout.build(vectors: vectors, dimension: d, training: training, coding: coding,
                                                     quantizer: quantizer, keepPositions: !writesExact, report: &report)
            sections += built
            view = DenseIndex(name: "(building)", count: n, dimension: d, kind: .ivf, coding: coding, quantizer: quantizer,
                              exact: writesExact ? vectors : nil, flatCodes: nil, ivf: lists, defaultNProbe: nlist,
                              owner: built.map(\.1) as AnyObject)
        }
        try NProbeTuning.tune(view, vectors: vectors, options: options, report: &report, status: status)
        return DenseLayout(kind: kind, coding: coding, sections: sections, writesExactVectors: writesExact, report: report)
    }
}
