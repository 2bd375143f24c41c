/// One document to chunk: UTF-8 bytes and where they came from.
public struct SourceDocument: Sendable {
    public enum Syntax: String, Sendable { case markdown, text }

    /// Path relative to the corpus root, or the BEIR `_id`.
    public var source: String
    /// A title given by the input (BEIR `title`); Markdown documents fall back to their first
    /// `#` heading, then to the file name.
    public var title: String
    /// Valid UTF-8. Chunk spans are byte offsets into these bytes.
    public var bytes: [UInt8]
    public var syntax: Syntax

    public init(source: String, title: String, bytes: [UInt8], syntax: Syntax) {
        self.source = source; self.title = title; self.bytes = bytes; self.syntax = syntax
    }

    /// A BEIR record becomes one document: the title, a blank line, then the text, so the title
    /// is part of the first chunk the way a heading is. Spans refer to this composed text.
    public static func beir(id: String, title: String, text: String) -> SourceDocument {
        var bytes: [UInt8] = []
        if !title.isEmpty {
            bytes.append(contentsOf: title.utf8)
            bytes.append(0x0A); bytes.append(0x0A)
        }
        bytes.append(contentsOf: text.utf8)
        return SourceDocument(source: id, title: title, bytes: bytes, syntax: .text)
    }
}
