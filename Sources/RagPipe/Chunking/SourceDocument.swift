/// One document to chunk: UTF-8 bytes and where they came from.
public struct SourceDocument: Sendable {
    public enum Syntax: String, Sendable {
        case markdown, text
        /// Converted formats: `bytes` is the extracted text and `blocks` its structure.
        case html, pdf, docx
    }

    /// Path relative to the corpus root, or the BEIR `_id`.
    public var source: String
    /// A title given by the input (BEIR `title`, HTML `<title>`); Markdown documents fall back to
    /// their first `#` heading, HTML to its first `<h1>`, then all to the file name.
    public var title: String
    /// Valid UTF-8. Chunk spans are byte offsets into these bytes: the file itself for Markdown
    /// and text, the extracted text (`chunk --extract`) for HTML, PDF and DOCX.
    public var bytes: [UInt8]
    public var syntax: Syntax
    /// For HTML, PDF and DOCX: the extracted text's blocks in order (headings, paragraphs, code, list
    /// items, table rows), which the chunker cuts at instead of reading Markdown syntax.
    public var blocks: [TextBlock]?

    public init(source: String, title: String, bytes: [UInt8], syntax: Syntax, blocks: [TextBlock]? = nil) {
        self.source = source; self.title = title; self.bytes = bytes; self.syntax = syntax; self.blocks = blocks
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

/// A block of a converted document's extracted text, and where it came from.
public struct TextBlock: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// `h1`…`h6` (a DOCX `Title` is level 0): starts a section, like a Markdown heading.
        case heading(level: Int)
        case paragraph
        /// `pre`: kept whole when it fits; its lines are its cut points.
        case code
        case listItem
        /// A table row, its cells joined by ` | `.
        case tableRow
    }

    public var kind: Kind
    /// The block's bytes in the extracted text.
    public var range: Range<Int>
    /// PDF: the 1-based page the block is on.
    public var page: Int?
    /// HTML: the `id` of the nearest heading, section, article or `<a>` anchor at or before the
    /// block; DOCX: the nearest bookmark's name.
    public var anchor: String?
    /// HTML and DOCX: the element path of the block's element (`/html/body/section[2]/p[3]`,
    /// `/w:document/w:body/w:p[7]`).
    public var element: String?

    public init(kind: Kind, range: Range<Int>, page: Int? = nil, anchor: String? = nil, element: String? = nil) {
        self.kind = kind; self.range = range; self.page = page; self.anchor = anchor; self.element = element
    }
}
