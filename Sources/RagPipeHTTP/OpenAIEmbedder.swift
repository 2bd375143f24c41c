import Dispatch
import Foundation
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding

/// Embeddings from `POST /v1/embeddings` of an OpenAI-compatible server (OpenAI, llama.cpp's
/// `llama-server --embeddings`, vLLM…): batched, several requests in flight, retried with
/// backoff, results put back in input order and L2-normalized.
public final class OpenAIEmbedder: Embedder, @unchecked Sendable {
    public struct Settings: Sendable {
        /// Sent as `model` and recorded as the stream's model id: name it as the native embedder
        /// does (`all-MiniLM-L6-v2`) and the vectors can be queried natively, and vice versa.
        public var model = "all-MiniLM-L6-v2"
        public var batchSize = 64
        public var concurrency = 4
        /// Expected dimension; nil: learned from the first response.
        public var dimension: Int?
        public var http = HTTPTransport.Settings()
        public init() {}
    }

    public let settings: Settings
    public let endpoint: URL
    public let dimension: Int
    public var modelID: String { settings.model }
    public var maxTokens: Int { 8192 }
    public var tokenCounter: any TokenCounter { UpperBoundTokenCounter() }
    let transport: HTTPTransport

    public init(url: String, settings: Settings) throws {
        self.settings = settings
        endpoint = try URL.endpoint(url, "/v1/embeddings")
        transport = HTTPTransport(settings: settings.http)
        if let d = settings.dimension {
            dimension = d
        } else {
            let probe = try Self.request(["dimension probe"], endpoint: endpoint, model: settings.model, transport: transport)
            dimension = probe[0].count
        }
        guard dimension > 0 else { throw RagPipeError.unavailable("\(endpoint.absoluteString): empty embedding") }
    }

    @discardableResult
    public func embed(_ texts: [String], into output: UnsafeMutableBufferPointer<Float>) throws -> Int {
        try embed(inputs: texts, into: output)
        return 0
    }

    /// Embeds `texts`: strings, or token id arrays (`[Int]`) the server takes as they are.
    public func embed(inputs texts: [Any], into output: UnsafeMutableBufferPointer<Float>) throws {
        precondition(output.count >= texts.count * dimension)
        let batches = stride(from: 0, to: texts.count, by: settings.batchSize).map { $0..<min($0 + settings.batchSize, texts.count) }
        // Strings or integer arrays, read only; each batch writes its own rows of `output`.
        nonisolated(unsafe) let texts = texts
        try Parallel.forEachItem(batches.count, workers: max(1, min(settings.concurrency, batches.count))) { _, b in
            let range = batches[b]
            let vectors = try Self.request(Array(texts[range]), endpoint: endpoint, model: settings.model, transport: transport)
            for (i, v) in vectors.enumerated() {
                guard v.count == dimension else {
                    throw RagPipeError.dimensionMismatch("\(endpoint.absoluteString) returned \(v.count)-d vectors, expected \(dimension)")
                }
                guard v.allSatisfy(\.isFinite) else {
                    throw RagPipeError.unavailable("\(endpoint.absoluteString): embedding with NaN or infinity")
                }
                let row = UnsafeMutableBufferPointer(rebasing: output[((range.lowerBound + i) * dimension)..<((range.lowerBound + i + 1) * dimension)])
                var sum: Float = 0
                for x in v { sum += x * x }
                let scale = sum > 0 ? 1 / sum.squareRoot() : 0
                for j in 0..<dimension { row[j] = v[j] * scale }
            }
        }
    }

    /// One request; vectors come back ordered by their `index` field, one per input.
    static func request(_ texts: [Any], endpoint: URL, model: String, transport: HTTPTransport) throws -> [[Float]] {
        let body = try JSONSerialization.data(withJSONObject: ["model": model, "input": texts, "encoding_format": "float"], options: [.sortedKeys])
        let response = try transport.post(endpoint, json: body)
        guard let o = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
              let data = o["data"] as? [[String: Any]] else {
            throw RagPipeError.unavailable("\(endpoint.absoluteString): not an embeddings response: \(HTTPTransport.snippet(response.body))")
        }
        var vectors = [[Float]?](repeating: nil, count: texts.count)
        for (position, item) in data.enumerated() {
            let index = item["index"] as? Int ?? position
            guard index >= 0, index < texts.count, vectors[index] == nil,
                  let values = item["embedding"] as? [Any] else {
                throw RagPipeError.unavailable("\(endpoint.absoluteString): embeddings response has a bad or repeated index")
            }
            vectors[index] = values.map { Float(($0 as? NSNumber)?.doubleValue ?? .nan) }
        }
        guard vectors.allSatisfy({ $0 != nil }) else {
            throw RagPipeError.unavailable("\(endpoint.absoluteString): \(data.count) embeddings for \(texts.count) inputs")
        }
        return vectors.map { $0! }
    }
}
