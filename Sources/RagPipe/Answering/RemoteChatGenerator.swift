import RagPipeRetrieval
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
        var out = JSONObjectWriter.bytes { o in
            settings.endpoint.writeFields(to: &o)
            o.field("model", settings.model)
            o.field("temperature", settings.temperature)
            o.field("max_tokens", settings.maxTokens)
            o.field("stream", settings.stream)
            if let messages {
                o.array("messages") { a in
                    for m in messages { a.object { o in o.field("role", m.role); o.field("content", m.content) } }
                }
            }
        }
        out.append(0)                       // a C string for the plugin
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
