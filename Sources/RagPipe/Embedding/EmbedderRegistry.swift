/// Finds the embedder a stream or an index names.
public enum EmbedderRegistry {
    /// Builds the embedder recorded as `modelID` with `dimension`, or explains why it can't.
    /// Model folders are looked up by name (`ModelLocator`) unless `modelDirectory` is given.
    public static func embedder(modelID: String, dimension: Int, modelDirectory: String? = nil,
                                threads: Int = 1) throws -> any Embedder {
        if modelID == HashEmbedder.modelName { return HashEmbedder(dimension: dimension) }
        guard let directory = modelDirectory ?? ModelLocator.find(modelID) else { throw ModelLocator.missing(modelID) }
        let embedder = try MiniLMEmbedder(directory: directory, threads: threads)
        guard embedder.modelID == modelID else {
            throw RagPipeError.modelMismatch("the index was built with '\(modelID)', --model \(directory) is '\(embedder.modelID)'")
        }
        return embedder
    }
}
