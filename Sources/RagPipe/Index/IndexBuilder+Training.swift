import RagPipeSupport

extension IndexBuilder {
    /// Trains what shards must share (`TrainedQuantizer`) on the records added so far, with a
    /// dense build of them that is laid out, tuned and then dropped: the centroids and codec
    /// parameters it made, and the nprobe it chose, are kept. Nothing else is written.
    public func trainQuantizer(dense: DenseIndexOptions, status: (String) -> Void = { _ in }) throws -> TrainedQuantizer {
        guard count > 0, let dimension, let modelID else { throw RagPipeError.emptyInput("no records to train on") }
        try dense.tuning.checkModel(modelID)
        var options = dense
        options.trained = nil
        // Nothing is re-ranked or kept: only the lists' centroids and the codes' parameters matter.
        options.rerank = false
        func train(_ rows: BuildVectors) throws -> TrainedQuantizer {
            let layout = try DenseIndexBuilder.build(rows, options: options, status: status)
            return TrainedQuantizer(layout: layout, modelID: modelID, dimension: dimension, rows: count)
        }
        if let spool {
            try vectors.withUnsafeBufferPointer { try spool.append($0) }
            vectors = []
            let all = try spool.finish()
            return try train(BuildVectors(all, dimension: dimension, spool: spool, chunkRows: passChunkRows))
        }
        return try vectors.withUnsafeBufferPointer { try train(BuildVectors($0, dimension: dimension, chunkRows: passChunkRows)) }
    }
}
