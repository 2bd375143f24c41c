import RagPipeRetrieval
import RagPipePipeline

/// `POST /v1/query`: `{"query": "…"}` and any of `query`'s options under their JSON names
/// (`QueryOptions.Field`: `k`, `mode`, `fusion`, `weight`, `min_score`, `min_evidence`, `nprobe`,
/// `answer_sentences`, `answer_words`, `strict`, `grounded_threshold`, `support_threshold`,
/// `bm25_k1`, `bm25_b`). Any other key is refused.
struct QueryRequest {
    var query: String
    var options: QueryOptions

    /// Longest question taken, in UTF-8 bytes (the embedder reads 256 tokens at most anyway).
    static let maximumQueryBytes = 8192

    init(_ body: JSONValue) throws {
        var r = try FieldReader(body)
        guard let query = try r.string("query") else { throw APIError.badRequest("'query' is required: {\"query\": \"your question\"}") }
        self.query = try Self.checked(query)
        options = try Self.options(&r)
        try r.finish()
    }

    /// A question as `query` would take it from a line of stdin: trimmed, not empty, not too long.
    static func checked(_ text: String) throws -> String {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw APIError.badRequest("'query' is empty") }
        guard trimmed.utf8.count <= maximumQueryBytes else {
            throw APIError.badRequest("'query' is longer than \(maximumQueryBytes) bytes")
        }
        return trimmed
    }

    /// The options fields of a body (the rest is the caller's to read), checked as `query` checks its options.
    static func options(_ r: inout FieldReader) throws -> QueryOptions {
        var o = QueryOptions()
        typealias F = QueryOptions.Field
        if let v = try r.int(F.k.rawValue) { o.k = v }
        o.minScore = try r.float(F.minScore.rawValue)
        o.minEvidence = try r.float(F.minEvidence.rawValue)
        o.mode = try r.choice(F.mode.rawValue, RetrievalMode.self)
        if let v = try r.choice(F.fusion.rawValue, Fusion.self) { o.fusion = v }
        if let v = try r.float(F.weight.rawValue) { o.weight = v }
        o.nprobe = try r.int(F.nprobe.rawValue)
        if let v = try r.int(F.answerSentences.rawValue) { o.answerSentences = v }
        if let v = try r.int(F.answerWords.rawValue) { o.answerWords = v }
        if let v = try r.bool(F.strict.rawValue) { o.strict = v }
        if let v = try r.float(F.groundedThreshold.rawValue) { o.groundedThreshold = v }
        if let v = try r.float(F.supportThreshold.rawValue) { o.supportThreshold = v }
        o.bm25K1 = try r.float(F.bm25K1.rawValue)
        o.bm25B = try r.float(F.bm25B.rawValue)
        if let problem = o.problem(naming: \.rawValue) { throw APIError.badRequest(problem, code: "invalid_option") }
        return o
    }
}

/// `POST /v1/embeddings`, OpenAI's shape: `input` is a string, an array of strings, an array of
/// token ids or an array of such arrays (what `embed --tokenizer` sends); `model` (when given)
/// must be the index's model; `dimensions` (when given) must be its dimension;
/// `encoding_format` is `float` or `base64`.
struct EmbeddingsRequest {
    enum Inputs { case texts([String]), tokenIDs([[Int32]]) }
    var inputs: Inputs
    var model: String?
    var dimensions: Int?
    var base64 = false

    /// Most inputs in one request.
    static let maximumInputs = 2048

    init(_ body: JSONValue) throws {
        var r = try FieldReader(body)
        guard let input = r.value("input") else { throw APIError.badRequest("'input' is required: a string or an array of strings") }
        inputs = try Self.inputs(input)
        model = try r.string("model")
        dimensions = try r.int("dimensions")
        if let format = try r.string("encoding_format") {
            guard format == "float" || format == "base64" else { throw APIError.badRequest("'encoding_format' must be 'float' or 'base64', not '\(format)'") }
            base64 = format == "base64"
        }
        try r.finish(ignoring: ["user"])
    }

    var count: Int {
        switch inputs {
        case .texts(let t): t.count
        case .tokenIDs(let t): t.count
        }
    }

