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
        public init(endpoint: HTTPEndpoint) { self.endpoint = endpoint }
    }

    public let settings: Settings
    public private(set) var dimension = 0
    public var modelID: String { settings.model }
    public var maxTokens: Int { 8192 }
    public var tokenCounter: any TokenCounter { UpperBoundTokenCounter() }
    public var defaultMinScore: Float { 0.25 }
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
        _ = try call(texts: texts, into: output.baseAddress, capacity: output.count)
        return 0
    }

    func call(texts: [String], into output: UnsafeMutablePointer<Float>?, capacity: Int) throws -> Int {
        var out: [UInt8] = [0x7B]
        settings.endpoint.appendJSONFields(to: &out)
        out.append(0x2C); JSONWriter.appendKey("model", to: &out); JSONWriter.appendString(settings.model, to: &out)
        out.append(0x2C); JSONWriter.appendKey("batch_size", to: &out); JSONWriter.appendInt(settings.batchSize, to: &out)
        out.append(0x2C); JSONWriter.appendKey("concurrency", to: &out); JSONWriter.appendInt(settings.concurrency, to: &out)
        if dimension > 0 { out.append(0x2C); JSONWriter.appendKey("dimension", to: &out); JSONWriter.appendInt(dimension, to: &out) }
        out.append(0x2C); JSONWriter.appendKey("texts", to: &out); JSONWriter.appendStringArray(texts, to: &out)
        out.append(0x7D); out.append(0)
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
