import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// SQuAD v1.1 JSON (`{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
/// "answers": [{"text", "answer_start"}]}]}]}]}`): each paragraph is a document.
public struct SQuADData: Sendable {
    public struct Paragraph: Sendable {
        public var id: String
        public var title: String
        public var context: String
    }

    public struct Question: Sendable {
        public var id: String
        public var text: String
        /// The id of the paragraph that answers it.
        public var paragraph: String
        /// Accepted answer strings (each occurs verbatim in the paragraph).
        public var answers: [String]
    }

    public var paragraphs: [Paragraph] = []
    public var questions: [Question] = []
    /// Questions left out because they have no answers.
    public var unanswerable = 0

    /// Paragraph ids are `squad-AAA-PPP`: article and paragraph positions in the file.
    public init(path: String) throws {
        let bytes = try readFileBytes(path)
        do {
            try bytes.withUnsafeBytes { raw in
                var s = JSONScanner(raw)
                try s.beginObject()
                while let key = try s.nextKey() {
                    guard key.equals("data") else { try s.skipValue(); continue }
                    var article = 0
                    try s.readArray { s in
                        try self.readArticle(&s, number: article)
                        article += 1
                    }
                }
                try s.expectEnd()
            }
        } catch let error as JSONScanError {
            throw RagPipeError.malformedRecord(where: path, reason: "not SQuAD v1.1 JSON: \(error)")
        }
        guard !questions.isEmpty else {
            throw RagPipeError.emptyInput("no answerable questions in \(path)" + (unanswerable > 0 ? " (\(unanswerable) have no answers)" : ""))
        }
    }

    mutating func readArticle(_ s: inout JSONScanner, number: Int) throws {
        var title = ""
        try s.beginObject()
        while let key = try s.nextKey() {
            if key.equals("title") { title = try s.readString() }
            else if key.equals("paragraphs") {
                var p = 0
                try s.readArray { s in
                    let id = "squad-" + Self.pad(number) + "-" + Self.pad(p)
                    var context = ""
                    var qas: [Question] = []
                    try s.beginObject()
                    while let key = try s.nextKey() {
                        if key.equals("context") { context = try s.readString() }
                        else if key.equals("qas") {
                            try s.readArray { s in
                                var q = Question(id: "", text: "", paragraph: id, answers: [])
                                try s.beginObject()
                                while let key = try s.nextKey() {
                                    if key.equals("id") { q.id = try s.readString() }
                                    else if key.equals("question") { q.text = try s.readString() }
                                    else if key.equals("answers") {
                                        try s.readArray { s in
                                            try s.beginObject()
                                            while let key = try s.nextKey() {
                                                if key.equals("text") { q.answers.append(try s.readString()) } else { try s.skipValue() }
                                            }
                                        }
                                    } else { try s.skipValue() }
                                }
                                qas.append(q)
                            }
                        } else { try s.skipValue() }
                    }
                    paragraphs.append(Paragraph(id: id, title: "", context: context))
                    // No accepted answer (SQuAD 2.0's unanswerable questions): nothing to measure an answer against.
                    unanswerable += qas.filter { $0.answers.isEmpty }.count
                    questions += qas.filter { !$0.answers.isEmpty }
                    p += 1
                }
            } else { try s.skipValue() }
        }
        for i in paragraphs.indices where paragraphs[i].id.hasPrefix("squad-" + Self.pad(number) + "-") { paragraphs[i].title = title }
    }

    package static func pad(_ n: Int) -> String {
        let s = String(n)
        return String(repeating: "0", count: max(0, 3 - s.count)) + s
    }

    /// The paragraphs as a BEIR corpus (`{"_id", "title", "text"}` per line), for `chunk`.
    public func corpusJSONL() -> [UInt8] {
        var out: [UInt8] = []
        for p in paragraphs {
            JSONObjectWriter.write(to: &out) { o in
                o.field("_id", p.id)
                o.field("title", p.title)
                o.field("text", p.context)
            }
            out.append(0x0A)
        }
        return out
    }
}
