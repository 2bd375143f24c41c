import Foundation
import RagPipeSupport
import RagPipeChunking
import RagPipeAnswering

/// `POST /v1/chat/completions` of an OpenAI-compatible server (OpenAI, llama.cpp's
/// `llama-server`, vLLM, Ollama…), plain or streamed (server-sent events).
public final class ChatClient: AnswerGenerator {
    public struct Settings: Sendable {
        public var model = "default"
        public var temperature = 0.0
        public var maxTokens = 256
        public var stream = false
        public var http = HTTPTransport.Settings()
        public init() {}
    }

    public let settings: Settings
    public let endpoint: URL
    let transport: HTTPTransport
    let base: String

    public init(url: String, settings: Settings) throws {
        self.settings = settings
        base = url
        endpoint = try URL.endpoint(url, "/v1/chat/completions")
        transport = HTTPTransport(settings: settings.http)
    }

    /// The server's context size when it says (llama.cpp `/props`), else nil.
    public func serverContextTokens() -> Int? {
        guard let url = try? URL.endpoint(base, "/props"), let data = transport.get(url),
              let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let settings = o["default_generation_settings"] as? [String: Any] else { return nil }
        return (settings["n_ctx"] as? Int) ?? ((settings["params"] as? [String: Any])?["n_ctx"] as? Int)
    }

    func requestBody(_ messages: [GroundedPrompt.Message]) throws -> Data {
        var body: [String: Any] = [
            "model": settings.model,
            "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "temperature": settings.temperature,
            "max_tokens": settings.maxTokens,
            "stream": settings.stream,
            // llama.cpp: without this, a reused prompt cache makes temperature-0 output vary.
            "cache_prompt": false,
        ]
        if settings.stream { body["stream_options"] = ["include_usage": true] }
        return try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
    }

    public func generate(_ prompt: GroundedPrompt, onText: ((String) -> Void)?) throws -> GeneratedAnswer {
        try complete(prompt.messages, onText: onText)
    }

    public func complete(_ messages: [GroundedPrompt.Message], onText: ((String) -> Void)?) throws -> GeneratedAnswer {
        let body = try requestBody(messages)
        if !settings.stream {
            let response = try transport.post(endpoint, json: body)
            return try Self.parseCompletion(response.body, endpoint: endpoint, requested: settings.model)
        }
        var parser = EventStreamParser()
        var answer = GeneratedAnswer(text: "", model: settings.model)
        var failure: Error?
        _ = try transport.post(endpoint, json: body) { chunk in
            for event in parser.feed(chunk) where failure == nil {
                do {
                    if let piece = try Self.apply(event: event, to: &answer, endpoint: self.endpoint), !piece.isEmpty {
                        onText?(piece)
                    }
                } catch { failure = error }
            }
        }
        if let failure { throw failure }
        return answer
    }

    static func parseCompletion(_ data: Data, endpoint: URL, requested: String) throws -> GeneratedAnswer {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = o["choices"] as? [[String: Any]], let first = choices.first,
              let message = first["message"] as? [String: Any] else {
            throw RagPipeError.unavailable("\(endpoint.absoluteString): not a chat completion: \(HTTPTransport.snippet(data))")
        }
        let usage = o["usage"] as? [String: Any]
        return GeneratedAnswer(text: message["content"] as? String ?? "", model: o["model"] as? String ?? requested,
                               finishReason: first["finish_reason"] as? String,
                               promptTokens: usage?["prompt_tokens"] as? Int, completionTokens: usage?["completion_tokens"] as? Int)
    }

    /// Folds one server-sent event into the answer; returns the text it added.
    static func apply(event: String, to answer: inout GeneratedAnswer, endpoint: URL) throws -> String? {
        guard event != "[DONE]" else { return nil }
        guard let o = try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any] else {
            throw RagPipeError.unavailable("\(endpoint.absoluteString): bad stream event: \(event.prefix(200))")
        }
        if let error = o["error"] {
            throw RagPipeError.unavailable("\(endpoint.absoluteString): server error: \(error)")
        }
        if let model = o["model"] as? String { answer.model = model }
        if let usage = o["usage"] as? [String: Any] {
            answer.promptTokens = usage["prompt_tokens"] as? Int
            answer.completionTokens = usage["completion_tokens"] as? Int
        }
        guard let choice = (o["choices"] as? [[String: Any]])?.first else { return nil }
        if let reason = choice["finish_reason"] as? String { answer.finishReason = reason }
        let piece = (choice["delta"] as? [String: Any])?["content"] as? String
        if let piece { answer.text += piece }
        return piece
    }
}

/// Splits a `text/event-stream` body into the `data:` payloads of its events.
struct EventStreamParser {
    var buffer = Data()
    var data: [String] = []

    mutating func feed(_ chunk: Data) -> [String] {
        buffer.append(chunk)
        var events: [String] = []
        while let newline = buffer.firstIndex(of: 0x0A) {
            var line = buffer[buffer.startIndex..<newline]
            buffer = Data(buffer[buffer.index(after: newline)...])
            if line.last == 0x0D { line = line.dropLast() }
            if line.isEmpty {
                if !data.isEmpty { events.append(data.joined(separator: "\n")); data = [] }
                continue
            }
            let text = String(decoding: line, as: UTF8.self)
            if text.hasPrefix("data:") {
                data.append(String(text.dropFirst(5).drop(while: { $0 == " " })))
            }
        }
        return events
    }
}
