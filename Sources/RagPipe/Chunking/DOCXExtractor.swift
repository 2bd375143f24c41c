import RagPipeSupport
import CLibXML2

/// DOCX into extracted text and blocks: the zip read with zlib (`ZipArchive`), its
/// `word/document.xml` parsed by libxml2's XML parser (no network, no entity expansion).
///
/// Paragraphs (`w:p`) styled `Title` and `Heading1`…`Heading6` are headings (the title above level 1), in a code style
/// (`SourceCode`, `HTMLPreformatted`) code with its line breaks, with numbering (`w:numPr`) list items, table rows (`w:tr`) rows with their cells joined by ` | `,
/// every other paragraph a paragraph; text is the runs' `w:t`, tabs and breaks a space, deleted
/// text (`w:del`) and field codes left out. A bookmark (`w:bookmarkStart`, not Word's own `_…`
/// ones) is the anchor of what follows; the title is `docProps/core.xml`'s `dc:title`.
package enum DOCXExtractor {
    package static func extract(_ bytes: [UInt8], path: String) throws -> HTMLExtractor.Extraction {
        if bytes.starts(with: [0xD0, 0xCF, 0x11, 0xE0]) {
            throw RagPipeError.unconvertible(path: path, reason: "an OLE compound file, not a zip: an encrypted DOCX or a legacy .doc; save it as .docx without a password")
        }
        let zip: ZipArchive
        let document: [UInt8]
        do {
            zip = try ZipArchive(bytes)
            guard let entry = zip.entry(named: "word/document.xml") else {
                throw RagPipeError.unconvertible(path: path, reason: "not a DOCX (no word/document.xml in the zip)")
            }
            document = try zip.data(of: entry)
        } catch let failure as ZipArchive.Failure {
            throw RagPipeError.unconvertible(path: path, reason: failure == .notZip ? "not a DOCX (not a zip file)" : "DOCX: \(failure)")
        }
        guard let doc = parse(document) else {
            throw RagPipeError.unconvertible(path: path, reason: "DOCX: word/document.xml is not well-formed XML")
        }
        defer { xmlFreeDoc(doc) }
        var walker = Walker()
        if let root = xmlDocGetRootElement(doc) { walker.visit(root) }
        var title = ""
        if let core = zip.entry(named: "docProps/core.xml"), let xml = try? zip.data(of: core), let props = parse(xml) {
            if let root = xmlDocGetRootElement(props), let t = HTMLExtractor.descendant(root, named: "title") {
                title = HTMLExtractor.collapsed(HTMLExtractor.rawText(t))
            }
            xmlFreeDoc(props)
        }
        return HTMLExtractor.Extraction(text: walker.out, blocks: walker.blocks, title: title)
    }

    static func parse(_ xml: [UInt8]) -> xmlDocPtr? {
        ragpipe_xmlSilence()
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue | XML_PARSE_NOCDATA.rawValue)
        guard xml.count < Int(Int32.max) else { return nil }
        return xml.withUnsafeBufferPointer { b in
            b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(b.count, 1)) {
                xmlReadMemory($0, Int32(b.count), nil, "UTF-8", options)
            }
        }
    }

    /// `Heading1`…`Heading6` (any case, a space allowed: `heading 2`) → the level; `Title` → 0,
    /// above the document's level-1 headings.
    static func headingLevel(_ style: String) -> Int? {
        let s = style.lowercased().filter { $0 != " " }
        if s == "title" { return 0 }
        guard s.hasPrefix("heading"), let level = Int(s.dropFirst(7)), (1...6).contains(level) else { return nil }
        return level
    }

    /// Word's and pandoc's styles for code (`SourceCode`, `HTMLPreformatted`, `PlainText`).
    static func isCodeStyle(_ style: String) -> Bool {
        let s = style.lowercased()
        return s.contains("code") || s.contains("preformatted") || s == "plaintext"
    }

    struct Walker {
        var out: [UInt8] = []
        var blocks: [TextBlock] = []
        var anchor: String?

        mutating func visit(_ node: xmlNodePtr) {
            guard node.pointee.type == XML_ELEMENT_NODE else { return }
            switch HTMLExtractor.name(node) {
            case "p":
                var kind = TextBlock.Kind.paragraph
                if let pPr = child(node, "pPr") {
                    let style = child(pPr, "pStyle").flatMap { HTMLExtractor.attribute($0, "val") } ?? ""
                    if let level = DOCXExtractor.headingLevel(style) {
                        kind = .heading(level: level)
                    } else if DOCXExtractor.isCodeStyle(style) {
                        kind = .code
                    } else if child(pPr, "numPr") != nil {
                        kind = .listItem
                    }
                }
                var text: [UInt8] = []
                let startAnchor = anchor
                collect(node, into: &text, lineBreak: kind == .code ? 0x0A : 0x20)
                // A bookmark inside a heading names that heading; other blocks keep the one before them.
                let blockAnchor: String?
                if case .heading = kind { blockAnchor = anchor } else { blockAnchor = startAnchor ?? anchor }
                if kind == .code {
                    while let last = text.last, isASCIISpace(last) { text.removeLast() }
                    emit(String(decoding: text, as: UTF8.self), kind: kind, anchor: blockAnchor, element: HTMLExtractor.path(node))
                } else {
                    emit(HTMLExtractor.collapsed(text), kind: kind, anchor: blockAnchor, element: HTMLExtractor.path(node))
                }
            case "tr":
                var cells: [String] = []
                var c = node.pointee.children
                while let cell = c {
                    if cell.pointee.type == XML_ELEMENT_NODE && HTMLExtractor.name(cell) == "tc" {
                        var text: [UInt8] = []
                        collect(cell, into: &text)
                        cells.append(HTMLExtractor.collapsed(text))
                    }
                    c = cell.pointee.next
                }
                while let last = cells.last, last.isEmpty { cells.removeLast() }
                emit(cells.joined(separator: " | "), kind: .tableRow, anchor: anchor, element: HTMLExtractor.path(node))
            case "bookmarkstart":
                noteBookmark(node)
            case "del", "movefrom":
                return
            default:
                var c = node.pointee.children
                while let n = c { visit(n); c = n.pointee.next }
            }
        }

        mutating func noteBookmark(_ node: xmlNodePtr) {
            if let name = HTMLExtractor.attribute(node, "name"), !name.isEmpty, !name.hasPrefix("_") { anchor = name }
        }

        /// The text of runs below `node`: `w:t`, a space for `w:tab`, `w:br`, `w:cr`; a paragraph
        /// break between paragraphs (in table cells).
        mutating func collect(_ node: xmlNodePtr, into text: inout [UInt8], lineBreak: UInt8 = 0x20) {
            var c = node.pointee.children
            while let n = c {
                if n.pointee.type == XML_ELEMENT_NODE {
                    switch HTMLExtractor.name(n) {
                    case "t": text += HTMLExtractor.rawText(n)
                    case "tab": text.append(0x20)
                    case "br", "cr": text.append(lineBreak)
                    case "p": if !text.isEmpty { text.append(0x20) }; collect(n, into: &text)
                    case "bookmarkstart": noteBookmark(n)
                    case "del", "movefrom", "instrtext", "deltext", "ppr", "rpr", "fldsimple": break
                    default: collect(n, into: &text, lineBreak: lineBreak)
                    }
                }
                c = n.pointee.next
            }
        }

        func child(_ node: xmlNodePtr, _ name: String) -> xmlNodePtr? {
            var c = node.pointee.children
            while let n = c {
                if n.pointee.type == XML_ELEMENT_NODE && HTMLExtractor.name(n) == name.lowercased() { return n }
                c = n.pointee.next
            }
            return nil
        }

        mutating func emit(_ text: String, kind: TextBlock.Kind, anchor: String?, element: String) {
            guard !text.isEmpty else { return }
            if let previous = blocks.last {
                out.append(0x0A)
                if !(previous.kind == kind && (kind == .listItem || kind == .tableRow)) { out.append(0x0A) }
            }
            let start = out.count
            out.append(contentsOf: text.utf8)
            blocks.append(TextBlock(kind: kind, range: start..<out.count, anchor: anchor, element: element))
        }
    }
}
