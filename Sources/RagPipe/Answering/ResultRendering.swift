import RagPipeRecords
import RagPipeChunking

/// The two forms `query` prints: readable text, and one JSON object per query
/// (a stable contract, `"version": 1`, documented in docs/FORMATS.md).
extension QueryResult {
    public static let jsonVersion = 1

    public func appendJSON(to out: inout [UInt8]) {
        out.append(0x7B)
        JSONWriter.appendKey("version", to: &out); JSONWriter.appendInt(Self.jsonVersion, to: &out)
        out.append(0x2C); JSONWriter.appendKey("query", to: &out); JSONWriter.appendString(query, to: &out)
        out.append(0x2C); JSONWriter.appendKey("hits", to: &out); out.append(0x5B)
        for (i, h) in hits.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x7B)
            JSONWriter.appendKey("rank", to: &out); JSONWriter.appendInt(h.rank, to: &out)
            out.append(0x2C); JSONWriter.appendKey("id", to: &out); JSONWriter.appendString(h.record.id, to: &out)
            out.append(0x2C); JSONWriter.appendKey("score", to: &out); JSONWriter.appendRounded(Double(h.score), decimals: 6, to: &out)
            out.append(0x2C); JSONWriter.appendKey("similarity", to: &out); JSONWriter.appendRounded(Double(h.similarity), decimals: 6, to: &out)
            out.append(0x2C); JSONWriter.appendKey("source", to: &out); JSONWriter.appendString(h.record.source, to: &out)
            out.append(0x2C); JSONWriter.appendKey("start", to: &out); JSONWriter.appendInt(h.record.start, to: &out)
            out.append(0x2C); JSONWriter.appendKey("end", to: &out); JSONWriter.appendInt(h.record.end, to: &out)
            out.append(0x2C); JSONWriter.appendKey("title", to: &out); JSONWriter.appendString(h.record.title, to: &out)
            out.append(0x2C); JSONWriter.appendKey("headings", to: &out); JSONWriter.appendStringArray(h.record.headings, to: &out)
            out.append(0x2C); JSONWriter.appendKey("text", to: &out); JSONWriter.appendString(h.record.text, to: &out)
            out.append(0x7D)
        }
        out.append(0x5D)
        out.append(0x2C); JSONWriter.appendKey("answer", to: &out); JSONWriter.appendString(answer.text, to: &out)
        out.append(0x2C); JSONWriter.appendKey("abstained", to: &out); JSONWriter.appendBool(answer.abstained, to: &out)
        out.append(0x2C); JSONWriter.appendKey("backend", to: &out); JSONWriter.appendString(answer.backend.rawValue, to: &out)
        if let e = answer.evidence {
            out.append(0x2C); JSONWriter.appendKey("evidence", to: &out); JSONWriter.appendRounded(Double(e), decimals: 4, to: &out)
        }
        if let g = answer.groundedness {
            out.append(0x2C); JSONWriter.appendKey("grounded", to: &out); JSONWriter.appendBool(g.grounded, to: &out)
            out.append(0x2C); JSONWriter.appendKey("groundedness", to: &out); JSONWriter.appendRounded(Double(g.groundedness), decimals: 4, to: &out)
            out.append(0x2C); JSONWriter.appendKey("answer_sentences", to: &out); out.append(0x5B)
            for (i, s) in g.sentences.enumerated() {
                if i > 0 { out.append(0x2C) }
                out.append(0x7B)
                JSONWriter.appendKey("text", to: &out); JSONWriter.appendString(s.text, to: &out)
                out.append(0x2C); JSONWriter.appendKey("cites", to: &out); out.append(0x5B)
                out.append(contentsOf: s.citations.map(String.init).joined(separator: ",").utf8); out.append(0x5D)
                out.append(0x2C); JSONWriter.appendKey("support", to: &out); JSONWriter.appendRounded(Double(s.support), decimals: 4, to: &out)
                out.append(0x2C); JSONWriter.appendKey("citations_valid", to: &out); JSONWriter.appendBool(s.citationsValid, to: &out)
                out.append(0x2C); JSONWriter.appendKey("supported", to: &out); JSONWriter.appendBool(s.supported, to: &out)
                out.append(0x7D)
            }
            out.append(0x5D)
        }
        out.append(0x2C); JSONWriter.appendKey("escalated", to: &out); JSONWriter.appendBool(answer.escalated, to: &out)
        if let gen = answer.generation {
            out.append(0x2C); JSONWriter.appendKey("llm", to: &out); out.append(0x7B)
            JSONWriter.appendKey("model", to: &out); JSONWriter.appendString(gen.model, to: &out)
            if let r = gen.finishReason { out.append(0x2C); JSONWriter.appendKey("finish_reason", to: &out); JSONWriter.appendString(r, to: &out) }
            if let t = gen.promptTokens { out.append(0x2C); JSONWriter.appendKey("prompt_tokens", to: &out); JSONWriter.appendInt(t, to: &out) }
            if let t = gen.completionTokens { out.append(0x2C); JSONWriter.appendKey("completion_tokens", to: &out); JSONWriter.appendInt(t, to: &out) }
            out.append(0x2C); JSONWriter.appendKey("raw", to: &out); JSONWriter.appendString(gen.text, to: &out)
            out.append(0x7D)
        }
        out.append(0x2C); JSONWriter.appendKey("citations", to: &out); out.append(0x5B)
        for (i, c) in answer.citations.enumerated() {
            if i > 0 { out.append(0x2C) }
            out.append(0x7B)
            JSONWriter.appendKey("n", to: &out); JSONWriter.appendInt(c.number, to: &out)
            out.append(0x2C); JSONWriter.appendKey("source", to: &out); JSONWriter.appendString(c.source, to: &out)
            out.append(0x2C); JSONWriter.appendKey("start", to: &out); JSONWriter.appendInt(c.start, to: &out)
            out.append(0x2C); JSONWriter.appendKey("end", to: &out); JSONWriter.appendInt(c.end, to: &out)
            out.append(0x2C); JSONWriter.appendKey("title", to: &out); JSONWriter.appendString(c.title, to: &out)
            out.append(0x7D)
        }
        out.append(0x5D)
        out.append(0x2C); JSONWriter.appendKey("timings_ms", to: &out); out.append(0x7B)
        JSONWriter.appendKey("embed", to: &out); JSONWriter.appendRounded(timings.embedMs, decimals: 3, to: &out)
        out.append(0x2C); JSONWriter.appendKey("search", to: &out); JSONWriter.appendRounded(timings.searchMs, decimals: 3, to: &out)
        out.append(0x2C); JSONWriter.appendKey("fetch", to: &out); JSONWriter.appendRounded(timings.fetchMs, decimals: 3, to: &out)
        out.append(0x2C); JSONWriter.appendKey("answer", to: &out); JSONWriter.appendRounded(timings.answerMs, decimals: 3, to: &out)
        out.append(0x2C); JSONWriter.appendKey("total", to: &out); JSONWriter.appendRounded(timings.totalMs, decimals: 3, to: &out)
        out.append(0x7D)
        out.append(0x7D)
        out.append(0x0A)
    }

    /// Readable form: the answer with its sources, then the hits.
    /// `answerShown`: the answer was already streamed to the terminal.
    public func renderText(snippetLength: Int = 160, answerShown: Bool = false) -> String {
        var lines: [String] = []
        if !answerShown {
            lines.append("Q: \(query)")
            lines.append("")
            lines.append(answer.text)
        } else if answer.escalated {
            lines.append(answer.text)
        }
        if let g = answer.groundedness {
            let supported = g.sentences.filter(\.supported).count
            lines.append("")
            lines.append("Grounded: \(g.grounded ? "yes" : "NO") (\(supported) of \(g.sentences.count) sentences supported by the cited sources, "
                         + "groundedness \(formatScore(g.groundedness)))" + (answer.escalated ? "; escalate to a person" : ""))
        }
        if !answer.citations.isEmpty {
            lines.append("")
            lines.append(answer.abstained ? "Closest sources:" : "Sources:")
            for c in answer.citations {
                lines.append("  [\(c.number)] \(c.source):\(c.start)-\(c.end)" + (c.title.isEmpty ? "" : "  (\(c.title))"))
            }
        }
        lines.append("")
        lines.append("Hits:")
        for h in hits {
            let heading = h.record.headings.isEmpty ? "" : "  § " + h.record.headings.joined(separator: " › ")
            lines.append("  \(h.rank). \(formatScore(h.score))  \(h.record.source):\(h.record.start)-\(h.record.end)\(heading)")
            var snippet = h.record.text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
            if snippet.count > snippetLength { snippet = String(snippet.prefix(snippetLength)) + "…" }
            lines.append("     \(snippet)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

func formatScore(_ x: Float) -> String {
    let scaled = (Double(x) * 1000).rounded() / 1000
    var s = String(scaled)
    while s.split(separator: ".").last.map({ $0.count < 3 }) == true { s += "0" }
    return s
}
