/// Finds the embedder a stream or an index names.
public enum EmbedderRegistry {
    /// Builds the embedder recorded as `modelID` with `dimension`, or explains why it can't.
    public static func embedder(modelID: String, dimension: Int) throws -> any Embedder {
        if modelID == HashEmbedder.modelName { return HashEmbedder(dimension: dimension) }
        throw RagPipeError.unavailable("unknown embedding model '\(modelID)': this ragpipe knows \(HashEmbedder.modelName)")
    }
}
