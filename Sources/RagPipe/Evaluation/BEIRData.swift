import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeAnswering

/// BEIR evaluation inputs: `queries.jsonl` (`{"_id", "text"}`) and a qrels TSV
/// (`query-id<TAB>corpus-id<TAB>score`, a header line, LF or CRLF).
public enum BEIRData {
    public static func queries(_ path: String) throws -> [(id: String, text: String)] {
        var out: [(String, String)] = []
        var firstLine: [String: Int] = [:]
        let reader = try LineReader(path: path)
        defer { reader.close() }
        try reader.forEachLine { line, number in
            if line.allSatisfy(isASCIISpace) { return }
            var id: String?, text: String?
            do {
                var s = JSONScanner(line)
                try s.beginObject()
                while let key = try s.nextKey() {
                    if key.equals("_id") { id = s.peekIsString() ? try s.readString() : String(try s.readInt()) }
                    else if key.equals("text") { text = try s.readString() }
                    else { try s.skipValue() }
                }
            } catch let error as JSONScanError {
                throw RagPipeError.malformedRecord(where: "\(path):\(number)", reason: error.description)
            }
            guard let id, let text else { throw RagPipeError.malformedRecord(where: "\(path):\(number)", reason: "needs \"_id\" and \"text\"") }
            // A repeated id would run twice and count twice in every mean.
            if let first = firstLine.updateValue(number, forKey: id) {
                throw RagPipeError.malformedRecord(where: "\(path):\(number)", reason: "query id '\(id)' again (first at line \(first))")
            }
            out.append((id, text))
        }
        return out
    }

    /// query id → (document id → relevance > 0).
    public static func qrels(_ path: String) throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        let reader = try LineReader(path: path)
        defer { reader.close() }
        try reader.forEachLine { line, number in
            let fields = line.split(separator: 0x09).map { String(decoding: $0, as: UTF8.self) }
            if fields.isEmpty || line.allSatisfy(isASCIISpace) { return }
            guard fields.count >= 3 else {
                throw RagPipeError.malformedRecord(where: "\(path):\(number)", reason: "expected query-id, corpus-id, score separated by tabs")
            }
            guard let score = Int(fields[2].trimmingASCIISpace()) else {
                if number == 1 { return }              // the header line
                throw RagPipeError.malformedRecord(where: "\(path):\(number)", reason: "score '\(fields[2])' is not an integer")
            }
            if score > 0 { out[fields[0], default: [:]][fields[1]] = score }
        }
        return out
    }
}
