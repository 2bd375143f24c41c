import Foundation
import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeAnswering

// The C entry points of libRagPipeHTTPPlugin.so. `query` and `embed` open the plugin with
// `dlopen` only when asked to talk HTTP (`--llm`, `--embed-url`, `--embedder openai`), so the
// ~10 ms that loading Foundation and FoundationNetworking costs is not paid by every run
// (README, "Performance"). Requests and replies are JSON C strings; the reply is
// `{"ok": …}` or `{"error": "one line", "status": exit status}` and is freed with
// `ragpipe_http_free`. The API key never crosses: the plugin reads it from the environment.

func reply(_ body: () throws -> Any) -> UnsafeMutablePointer<CChar> {
    var object: [String: Any]
    do {
        object = ["ok": try body()]
    } catch let error as RagPipeError {
        object = ["error": error.description, "status": Int(error.exitStatus)]
    } catch {
        object = ["error": "\(error)", "status": 1]
    }
    let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{\"error\":\"unencodable reply\",\"status\":1}".utf8)
    return strdup(String(decoding: data, as: UTF8.self))!
}

func request(_ json: UnsafePointer<CChar>) throws -> [String: Any] {
    guard let o = try? JSONSerialization.jsonObject(with: Data(String(cString: json).utf8)) as? [String: Any] else {
        throw RagPipeError.usage("plugin: malformed request")
    }
    return o
}

func httpSettings(_ o: [String: Any]) -> HTTPTransport.Settings {
    HTTPTransport.Settings(timeout: o["timeout"] as? Double ?? 120, retries: o["retries"] as? Int ?? 3,
                           apiKeyEnvironment: o["api_key_env"] as? String ?? "OPENAI_API_KEY")
}

public typealias TextCallback = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer?) -> Void

/// Chat: `{"url", "model", "temperature", "max_tokens", "stream", "timeout", "retries",
/// "api_key_env", "messages": [{"role", "content"}]}` → `{"ok": {"text", "model",
/// "finish_reason"?, "prompt_tokens"?, "completion_tokens"?}}`; streamed text goes to `onText`.
@_cdecl("ragpipe_http_chat")
public func ragpipeHTTPChat(_ json: UnsafePointer<CChar>, _ onText: TextCallback?, _ context: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar> {
    reply {
        let o = try request(json)
        var settings = ChatClient.Settings()
        settings.model = o["model"] as? String ?? "default"
        settings.temperature = o["temperature"] as? Double ?? 0
        settings.maxTokens = o["max_tokens"] as? Int ?? 256
        settings.stream = o["stream"] as? Bool ?? false
        settings.http = httpSettings(o)
        let client = try ChatClient(url: o["url"] as? String ?? "", settings: settings)
        let messages = (o["messages"] as? [[String: String]] ?? []).map { GroundedPrompt.Message(role: $0["role"] ?? "", content: $0["content"] ?? "") }
        let answer = try client.complete(messages) { piece in piece.withCString { onText?($0, context) } }
        var out: [String: Any] = ["text": answer.text, "model": answer.model]
        if let r = answer.finishReason { out["finish_reason"] = r }
        if let t = answer.promptTokens { out["prompt_tokens"] = t }
        if let t = answer.completionTokens { out["completion_tokens"] = t }
        return out
    }
}

/// The server's context size when it reports one: `{"url", …}` → `{"ok": {"n_ctx": N}}` or `{"ok": {}}`.
@_cdecl("ragpipe_http_context_size")
public func ragpipeHTTPContextSize(_ json: UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar> {
    reply {
        let o = try request(json)
        let client = try ChatClient(url: o["url"] as? String ?? "", settings: { var s = ChatClient.Settings(); s.http = httpSettings(o); return s }())
        return client.serverContextTokens().map { ["n_ctx": $0] } ?? [:]
    }
}

/// Embeddings: `{"url", "model", "batch_size", "concurrency", "dimension"?, "timeout", "retries",
/// "api_key_env", "texts": […]}` → `{"ok": {"dimension": d}}` with `texts.count × d` floats
/// written to `output` (room for `capacity` floats; with no texts, only the dimension is probed).
@_cdecl("ragpipe_http_embed")
public func ragpipeHTTPEmbed(_ json: UnsafePointer<CChar>, _ output: UnsafeMutablePointer<Float>?, _ capacity: Int) -> UnsafeMutablePointer<CChar> {
    reply {
        let o = try request(json)
        var settings = OpenAIEmbedder.Settings()
        settings.model = o["model"] as? String ?? settings.model
        settings.batchSize = o["batch_size"] as? Int ?? settings.batchSize
        settings.concurrency = o["concurrency"] as? Int ?? settings.concurrency
        settings.dimension = o["dimension"] as? Int
        settings.http = httpSettings(o)
        let embedder = try OpenAIEmbedder(url: o["url"] as? String ?? "", settings: settings)
        // Texts, or token id sequences tokenized by the caller (the API takes either as `input`).
        let texts = o["texts"] as? [String] ?? []
        let ids = o["token_ids"] as? [[Int]] ?? []
        let inputs: [Any] = ids.isEmpty ? texts : ids
        if !inputs.isEmpty {
            guard let output, capacity >= inputs.count * embedder.dimension else {
                throw RagPipeError.dimensionMismatch("\(embedder.endpoint.absoluteString) returns \(embedder.dimension)-d vectors, expected \(capacity / max(inputs.count, 1))")
            }
            try embedder.embed(inputs: inputs, into: UnsafeMutableBufferPointer(start: output, count: inputs.count * embedder.dimension))
        }
        return ["dimension": embedder.dimension]
    }
}

@_cdecl("ragpipe_http_free")
public func ragpipeHTTPFree(_ pointer: UnsafeMutablePointer<CChar>?) { free(pointer) }
