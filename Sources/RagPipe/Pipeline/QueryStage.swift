import RagPipeSupport
import RagPipeRecords
import RagPipeAnswering

/// `query`: each question through the engine, answered on stdout as text or one JSON object.
public enum QueryStage {
    public enum Output: Sendable, Equatable {
        /// The answer with its sources, then the hits (`QueryResult.renderText`).
        case text
        /// Text, with a generated answer printed as it arrives: each question first ("Q: …"),
        /// then the reply piece by piece (`streamedText(to:)`), then its sources and hits.
        case streamedText
        /// One object per line (`QueryResult.appendJSON`, docs/FORMATS.md).
        case json
    }

    public struct Summary: Sendable {
        public var queries = 0
        /// Answers `--strict` replaced by "I don't know".
        public var escalated = 0
    }

    /// Where `.streamedText` writes generated text as it arrives (`Answerer.Generation.onText`).
    public static func streamedText(to sink: OutputSink) -> (String) -> Void {
        { piece in try? sink.write(piece); try? sink.flush() }
    }

    /// Answers `queries`, or with none each non-blank line of stdin (trimmed; a line that is not
    /// UTF-8 is a malformed record naming it). Output is flushed after each stdin line, so a
    /// pipe gets its answer before the next question is read. When `--strict` replaced some
    /// answers, says so on stderr after all output and throws `EscalationNeeded` (exit status 84).
    @discardableResult
    public static func run(engine: QueryEngine, queries: [String], output: Output, sink: OutputSink) throws -> Summary {
        var summary = Summary()
        func answer(_ q: String) throws {
            if output == .streamedText { try sink.write("Q: \(q)\n\n"); try sink.flush() }
            let result = try engine.run(q)
            summary.queries += 1
            if result.answer.escalated { summary.escalated += 1 }
            switch output {
            case .json:
                try sink.append { result.appendJSON(to: &$0) }
            case .text:
                try sink.write(result.renderText())
            case .streamedText:
                // A generated answer is on the screen already; an extractive one (or an abstention) is not.
                if result.answer.backend != .llm { try sink.write(result.answer.text) }
                try sink.write("\n")
                try sink.write(result.renderText(answerShown: true))
            }
        }
        if queries.isEmpty {
            try LineReader(fd: 0, name: "stdin").forEachLine { line, number in
                guard let q = String(validating: UnsafeBufferPointer(start: line.baseAddress?.assumingMemoryBound(to: UInt8.self), count: line.count), as: UTF8.self) else {
                    throw RagPipeError.malformedRecord(where: "stdin:\(number)", reason: "not valid UTF-8")
                }
                let trimmed = q.trimmingWhitespace()
                if !trimmed.isEmpty { try answer(trimmed) }
                try sink.flush()
            }
        } else {
            for q in queries { try answer(q) }
        }
        try sink.flush()
        if summary.escalated > 0 {
            let n = summary.escalated
            Log.line("query: \(n) answer\(n == 1 ? " was" : "s were") not grounded and replaced by \"I don't know\" (--strict); escalate to a person")
            throw EscalationNeeded()
        }
        return summary
    }
}
