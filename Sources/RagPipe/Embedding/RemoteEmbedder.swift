import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// Embeddings from an OpenAI-compatible `/v1/embeddings` server through the HTTP plugin
/// (`embed --embedder openai`, `query --embed-url`): batched, concurrent, retried, in order.
public final class RemoteEmbedder: Embedder, @unchecked Sendable {
    public struct Settings: Sendable {
        public var endpoint: HTTPEndpoint
        /// Sent to the server and recorded as the model id.
        public var model = "all-MiniLM-L6-v2"
        public var batchSize = 64
        public var concurrency = 4
        /// Expected dimension; nil: learned from a probe request.
        public var dimension: Int?
        /// Tokenize here and send token ids, truncated at `maxTokens` as sentence-transformers
        /// does: the server then sees exactly the native port's input. Without it the server
        /// tokenizes; llama.cpp neither truncates at the model's 256 tokens nor splits Hangul as
        /// BERT's tokenizer does (README, "HTTP embeddings").
        public var tokenizer: (WordPieceTokenizer, maxTokens: Int)?
        public init(endpoint: HTTPEndpoint) { self.endpoint = endpoint }

        /// Tokenize here with the WordPiece vocabulary of the model folder `directory` (nil: the
        /// server tokenizes), as `embed --tokenizer` and `query --embed-tokenizer` ask.
        public mutating func tokenize(withModelIn directory: String?) throws {
            tokenizer = try directory.map { try MiniLMEmbedder.tokenizer(directory: $0) }
        }
    }

    public let settings: Settings
    public private(set) var dimension = 0
    public var modelID: String { settings.model }
    public var maxTokens: Int { settings.tokenizer?.maxTokens ?? 8192 }
    public var tokenCounter: any TokenCounter {
        settings.tokenizer.map { WordPieceTokenCounter(tokenizer: $0.0) } ?? UpperBoundTokenCounter()
    }
    /// Only with the native tokenizer does the server see the exact input the model was calibrated on.
    public var reproducedModel: String? { settings.tokenizer != nil ? settings.model : nil }
    let plugin: HTTPPlugin.Functions

    public init(settings: Settings) throws {
        self.settings = settings
        plugin = try HTTPPlugin.functions.get()
        dimension = try call(texts: [], into: nil, capacity: 0)
        if let expected = settings.dimension, expected != dimension {
            throw RagPipeError.dimensionMismatch("\(settings.endpoint.url) returns \(dimension)-d vectors, expected \(expected)")
        }
    }

    @discardableResult
    public func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        guard !texts.isEmpty else { return 0 }
        guard let (tokenizer, maxTokens) = settings.tokenizer else {
            _ = try call(texts: texts, into: output.baseAddress, capacity: output.count)
            return 0
        }
        var truncated = 0
        let ids = texts.map { text in
            let (ids, full) = tokenizer.encode(text, maxLength: maxTokens)
            if full > ids.count { truncated += 1 }
            return ids
        }
        _ = try call(texts: [], tokenIDs: ids, into: output.baseAddress, capacity: output.count)
        return truncated
    }

    func call(texts: [String], tokenIDs: [[Int32]] = [], into output: UnsafeMutablePointer<Float>?, capacity: Int) throws -> Int {
        var out = JSONObjectWriter.bytes { o in
            settings.endpoint.writeFields(to: &o)
            o.field("model", settings.model)
            o.field("batch_size", settings.batchSize)
            o.field("concurrency", settings.concurrency)
            if dimension > 0 { o.field("dimension", dimension) }
            o.field("texts", texts)
            if !tokenIDs.isEmpty {
                o.array("token_ids") { a in
                    for ids in tokenIDs { a.array { a in for id in ids { a.element(Int(id)) } } }
                }
            }
        }
        out.append(0)                       // a C string for the plugin
        var d = 0
        try out.withUnsafeBufferPointer { r in
            try r.baseAddress!.withMemoryRebound(to: CChar.self, capacity: r.count) { json in
                try HTTPPlugin.parse(plugin.embed(json, output, capacity), free: plugin.free) { s, _ in
                    try s.beginObject()
                    while let key = try s.nextKey() {
                        if key.equals("dimension") { d = try s.readInt() } else { try s.skipValue() }
                    }
                }
            }
        }
        return d
    }
}
