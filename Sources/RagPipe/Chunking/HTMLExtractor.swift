import RagPipeSupport
import CLibXML2

/// HTML into extracted text and blocks, with libxml2's HTML parser (linked; MIT license).
///
/// libxml2 parses the bytes as a browser would (it recovers from broken markup, decodes
/// entities, and converts the charset a `<meta>` or BOM declares to UTF-8). The walk over its
/// tree then keeps headings (`h1`–`h6`), paragraphs and other block containers, list items,
/// `pre` (verbatim) and table rows (cells joined by ` | `) as blocks, drops `script`, `style`,
/// `nav`, page-level `header`/`footer`, forms' controls and hidden elements (`hidden`,
/// `aria-hidden="true"`, `display:none` or `visibility:hidden` in `style`), and collapses white
/// space elsewhere. Blocks are separated by a blank line in the extracted text, consecutive list
/// items and table rows by a newline.
package enum HTMLExtractor {
    package struct Extraction {
        package var text: [UInt8]
        package var blocks: [TextBlock]
        /// `<title>`, else empty.
        package var title: String
    }

    package static func extract(_ bytes: [UInt8], path: String) throws -> Extraction {
        ragpipe_xmlSilence()
        let options = Int32(HTML_PARSE_RECOVER.rawValue | HTML_PARSE_NOERROR.rawValue | HTML_PARSE_NOWARNING.rawValue
                            | HTML_PARSE_NONET.rawValue | HTML_PARSE_COMPACT.rawValue)
        guard bytes.count < Int(Int32.max) else { throw RagPipeError.unconvertible(path: path, reason: "HTML file larger than 2 GB") }
        let parsed = bytes.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(b.count, 1)) {
                htmlReadMemory($0, Int32(b.count), nil, nil, options)
            }
        }
        guard let doc = parsed else {
            throw RagPipeError.unconvertible(path: path, reason: "libxml2 could not parse it as HTML")
        }
        defer { xmlFreeDoc(doc) }
        var walker = Walker()
        if let root = xmlDocGetRootElement(doc) { walker.visit(root) }
        walker.flush()
        return Extraction(text: walker.out, blocks: walker.blocks, title: walker.title)
    }

    /// Elements whose content is never text of the document.
    static let dropped: Set<String> = ["script", "style", "noscript", "template", "nav", "iframe", "object", "embed",
                                       "svg", "math", "canvas", "select", "option", "button", "input", "textarea",
                                       "head", "menu", "dialog"]
    /// Elements whose `id` names a place to cite: headings, sections and explicit anchors
    /// (`<a id>`, `<a name>`). Ids of other elements (a code block's, a layout `div`'s) are not.
    static let anchorElements: Set<String> = ["h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "a"]
    /// Elements that end the text before them and start a new block.
    static let blockElements: Set<String> = [
        "address", "article", "aside", "blockquote", "body", "center", "details", "dialog", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "header", "hgroup", "hr", "html", "legend", "li", "main",
        "ol", "p", "section", "summary", "table", "caption", "tbody", "thead", "tfoot", "tr", "td", "th", "ul",
    ]

    struct Walker {
        var out: [UInt8] = []
        var blocks: [TextBlock] = []
        var title = ""
        /// Inline text of the block being gathered, white space already collapsed.
        var inline: [UInt8] = []
        var inlineKind = TextBlock.Kind.paragraph
        var inlineAnchor: String?
        var inlineElement: String?
        /// The innermost block element open, whose path a block gathered now records.
        var owner: xmlNodePtr?
        /// The last anchor (`anchorElements`) met in document order.
        var anchor: String?
        /// Inside an `article`, `main` or `section`: a `header`/`footer` there is the content's own.
        var contentDepth = 0

        mutating func visit(_ node: xmlNodePtr) {
            switch node.pointee.type {
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = node.pointee.content { appendInline(content) }
                return
            case XML_ELEMENT_NODE:
                break
            default:
                return
            }
            let name = HTMLExtractor.name(node)
            if name == "head" {
                if let t = HTMLExtractor.descendant(node, named: "title") { title = HTMLExtractor.collapsed(HTMLExtractor.rawText(t)) }
                return
            }
            if HTMLExtractor.dropped.contains(name) || HTMLExtractor.isHidden(node) { return }
            if (name == "header" || name == "footer") && contentDepth == 0 { return }   // page boilerplate
            if let role = HTMLExtractor.attribute(node, "role"), ["navigation", "banner", "contentinfo", "search"].contains(role) { return }
            if HTMLExtractor.anchorElements.contains(name),
               let id = HTMLExtractor.attribute(node, "id") ?? (name == "a" ? HTMLExtractor.attribute(node, "name") : nil), !id.isEmpty {
                anchor = id
            }
            if name.count == 2, name.first == "h", let level = Int(String(name.last!)), (1...6).contains(level) {
                flush()
                let text = HTMLExtractor.collapsed(HTMLExtractor.visibleText(node))
                emit(Array(text.utf8), kind: .heading(level: level), anchor: anchor, element: HTMLExtractor.path(node))
                return
            }
            if name == "pre" {
                flush()
                var text = HTMLExtractor.visibleText(node)
                // The newline right after <pre> is not content (HTML parsing rules); nor is trailing space.
                if text.first == 0x0A { text.removeFirst() }
                while let last = text.last, isASCIISpace(last) { text.removeLast() }
                emit(text, kind: .code, anchor: anchor, element: HTMLExtractor.path(node))
                return
            }
            if name == "tr" {
                flush()
                var cells: [String] = []
                var child = node.pointee.children
                while let c = child {
                    if c.pointee.type == XML_ELEMENT_NODE, ["td", "th"].contains(HTMLExtractor.name(c)), !HTMLExtractor.isHidden(c) {
                        cells.append(HTMLExtractor.collapsed(HTMLExtractor.visibleText(c)))
                    }
                    child = c.pointee.next
                }
                while let last = cells.last, last.isEmpty { cells.removeLast() }
                if !cells.isEmpty {
                    emit(Array(cells.joined(separator: " | ").utf8), kind: .tableRow, anchor: anchor, element: HTMLExtractor.path(node))
                }
                return
            }
            if name == "br" { appendSpace(); return }
            let isBlock = HTMLExtractor.blockElements.contains(name)
            let isContent = name == "article" || name == "main" || name == "section"
            let savedOwner = owner
            if isBlock {
                flush()
                owner = node
                if name == "li" || name == "dt" || name == "dd" { inlineKind = .listItem }
            }
            if isContent { contentDepth += 1 }
            var child = node.pointee.children
            while let c = child { visit(c); child = c.pointee.next }
            if isContent { contentDepth -= 1 }
            if isBlock {
                flush()
                owner = savedOwner
            }
        }

        mutating func appendInline(_ content: UnsafePointer<xmlChar>) {
            var p = content
            while p.pointee != 0 {
                let c = p.pointee
                if isASCIISpace(c) {
                    appendSpace()
                } else if c == 0xC2 && p[1] == 0xA0 {          // U+00A0 no-break space: a space
                    appendSpace(); p += 1
                } else if c == 0xC2 && p[1] == 0xAD {          // U+00AD soft hyphen: invisible
                    p += 1
                } else {
                    if inline.isEmpty {
                        inlineAnchor = anchor
                        inlineElement = owner.map(HTMLExtractor.path)
                    }
                    inline.append(c)
                }
                p += 1
            }
        }

        mutating func appendSpace() {
            if !inline.isEmpty && inline.last != 0x20 { inline.append(0x20) }
        }

        mutating func flush() {
            while inline.last == 0x20 { inline.removeLast() }
            if !inline.isEmpty { emit(inline, kind: inlineKind, anchor: inlineAnchor, element: inlineElement) }
            inline.removeAll(keepingCapacity: true)
            inlineKind = .paragraph
        }

        mutating func emit(_ text: [UInt8], kind: TextBlock.Kind, anchor: String?, element: String?) {
            guard text.contains(where: { !isASCIISpace($0) }) else { return }
            if let previous = blocks.last {
                let tight = previous.kind == kind && (kind == .listItem || kind == .tableRow)
                out.append(0x0A)
                if !tight { out.append(0x0A) }
            }
            let start = out.count
            // libxml2 passes bytes through that are not UTF-8 when a page declares no charset
            // and breaks its own (a fuzzed input did): each becomes U+FFFD, so the extracted text,
            // and every stream after it, stays UTF-8 and spans still index it.
            out.append(contentsOf: String(decoding: text, as: UTF8.self).utf8)
            blocks.append(TextBlock(kind: kind, range: start..<out.count, anchor: anchor, element: element))
        }
    }

    static func name(_ node: xmlNodePtr) -> String {
        guard let n = node.pointee.name else { return "" }
        return String(cString: n).lowercased()
    }

    /// An attribute's value (its text children), or nil when absent.
    static func attribute(_ node: xmlNodePtr, _ wanted: String) -> String? {
        var attr = node.pointee.properties
        while let a = attr {
            if let n = a.pointee.name, String(cString: n).lowercased() == wanted {
                var value = ""
                var child = a.pointee.children
                while let c = child {
                    if let content = c.pointee.content { value += String(cString: content) }
                    child = c.pointee.next
                }
                return value
            }
            attr = a.pointee.next
        }
        return nil
    }

    static func isHidden(_ node: xmlNodePtr) -> Bool {
        if attribute(node, "hidden") != nil { return true }
        if attribute(node, "aria-hidden")?.lowercased() == "true" { return true }
        if let style = attribute(node, "style") {
            let compact = style.lowercased().filter { !$0.isWhitespace }
            if compact.contains("display:none") || compact.contains("visibility:hidden") { return true }
        }
        if name(node) == "input", attribute(node, "type")?.lowercased() == "hidden" { return true }
        return false
    }

    static func descendant(_ node: xmlNodePtr, named wanted: String) -> xmlNodePtr? {
        var child = node.pointee.children
        while let c = child {
            if c.pointee.type == XML_ELEMENT_NODE {
                if name(c) == wanted { return c }
                if let found = descendant(c, named: wanted) { return found }
            }
            child = c.pointee.next
        }
        return nil
    }

    /// All text below `node`, as it is (entities decoded by the parser).
    static func rawText(_ node: xmlNodePtr) -> [UInt8] {
        var out: [UInt8] = []
        func walk(_ n: xmlNodePtr) {
            var child = n.pointee.children
            while let c = child {
                if c.pointee.type == XML_TEXT_NODE || c.pointee.type == XML_CDATA_SECTION_NODE, let content = c.pointee.content {
                    var p = content
                    while p.pointee != 0 { out.append(p.pointee); p += 1 }
                } else if c.pointee.type == XML_ELEMENT_NODE {
                    walk(c)
                }
                child = c.pointee.next
            }
        }
        walk(node)
        return out
    }

    /// The text below `node` that a reader sees: dropped and hidden elements left out, `<br>` a newline.
    static func visibleText(_ node: xmlNodePtr) -> [UInt8] {
        var out: [UInt8] = []
        func walk(_ n: xmlNodePtr) {
            var child = n.pointee.children
            while let c = child {
                if c.pointee.type == XML_TEXT_NODE || c.pointee.type == XML_CDATA_SECTION_NODE, let content = c.pointee.content {
                    var p = content
                    while p.pointee != 0 { out.append(p.pointee); p += 1 }
                } else if c.pointee.type == XML_ELEMENT_NODE {
                    let n = name(c)
                    if n == "br" { out.append(0x0A) }
                    else if !dropped.contains(n) && !isHidden(c) { walk(c) }
                }
                child = c.pointee.next
            }
        }
        walk(node)
        return out
    }

    /// Runs of white space (and no-break spaces) as one space, soft hyphens removed, trimmed.
    static func collapsed(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var space = false
        var k = 0
        while k < bytes.count {
            let c = bytes[k]
            if c == 0xC2 && k + 1 < bytes.count && bytes[k + 1] == 0xAD { k += 2; continue }
            if isASCIISpace(c) || (c == 0xC2 && k + 1 < bytes.count && bytes[k + 1] == 0xA0) {
                space = !out.isEmpty
                k += isASCIISpace(c) ? 1 : 2
                continue
            }
            if space { out.append(0x20); space = false }
            out.append(c)
            k += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// libxml2's path of the element (`/html/body/div[2]/p[3]`).
    static func path(_ node: xmlNodePtr) -> String {
        guard let p = xmlGetNodePath(node) else { return "" }
        defer { ragpipe_xmlFree(p) }
        return String(cString: p)
    }
}
