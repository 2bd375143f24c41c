import RagPipeRecords
import RagPipeAnswering

/// A `QueryResult` as an OpenAI chat completion: the answer with its `[n]` markers, then the
/// sources it cites, as the assistant's message; the whole `/v1/query` object under `ragpipe`.
enum ChatAnswer {
    /// The message text: the answer, a blank line, "Sources:" and one line per citation
    /// (`[n] path:start-end (title)`), as `query` prints them.
    static func content(of result: QueryResult) -> String {
        var text = result.answer.text
        if !result.answer.citations.isEmpty {
            text += "\n\n" + (result.answer.abstained ? "Closest sources:" : "Sources:")
            for c in result.answer.citations {
                text += "\n[\(c.number)] \(c.source):\(c.start)-\(c.end)" + (c.title.isEmpty ? "" : " (\(c.title))")
            }
        }
        return text
    }

    static func queryObject(_ result: QueryResult) -> [UInt8] {
        var bytes: [UInt8] = []
        result.appendJSON(to: &bytes)
        if bytes.last == 0x0A { bytes.removeLast() }
        return bytes
    }

    /// `chat.completion`, with `usage` counted in words (there is no generating model to count tokens).
    static func completion(id: String, created: Int, model: String, content: String, result: QueryResult) -> [UInt8] {
        let words = content.split(whereSeparator: \.isWhitespace).count
        let asked = result.query.split(whereSeparator: \.isWhitespace).count
        return JSONObjectWriter.bytes { o in
            o.field("id", id)
            o.field("object", "chat.completion")
            o.field("created", created)
            o.field("model", model)
            o.array("choices") { a in
                a.object { o in
                    o.field("index", 0)
                    o.object("message") { m in
                        m.field("role", "assistant")
                        m.field("content", content)
                    }
                    o.field("finish_reason", "stop")
                }
            }
            o.object("usage") { u in
                u.field("prompt_tokens", asked)
                u.field("completion_tokens", words)
                u.field("total_tokens", asked + words)
            }
            o.field("ragpipe", writtenBy: { $0.append(contentsOf: queryObject(result)) })
        }
    }

    /// The same answer as server-sent events (`stream: true`): a first chunk with the role, the
    /// content a few words at a time, a last chunk with `finish_reason` and the `/v1/query` object,
    /// then `data: [DONE]`.
    static func events(id: String, created: Int, model: String, content: String, result: QueryResult) -> [[UInt8]] {
        func chunk(_ body: (inout JSONObjectWriter) -> Void, finish: String?, extra: [UInt8]? = nil) -> [UInt8] {
            var out = Array("data: ".utf8)
            out += JSONObjectWriter.bytes { o in
                o.field("id", id)
                o.field("object", "chat.completion.chunk")
                o.field("created", created)
                o.field("model", model)
                o.array("choices") { a in
                    a.object { o in
                        o.field("index", 0)
                        o.object("delta", body)
                        if let finish { o.field("finish_reason", finish) } else { o.field("finish_reason", writtenBy: { $0 += Array("null".utf8) }) }
                    }
                }
                if let extra { o.field("ragpipe", writtenBy: { $0 += extra }) }
            }
            out += Array("\n\n".utf8)
            return out
        }
        var events = [chunk({ $0.field("role", "assistant"); $0.field("content", "") }, finish: nil)]
        for piece in pieces(of: content) { events.append(chunk({ $0.field("content", piece) }, finish: nil)) }
        events.append(chunk({ _ in }, finish: "stop", extra: queryObject(result)))
        events.append(Array("data: [DONE]\n\n".utf8))
        return events
    }

    /// `text` cut after every fourth space or newline; the pieces concatenate to `text` exactly.
    static func pieces(of text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var breaks = 0
        for c in text {
            current.append(c)
            if c == " " || c == "\n" {
                breaks += 1
                if breaks == 4 { pieces.append(current); current = ""; breaks = 0 }
            }
        }
        if !current.isEmpty { pieces.append(current) }
        return pieces
    }
}
