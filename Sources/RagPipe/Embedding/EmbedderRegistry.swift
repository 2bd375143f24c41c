import RagPipeSupport

/// Makes every embedder the tools use, in one place: the one a new stream is embedded with
/// (`embed --embedder`), and the one an index or stream names (`query`, `evaluate`), natively or
/// through a server.
public enum EmbedderRegistry {
    /// How the native encoder is loaded.
    public struct NativeSettings: Sendable {
        /// The model folder; nil: found by the model's name (`ModelLocator`).
        public var modelDirectory: String?
        /// Forward passes run at once (vectors do not depend on it).
        public var threads: Int
        /// What it is loaded for: batch work, or a few queries per process.
        public var use: EncoderUse

        public init(modelDirectory: String? = nil, threads: Int = 1, use: EncoderUse = .batch) {
            self.modelDirectory = modelDirectory; self.threads = threads; self.use = use
        }
    }

    /// The embedder of a new stream (`embed --embedder`).
    public enum Choice: Sendable {
        /// The native sentence-transformers port in `precision` (the default model, or the folder
        /// `NativeSettings` names).
        case native(precision: EncoderPrecision)
        /// Feature hashing: no model needed.
        case hash(dimension: Int)
        /// An OpenAI-compatible `/v1/embeddings` server.
        case remote(RemoteEmbedder.Settings)
    }

    /// Makes the embedder `choice` names.
    public static func embedder(_ choice: Choice, native: NativeSettings = NativeSettings()) throws -> any Embedder {
        switch choice {
        case .hash(let dimension):
            return HashEmbedder(dimension: dimension)
        case .remote(let settings):
            return try RemoteEmbedder(settings: settings)
        case .native(let precision):
            guard let directory = native.modelDirectory ?? ModelLocator.find() else { throw ModelLocator.missing() }
            return try MiniLMEmbedder(directory: directory, threads: native.threads, precision: precision, use: native.use)
        }
    }

    /// Builds the embedder recorded as `modelID` with `dimension`, or explains why it can't.
    /// Model folders are looked up by name (`ModelLocator`) unless `modelDirectory` is given.
    public static func embedder(modelID: String, dimension: Int, modelDirectory: String? = nil,
                                threads: Int = 1, use: EncoderUse = .batch) throws -> any Embedder {
        try embedder(modelID: modelID, dimension: dimension,
                     native: NativeSettings(modelDirectory: modelDirectory, threads: threads, use: use))
    }

    /// The embedder that reproduces `modelID` (the model an index or stream was made with): the
    /// hash embedder, the native model, or with `remote` a server asked for that model by name.
    /// `source` (the index's path) names what holds the vectors in errors.
    public static func embedder(modelID: String, dimension: Int, native: NativeSettings,
                                remote: RemoteEmbedder.Settings? = nil, source: String = "the index") throws -> any Embedder {
        if let remote {
            let id = try EmbeddingModelID(parsing: modelID)
            guard id.precision == .fp32 else {
                throw RagPipeError.usage("--embed-url: \(source) holds \(id.precision.rawValue) vectors of \(id.name), "
                    + "which a server would not reproduce; query it without --embed-url")
            }
            var settings = remote
            settings.model = modelID
            return try RemoteEmbedder(settings: settings)
        }
        if modelID == HashEmbedder.modelName { return HashEmbedder(dimension: dimension) }
        let id = try EmbeddingModelID(parsing: modelID)
        guard let directory = native.modelDirectory ?? ModelLocator.find(id.name) else { throw ModelLocator.missing(id.name) }
        let embedder = try MiniLMEmbedder(directory: directory, threads: native.threads, precision: id.precision, use: native.use)
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
