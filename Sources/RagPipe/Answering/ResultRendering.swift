import RagPipeRetrieval
import RagPipeRecords
import RagPipeChunking

/// The two forms `query` prints: readable text, and one JSON object per query
/// (a stable contract, `"version": 1`, documented in docs/FORMATS.md).
extension QueryResult {
    public static let jsonVersion = 1

    public func appendJSON(to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.field("version", Self.jsonVersion)
            o.field("query", query)
            o.array("hits") { a in
                for h in hits {
                    a.object { o in
                        o.field("rank", h.rank)
                        o.field("id", h.record.id)
                        o.field("score", Double(h.score), decimals: 6)
                        o.field("similarity", Double(h.similarity), decimals: 6)
                        o.field("source", h.record.source)
                        o.field("start", h.record.start)
                        o.field("end", h.record.end)
                        o.field("title", h.record.title)
                        o.field("headings", h.record.headings)
                        h.record.origin?.write(to: &o)
                        o.field("citation", h.record.citation)
                        o.field("text", h.record.text)
                    }
                }
            }
            o.field("answer", answer.text)
            o.field("abstained", answer.abstained)
            o.field("backend", answer.backend.rawValue)
            if let e = answer.evidence { o.field("evidence", Double(e), decimals: 4) }
            if let g = answer.groundedness {
                o.field("grounded", g.grounded)
                o.field("groundedness", Double(g.groundedness), decimals: 4)
                o.array("answer_sentences") { a in
                    for s in g.sentences {
                        a.object { o in
                            o.field("text", s.text)
                            o.field("cites", s.citations)
                            o.field("support", Double(s.support), decimals: 4)
                            o.field("citations_valid", s.citationsValid)
                            o.field("supported", s.supported)
                        }
                    }
                }
            }
            o.field("escalated", answer.escalated)
            if let gen = answer.generation {
                o.object("llm") { o in
                    o.field("model", gen.model)
                    if let r = gen.finishReason { o.field("finish_reason", r) }
                    if let t = gen.promptTokens { o.field("prompt_tokens", t) }
                    if let t = gen.completionTokens { o.field("completion_tokens", t) }
                    o.field("raw", gen.text)
                }
            }
            o.array("citations") { a in
                for c in answer.citations {
                    a.object { o in
                        o.field("n", c.number)
                        o.field("source", c.source)
                        o.field("start", c.start)
                        o.field("end", c.end)
                        o.field("title", c.title)
                        c.origin?.write(to: &o)
                        o.field("citation", c.label)
                    }
                }
            }
            o.object("timings_ms") { o in
                o.field("embed", timings.embedMs, decimals: 3)
                o.field("search", timings.searchMs, decimals: 3)
                o.field("fetch", timings.fetchMs, decimals: 3)
                o.field("answer", timings.answerMs, decimals: 3)
                o.field("total", timings.totalMs, decimals: 3)
            }
        }
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
                lines.append("  [\(c.number)] \(c.label)" + (c.title.isEmpty ? "" : "  (\(c.title))"))
            }
        }
        lines.append("")
        lines.append("Hits:")
        for h in hits {
            let heading = h.record.headings.isEmpty ? "" : "  § " + h.record.headings.joined(separator: " › ")
            lines.append("  \(h.rank). \(formatScore(h.score))  \(h.record.citation)\(heading)")
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
