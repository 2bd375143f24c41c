import RagPipeSupport

/// Where a trained quantizer meets a dense build: made from the layout a training build lays
/// out, and used by a later build in place of training (`DenseIndexBuilder`'s two hooks).
extension TrainedQuantizer {
    /// Whether a build with these options has anything to train that shards must share:
    /// centroids (IVF) or codec parameters (sq8). Flat fp32 and fp16 shards need no quantizer.
    public static func needed(kind: IndexKind, coding: VectorCoding) -> Bool { kind == .ivf || coding == .sq8 }

    /// The quantizer of a finished training build: its `IVFC` and the codec's parameter
    /// sections, and the nprobe tuning chose.
    init(layout: DenseLayout, modelID: String, dimension: Int, rows: Int) {
        let bytes = { (kind: IndexFormat.SectionKind) in layout.sections.first { $0.0 == kind }.map { Array($0.1.buffer) } ?? [] }
        let centroids = bytes(.ivfCentroids)
        let half = stride(from: 0, to: centroids.count, by: 2).map { UInt16(centroids[$0]) | UInt16(centroids[$0 + 1]) << 8 }
        let parameters = layout.coding.codec.parameterSectionKinds.flatMap { bytes($0) }
        self.init(modelID: modelID, dimension: dimension, kind: layout.kind, coding: layout.coding,
                  nlist: layout.kind == .ivf ? layout.report.nlist : 0, nprobe: layout.kind == .ivf ? layout.report.nprobe : 0,
                  halfCentroids: half, parameters: parameters, trainingRows: rows, report: layout.report)
    }

    /// The codec these parameters describe, read as a file's sections are (and so checked again).
    func codec<Codec: VectorCodec>(_: Codec.Type) throws -> Codec {
        guard Codec.coding == coding else { throw RagPipeError.usage("\(path) is for \(coding.rawValue) codes, not \(Codec.coding.rawValue)") }
        return try parameters.withUnsafeBytes { raw in
            do throws(IndexFileError) {
                return try Codec.open(dimension: dimension) { $0 == .sq8Parameters ? raw : nil }
            } catch {
                throw error.error(path: path)
            }
        }
    }

    /// Every row's list under the stored centroids, as `IVFTraining.run` assigns after k-means.
    func assign(_ vectors: BuildVectors, report: inout DenseReport, status: (String) -> Void) throws -> IVFTraining.Result {
        let d = vectors.dimension, centroids = storedCentroids
        let clock = Stopwatch()
        status("assigning \(vectors.count) vectors to \(nlist) trained lists")
        var labels: [Int32] = []
        labels.reserveCapacity(vectors.count)
        try vectors.forEachChunk { _, chunk in
            labels += KMeans.assign(points: chunk, dimension: d, centroids: centroids).labels
        }
        report.trainingPoints = 0
        report.trainingIterations = 0
        report.trainingSeconds = clock.seconds
        return IVFTraining.Result(halfCentroids: halfCentroids, labels: labels)
    }
}

extension VectorCodec {
    /// The kinds of `parameterSections`, known without an instance (the trained file keeps
    /// their bytes in this order).
    static var parameterSectionKinds: [IndexFormat.SectionKind] { coding == .sq8 ? [.sq8Parameters] : [] }
}

extension DenseIndexOptions {
    /// These options with what `trained` fixes: its kind, codes, lists and nprobe (the
    /// nprobe is then measured, not tuned, so every shard stores the same one).
    public func using(_ trained: TrainedQuantizer) -> DenseIndexOptions {
        var o = self
        o.trained = trained
        o.kind = trained.kind
        o.coding = trained.coding
        o.nlist = nil
        o.nprobe = trained.kind == .ivf ? trained.nprobe : nil
        return o
    }

    /// Refuses records the trained quantizer (if any) was not made for.
    public func checkTrained(records builder: IndexBuilder) throws {
        guard let trained, let model = builder.modelID, let d = builder.dimension else { return }
        if let error = trained.mismatch(modelID: model, dimension: d, count: builder.count) { throw error }
    }
}
