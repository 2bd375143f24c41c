import RagPipeSupport
import RagPipeIndex

extension BuildIndexStage {
    /// `build-index --train-only`: an `embed` stream (the whole input or a sample of it) in, a
    /// trained quantizer file out (centroids, codec parameters, nprobe), for `--centroids`.
    /// `npy`: train on the rows of a float32 matrix (model id `modelID`) instead of a stream.
    public static func train(inputs: [String], output: String, dense: DenseIndexOptions, allowUnterminated: Bool = false,
                             npy: (path: String, modelID: String)? = nil,
                             progress: Progress) throws -> (quantizer: TrainedQuantizer, seconds: Double) {
        let kind = dense.kind ?? .ivf
        guard TrainedQuantizer.needed(kind: kind, coding: dense.coding) else {
            throw RagPipeError.usage("--train-only: a flat \(dense.coding.rawValue) index has nothing to train (give --kind ivf or --codes sq8)")
        }
        try OutputTarget.checkReplaceable(output)
        try OutputTarget.checkNotAnInput(output, inputs: inputs + (npy.map { [$0.path] } ?? []))
        let builder = IndexBuilder(spoolDirectory: OutputTarget.directory(of: output))
        if let npy {
            _ = try ingestNumpy(path: npy.path, into: builder, modelID: npy.modelID, progress: progress)
        } else {
            _ = try ingest(inputs: inputs, into: builder, allowUnterminated: allowUnterminated, progress: progress)
        }
        guard builder.count > 0 else {
            throw RagPipeError.emptyInput("no records in \(inputs.isEmpty ? "stdin" : inputs.joined(separator: " ")); nothing written to \(output)")
        }
        var options = dense
        options.kind = kind
        progress.step("training on \(grouped(builder.count)) records")
        let quantizer = try builder.trainQuantizer(dense: options, status: { progress.step($0) })
        try quantizer.write(to: output)
        return (quantizer, progress.elapsed)
    }
}

extension TrainedQuantizer {
    /// The line `build-index --train-only` ends with.
    public func line(output: String, seconds: Double) -> String {
        var line = "trained on \(grouped(trainingRows)) \(dimension)-d \(modelID) records → \(output): \(kind.rawValue) \(coding.rawValue)"
        if kind == .ivf {
            line += ", \(nlist) lists, nprobe \(nprobe)"
            if let r = report.recallAt10 { line += " (recall@10 \(String(format3: r)) on \(grouped(report.tuningQueries)) tuning queries)" }
        }
        return line + ", fingerprint \(fingerprint), \(String(format1: seconds)) s"
    }
}