    static func inputs(_ value: JSONValue) throws -> Inputs {
        func ids(_ items: [JSONValue]) throws -> [Int32] {
            try items.map { item in
                guard case .number(let x) = item, x == x.rounded(), abs(x) < 2e9 else { throw APIError.badRequest("'input': token ids must be integers") }
                return Int32(x)
            }
        }
        switch value {
        case .string(let s): return .texts([s])
        case .array(let items):
            guard !items.isEmpty else { throw APIError.badRequest("'input' is an empty array") }
            guard items.count <= maximumInputs else { throw APIError.badRequest("'input' holds \(items.count) items, more than \(maximumInputs)") }
            switch items[0] {
            case .string:
                return .texts(try items.map { item in
                    guard case .string(let s) = item else { throw APIError.badRequest("'input' mixes strings with \(item.typeName)") }
                    return s
                })
            case .number: return .tokenIDs([try ids(items)])
            case .array:
                return .tokenIDs(try items.map { item in
                    guard case .array(let inner) = item else { throw APIError.badRequest("'input' mixes token id arrays with \(item.typeName)") }
                    return try ids(inner)
                })
            default: throw APIError.badRequest("'input' must hold strings or token ids, not \(items[0].typeName)")
            }
        default: throw APIError.badRequest("'input' must be a string or an array, not \(value.typeName)")
        }
    }
}

/// `POST /v1/chat/completions`, OpenAI's shape: the last `user` message is the question; OpenAI's
/// sampling parameters are accepted and ignored (the answer is extractive); `stream` answers as
/// server-sent events. A `ragpipe` object may carry `/v1/query`'s options.
struct ChatRequest {
    var question: String
    var model: String?
    var stream = false
    var options: QueryOptions

    /// OpenAI parameters a client may send that change nothing in an extractive answer.
    static let ignoredParameters: Set<String> = [
        "temperature", "top_p", "n", "stop", "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
        "logit_bias", "logprobs", "top_logprobs", "user", "seed", "response_format", "stream_options", "parallel_tool_calls",
        "tools", "tool_choice", "metadata", "store", "service_tier", "reasoning_effort", "modalities",
    ]

    init(_ body: JSONValue) throws {
        var r = try FieldReader(body)
        guard case .array(let messages)? = r.value("messages"), !messages.isEmpty else {
            throw APIError.badRequest("'messages' is required: an array of {\"role\", \"content\"} objects")
        }
        var question: String?
        for (i, message) in messages.enumerated() {
            var m = try FieldReader(message, context: "messages[\(i)]")
            let role = try m.string("role")
            let content = try Self.text(of: m.value("content"), at: i)
            try m.finish(ignoring: ["name", "tool_calls", "tool_call_id", "refusal", "audio"])
            if role == "user", let content { question = content }
        }
        guard let question else { throw APIError.badRequest("'messages' holds no user message with text content") }
        self.question = try QueryRequest.checked(question)
        model = try r.string("model")
        stream = try r.bool("stream") ?? false
        if let extra = r.value("ragpipe") {
            var o = try FieldReader(extra, context: "'ragpipe'")
            options = try QueryRequest.options(&o)
            try o.finish()
        } else {
            options = QueryOptions()
        }
        try r.finish(ignoring: Self.ignoredParameters)
    }

    /// A message's text: a string, or the `text` parts of an array of content parts.
    static func text(of content: JSONValue?, at i: Int) throws -> String? {
        switch content {
        case nil: return nil
        case .string(let s)?: return s
        case .array(let parts)?:
            var texts: [String] = []
            for part in parts {
                guard case .object(let fields) = part else { throw APIError.badRequest("messages[\(i)].content: parts must be objects") }
                if fields.first(where: { $0.key == "type" })?.value == .string("text"),
                   case .string(let t)? = fields.first(where: { $0.key == "text" })?.value { texts.append(t) }
            }
            return texts.isEmpty ? nil : texts.joined(separator: "\n")
        case let other?: throw APIError.badRequest("messages[\(i)].content must be a string or an array of parts, not \(other.typeName)")
        }
    }
}
