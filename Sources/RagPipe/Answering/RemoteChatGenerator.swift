import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding

/// Answers from an OpenAI-compatible chat server through the HTTP plugin (`query --llm`).
public final class RemoteChatGenerator: AnswerGenerator {
    public struct Settings: Sendable {
        public var endpoint: HTTPEndpoint
        public var model = "default"
        public var temperature = 0.0
        public var maxTokens = 256
        public var stream = false
        public init(endpoint: HTTPEndpoint) { self.endpoint = endpoint }
    }

    public let settings: Settings
    let plugin: HTTPPlugin.Functions

    public init(settings: Settings) throws {
        // JSON has no NaN: a request carrying one is refused by the server with no hint why.
        guard settings.temperature >= 0 && settings.temperature <= 2 else {
            throw RagPipeError.usage("temperature \(settings.temperature) is not in 0...2")
        }
        self.settings = settings
        plugin = try HTTPPlugin.functions.get()
    }

    func requestJSON(messages: [GroundedPrompt.Message]?) -> [UInt8] {
        var out: [UInt8] = [0x7B]
        settings.endpoint.appendJSONFields(to: &out)
        out.append(0x2C); JSONWriter.appendKey("model", to: &out); JSONWriter.appendString(settings.model, to: &out)
        out.append(0x2C); JSONWriter.appendKey("temperature", to: &out); JSONWriter.appendDouble(settings.temperature, to: &out)
        out.append(0x2C); JSONWriter.appendKey("max_tokens", to: &out); JSONWriter.appendInt(settings.maxTokens, to: &out)
        out.append(0x2C); JSONWriter.appendKey("stream", to: &out); JSONWriter.appendBool(settings.stream, to: &out)
        if let messages {
            out.append(0x2C); JSONWriter.appendKey("messages", to: &out); out.append(0x5B)
            for (i, m) in messages.enumerated() {
                if i > 0 { out.append(0x2C) }
                out.append(0x7B)
                JSONWriter.appendKey("role", to: &out); JSONWriter.appendString(m.role, to: &out)
                out.append(0x2C); JSONWriter.appendKey("content", to: &out); JSONWriter.appendString(m.content, to: &out)
                out.append(0x7D)
            }
            out.append(0x5D)
        }
        out.append(0x7D); out.append(0)
        return out
    }

    /// The server's context size when it reports one (llama.cpp's `/props`).
    public func serverContextTokens() -> Int? {
        var size: Int?
        let request = requestJSON(messages: nil)
        try? request.withUnsafeBufferPointer { r in
            try r.baseAddress!.withMemoryRebound(to: CChar.self, capacity: r.count) { json in
                try HTTPPlugin.parse(plugin.contextSize(json), free: plugin.free) { s, _ in
                    try s.beginObject()
                    while let key = try s.nextKey() {
                        if key.equals("n_ctx") { size = try s.readInt() } else { try s.skipValue() }
                    }
                }
            }
        }
        return size
    }

    final class Sink {
        let onText: ((String) -> Void)?
        init(_ onText: ((String) -> Void)?) { self.onText = onText }
    }

    public func generate(_ prompt: GroundedPrompt, onText: ((String) -> Void)?) throws -> GeneratedAnswer {
        var answer = GeneratedAnswer(text: "", model: settings.model)
        let sink = Sink(onText)
        let request = requestJSON(messages: prompt.messages)
        let callback: HTTPPlugin.TextCallback = { text, context in
            Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue().onText?(String(cString: text))
        }
        try withExtendedLifetime(sink) {
            try request.withUnsafeBufferPointer { r in
                try r.baseAddress!.withMemoryRebound(to: CChar.self, capacity: r.count) { json in
                    let reply = plugin.chat(json, callback, Unmanaged.passUnretained(sink).toOpaque())
                    try HTTPPlugin.parse(reply, free: plugin.free) { s, _ in
                        try s.beginObject()
                        while let key = try s.nextKey() {
                            if key.equals("text") { answer.text = try s.readString() }
                            else if key.equals("model") { answer.model = try s.readString() }
                            else if key.equals("finish_reason") { answer.finishReason = try s.readString() }
                            else if key.equals("prompt_tokens") { answer.promptTokens = try s.readInt() }
                            else if key.equals("completion_tokens") { answer.completionTokens = try s.readInt() }
                            else { try s.skipValue() }
                        }
                    }
                }
            }
        }
        return answer
    }
}
