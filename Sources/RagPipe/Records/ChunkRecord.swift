import RagPipeSupport

/// One chunk of a source document: the record `chunk` writes and `embed` reads.
/// `text` is exactly the UTF-8 bytes `[start, end)` of the source document.
public struct ChunkRecord: Equatable, Sendable {
    /// Stable id: 16 hex digits of a hash of source, start and end.
    public var id: String
    /// Path relative to the corpus root, or the BEIR `_id`.
    public var source: String
    public var title: String
    /// Markdown heading path, outermost first.
    public var headings: [String]
    public var text: String
    public var start: Int
    public var end: Int
    /// Tokens the embedder will see, special tokens included.
    public var tokens: Int
    /// 0-based position of the chunk within its document.
    public var position: Int
    /// Pages or HTML anchor of a chunk of a converted document (PDF, HTML); nil otherwise.
    public var origin: ChunkOrigin?

    public init(id: String, source: String, title: String, headings: [String], text: String,
                start: Int, end: Int, tokens: Int, position: Int, origin: ChunkOrigin? = nil) {
        self.id = id; self.source = source; self.title = title; self.headings = headings
        self.text = text; self.start = start; self.end = end; self.tokens = tokens; self.position = position
        self.origin = origin
    }

    public static func stableID(source: String, start: Int, end: Int) -> String {
        var h = StableHash()
        h.combine(source)
        h.combine(byte: 0)
        h.combine(UInt64(start))
        h.combine(UInt64(end))
        return StableHash.hex(h.finalized)
    }
}
