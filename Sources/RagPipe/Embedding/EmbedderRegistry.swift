import RagPipeSupport

/// Finds the embedder a stream or an index names.
public enum EmbedderRegistry {
    /// Builds the embedder recorded as `modelID` with `dimension`, or explains why it can't.
    /// Model folders are looked up by name (`ModelLocator`) unless `modelDirectory` is given.
    public static func embedder(modelID: String, dimension: Int, modelDirectory: String? = nil,
                                threads: Int = 1, use: EncoderUse = .batch) throws -> any Embedder {
        if modelID == HashEmbedder.modelName { return HashEmbedder(dimension: dimension) }
        let id = try EmbeddingModelID(parsing: modelID)
        guard let directory = modelDirectory ?? ModelLocator.find(id.name) else { throw ModelLocator.missing(id.name) }
        let embedder = try MiniLMEmbedder(directory: directory, threads: threads, precision: id.precision, use: use)
        guard embedder.modelID == modelID else {
            throw RagPipeError.modelMismatch("the index was built with '\(modelID)', --model \(directory) is '\(embedder.modelID)'")
        }
        return embedder
    }
}

/// A native model's id in streams and indexes: the model folder's name, then "@bf16" or "@int8"
/// when its linear layers ran in reduced precision (fp32 has no suffix, so older files read as fp32).
/// Vectors of one model in two precisions differ, so they never share an index or a cache.
public struct EmbeddingModelID: Equatable, CustomStringConvertible, Sendable {
    public var name: String
    public var precision: EncoderPrecision

    public init(name: String, precision: EncoderPrecision) {
        self.name = name; self.precision = precision
    }

    public init(parsing id: String) throws {
        guard let at = id.lastIndex(of: "@") else { self.init(name: id, precision: .fp32); return }
        let suffix = String(id[id.index(after: at)...])
        guard let precision = EncoderPrecision(rawValue: suffix), precision != .fp32 else {
            throw RagPipeError.unavailable("model '\(id)': unknown precision '\(suffix)' (this build knows "
                + EncoderPrecision.allCases.filter { $0 != .fp32 }.map { "@" + $0.rawValue }.joined(separator: ", ") + ")")
        }
        self.init(name: String(id[..<at]), precision: precision)
    }

    public var description: String { precision == .fp32 ? name : name + "@" + precision.rawValue }
}
