/// Where a chunk of a converted document (PDF, HTML) came from, beyond its byte span into the
/// document's extracted text: the pages it covers, or the nearest `id` anchor and the element
/// path of its first block. Markdown, text and BEIR chunks have none (`ChunkRecord.origin` nil).
public struct ChunkOrigin: Equatable, Sendable {
    /// PDF: the first and last page (1-based) the chunk's text is on.
    public var pages: ClosedRange<Int>?
    /// HTML: the `id` of the nearest heading, `section`, `article` or `<a id>` / `<a name>` at or
    /// before the chunk's start.
    public var anchor: String?
    /// HTML: the element path of the chunk's first block, as libxml2's `xmlGetNodePath` writes it
    /// (`/html/body/section[2]/p[3]`).
    public var element: String?

    public init(pages: ClosedRange<Int>? = nil, anchor: String? = nil, element: String? = nil) {
        self.pages = pages; self.anchor = anchor; self.element = element
    }

    /// The record keys, written after `position` (docs/FORMATS.md): `pages`, `anchor`, `element`,
    /// each only when known.
    package func write(to o: inout JSONObjectWriter) {
        if let pages { o.field("pages", [pages.lowerBound, pages.upperBound]) }
        if let anchor { o.field("anchor", anchor) }
        if let element { o.field("element", element) }
    }
}

extension ChunkRecord {
    /// How `query` cites the chunk: `manual.pdf p. 12–13`, `guide.html#installation`, else
    /// `source:start-end` (the byte span).
    public var citation: String { ChunkOrigin.citation(source: source, start: start, end: end, origin: origin) }
}

extension ChunkOrigin {
    public static func citation(source: String, start: Int, end: Int, origin: ChunkOrigin?) -> String {
        if let pages = origin?.pages {
            return pages.count == 1 ? "\(source) p. \(pages.lowerBound)" : "\(source) p. \(pages.lowerBound)–\(pages.upperBound)"
        }
        if let anchor = origin?.anchor { return "\(source)#\(anchor)" }
        return "\(source):\(start)-\(end)"
    }
}
