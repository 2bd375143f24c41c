import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeChunking

/// A PDF written by hand: one Helvetica text line per string, pages as given. Enough for
/// pdftotext to read, and to make the broken kinds: `encrypted` adds a standard security handler
/// whose keys no password opens, `imageOnly` paints a rectangle and no text.
enum HandmadePDF {
    static func make(pages: [[String]], encrypted: Bool = false, imageOnly: Bool = false) -> [UInt8] {
        var objects: [String] = []
        func add(_ s: String) -> Int { objects.append(s); return objects.count }
        let font = add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
        let pagesID = add("")
        var kids: [Int] = []
        for lines in pages {
            let content: String
            if imageOnly {
                content = "q 0.5 g 72 72 400 600 re f Q"
            } else {
                let escaped = lines.map { $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "(", with: "\\(").replacingOccurrences(of: ")", with: "\\)") }
                content = "BT /F1 11 Tf 14 TL 72 740 Td " + escaped.map { "(\($0)) Tj T*" }.joined(separator: " ") + " ET"
            }
            let stream = add("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
            kids.append(add("<< /Type /Page /Parent \(pagesID) 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 \(font) 0 R >> >> /Contents \(stream) 0 R >>"))
        }
        objects[pagesID - 1] = "<< /Type /Pages /Kids [\(kids.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(kids.count) >>"
        let catalog = add("<< /Type /Catalog /Pages \(pagesID) 0 R >>")
        let encryption = encrypted ? add("<< /Filter /Standard /V 1 /R 2 /O <\(String(repeating: "11", count: 32))> /U <\(String(repeating: "22", count: 32))> /P -4 >>") : nil
        var out = Array("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (i, o) in objects.enumerated() {
            offsets.append(out.count)
            out += Array("\(i + 1) 0 obj\n\(o)\nendobj\n".utf8)
        }
        let xref = out.count
        out += Array("xref\n0 \(objects.count + 1)\n0000000000 65535 f \n".utf8)
        for o in offsets { out += Array((String(repeating: "0", count: 10 - String(o).count) + "\(o) 00000 n \n").utf8) }
        var trailer = "<< /Size \(objects.count + 1) /Root \(catalog) 0 R"
        if let encryption { trailer += " /Encrypt \(encryption) 0 R /ID [<\(String(repeating: "ab", count: 16))> <\(String(repeating: "ab", count: 16))>]" }
        out += Array("trailer\n\(trailer) >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return out
    }

    /// Five pages of a manual: a running header and footer on each, distinct body lines, a word
    /// hyphenated at a line end ("retrie-" / "val") and a compound broken at its own hyphen
    /// ("build-" / "index"), spelled whole on another page.
    static let manualPages: [[String]] = (1...5).map(manualPage)

    static func manualPage(_ p: Int) -> [String] {
        let chapters = ["Installing the tools", "Chunking documents", "Embedding chunks", "Building the index", "Asking questions"]
        let topics = ["alpha", "beta", "gamma", "delta", "epsilon"]
        var lines: [String] = ["ACME Vector Manual", "Chapter \(p): \(chapters[p - 1])"]
        if p == 2 { lines += ["Chunks keep their source so that retrie-", "val can cite the page they came from."] }
        if p == 4 { lines += ["Run the build-", "index tool over the embedded stream."] }
        if p == 5 { lines += ["The build-index tool writes one file."] }
        for n in 1...6 { lines.append("Line \(n) of page \(p) talks about topic \(topics[p - 1]) number \(n).") }
        lines.append("Page \(p) of 5")
        return lines
    }
}

@Suite struct ConvertedFormatsTests {
    static let counter = UpperBoundTokenCounter()

    /// The documents `chunk` would read from `paths` (files or trees).
    func read(_ paths: [String], skipInvalid: Bool = false) throws -> [SourceDocument] {
        var reader = CorpusReader(skipInvalid: skipInvalid)
        var docs: [SourceDocument] = []
        try reader.read(paths) { docs.append($0) }
        return docs
    }

    func chunk(_ doc: SourceDocument, maxTokens: Int = 256, overlap: Int = 0) -> [ChunkRecord] {
        RecursiveChunker(options: .init(maxTokens: maxTokens, overlapTokens: overlap), counter: Self.counter).records(of: doc)
    }

    /// Every chunk's text is the extracted text's bytes at its span, whatever the budget.
    func expectSpans(_ doc: SourceDocument, _ chunks: [ChunkRecord], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!chunks.isEmpty, sourceLocation: sourceLocation)
        for c in chunks {
            #expect(String(decoding: doc.bytes[c.start..<c.end], as: UTF8.self) == c.text, "chunk \(c.position)", sourceLocation: sourceLocation)
        }
    }

    static let guide = """
    <!DOCTYPE html>
    <html><head><title>Guide &amp; Manual</title><style>body { color: red }</style>
    <script>var tracking = "SCRIPTTEXT";</script></head>
    <body>
    <header><a href="/">HEADERLOGO</a></header>
    <nav><ul><li>NAVLINK one</li><li>NAVLINK two</li></ul></nav>
    <main>
    <h1 id="guide">The   Guide</h1>
    <p>Fish &amp; chips, caf&eacute;&nbsp;au&nbsp;lait,
       and   spread    white space.</p>
    <p hidden>HIDDENATTR text</p><p aria-hidden="true">ARIAHIDDEN text</p><div style="display: none">DISPLAYNONE text</div>
    <h2 id="installation">Installation</h2>
    <p>Install the <code>tools</code> first. Then <a name="details"></a>read on.</p>
    <ul><li>first item</li><li>second item</li></ul>
    <div class="sourceCode" id="cb1"><pre><code>make index
      make test
    </code></pre></div>
    <table><tr><th>knob</th><th>effect</th></tr><tr><td>nprobe</td><td>recall</td></tr></table>
    <h2>No anchor here</h2>
    <p>Still under the installation anchor's successor.</p>
    </main>
    <footer>FOOTERTEXT copyright</footer>
    </body></html>
    """

    @Test func htmlBlocksHeadingsAndBoilerplate() throws {
        let dir = try TempDir()
        dir.write("site/guide.html", Self.guide)
        let docs = try read([dir.path + "/site"])
        #expect(docs.count == 1)
        let doc = try #require(docs.first)
        let text = String(decoding: doc.bytes, as: UTF8.self)
        #expect(doc.source == "guide.html")
        #expect(doc.title == "Guide & Manual")
        for dropped in ["SCRIPTTEXT", "color: red", "HEADERLOGO", "NAVLINK", "HIDDENATTR", "ARIAHIDDEN", "DISPLAYNONE", "FOOTERTEXT"] {
            #expect(!text.contains(dropped), "\(dropped) should be dropped: \(text)")
        }
        #expect(text.contains("The Guide\n\nFish & chips, café au lait, and spread white space."), "\(text)")
        #expect(text.contains("first item\nsecond item"), "list items are lines: \(text)")
        #expect(text.contains("make index\n  make test"), "pre is verbatim: \(text)")
        #expect(text.contains("knob | effect\nnprobe | recall"), "table rows: \(text)")
        #expect(!text.contains("\u{00A0}"))

        let chunks = chunk(doc)
        expectSpans(doc, chunks)
        let install = try #require(chunks.first { $0.text.contains("Install the tools") })
        #expect(install.headings == ["The Guide", "Installation"])
        #expect(install.origin?.anchor == "installation")
        #expect(install.origin?.element?.hasPrefix("/html/body/main/h2") == true, "\(install.origin?.element ?? "nil")")
        #expect(install.citation == "guide.html#installation")
        #expect(!chunks.contains { $0.origin?.anchor == "cb1" }, "a code block's id is no place to cite")
        let last = try #require(chunks.last)
        #expect(last.headings == ["The Guide", "No anchor here"])
        #expect(last.origin?.anchor == "details", "the nearest id before it")

        // Small budgets: every cut still lands on the extracted text, and the pre block stays whole.
        for budget in [12, 16, 24, 40] {
            let small = chunk(doc, maxTokens: budget, overlap: 2)
            expectSpans(doc, small)
            if budget >= 24 {
                #expect(small.contains { $0.text.contains("make index\n  make test") }, "pre kept whole at \(budget)")
            }
        }
    }

    @Test func htmlDeclaringAnotherCharsetIsConverted() throws {
        let dir = try TempDir()
        // ISO-8859-1 bytes: "café" as 0xE9; windows-1252 curly quotes 0x93 0x94.
        var latin = Array("<html><head><meta charset=\"iso-8859-1\"><title>Menu</title></head><body><p>caf".utf8)
        latin += [0xE9] + Array(" cr".utf8) + [0xE8] + Array("me</p></body></html>".utf8)
        dir.write("latin.html", bytes: latin)
        var cp1252 = Array("<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=windows-1252\"></head><body><p>".utf8)
        cp1252 += [0x93] + Array("quoted".utf8) + [0x94] + Array("</p></body></html>".utf8)
        dir.write("cp1252.htm", bytes: cp1252)
        let docs = try read([dir.path])
        #expect(docs.map(\.source) == ["cp1252.htm", "latin.html"])
        #expect(String(decoding: docs[1].bytes, as: UTF8.self) == "café crème")
        #expect(String(decoding: docs[0].bytes, as: UTF8.self) == "“quoted”")
        #expect(validateUTF8(docs[0].bytes) && validateUTF8(docs[1].bytes))
    }

    @Test func formatsAreSniffedByContent() throws {
        let dir = try TempDir()
        dir.write("tree/page", "  <!doctype html><html><body><h1>Sniffed</h1><p>Read as HTML.</p></body></html>")
        dir.write("tree/report.bin", bytes: HandmadePDF.make(pages: [["A PDF without its extension."]]))
        dir.write("tree/image.png", bytes: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A])
        dir.write("tree/misnamed.html", bytes: HandmadePDF.make(pages: [["A PDF named like a web page."]]))
        let docs = try read([dir.path + "/tree"])
        #expect(docs.map(\.source) == ["misnamed.html", "page", "report.bin"])
        #expect(docs.map(\.syntax) == [.pdf, .html, .pdf])
        #expect(String(decoding: docs[1].bytes, as: UTF8.self) == "Sniffed\n\nRead as HTML.")
        #expect(String(decoding: docs[2].bytes, as: UTF8.self) == "A PDF without its extension.")
        #expect(CorpusReader.sniff(Array("\u{FEFF}<HTML>".utf8)) == .html)
        #expect(CorpusReader.sniff(Array("# Markdown".utf8)) == nil)
    }

    @Test func pdfPagesHyphenationAndRunningLines() throws {
        let dir = try TempDir()
        dir.write("manual.pdf", bytes: HandmadePDF.make(pages: HandmadePDF.manualPages))
        let doc = try #require(try read([dir.path + "/manual.pdf"]).first)
        let text = String(decoding: doc.bytes, as: UTF8.self)
        let pages = text.split(separator: "\u{0C}", omittingEmptySubsequences: false)
        #expect(pages.count == 5, "one form feed between pages: \(text)")
        #expect(!text.contains("ACME Vector Manual"), "running header dropped")
        #expect(!text.contains("of 5"), "running footer dropped")
        #expect(pages[2].hasPrefix("Chapter 3: Embedding chunks"), "\(pages[2])")
        #expect(text.contains("so that retrieval\ncan cite"), "hyphenation joined: \(pages[1])")
        #expect(text.contains("Run the build-index\ntool"), "a compound keeps its hyphen: \(pages[3])")
        #expect(pages[4].contains("Line 6 of page 5"))

        // A budget that holds any one page but not two: the page breaks are the cuts.
        let pageTokens = pages.map { Self.counter.count(text: String($0)) }
        let budget = pageTokens.max()! + 4
        #expect(budget < pageTokens.min()! * 2)
        let chunks = chunk(doc, maxTokens: budget)
        expectSpans(doc, chunks)
        #expect(chunks.count == 5)
        for (i, c) in chunks.enumerated() {
            #expect(c.origin?.pages == (i + 1)...(i + 1))
            #expect(c.citation == "manual.pdf p. \(i + 1)")
        }
        // Small chunks with overlap: each chunk's pages are those its span covers.
        for budget in [16, 30, 60] {
            let small = chunk(doc, maxTokens: budget, overlap: 4)
            expectSpans(doc, small)
            for c in small {
                let first = doc.bytes[..<c.start].filter { $0 == 0x0C }.count + 1
                let last = doc.bytes[..<(c.end - 1)].filter { $0 == 0x0C }.count + 1
                #expect(c.origin?.pages == first...last, "chunk \(c.position) at \(budget)")
            }
        }
    }

    @Test func pdfRunningLinesNeedMostPages() {
        let words = ["alpha", "beta", "gamma", "delta", "epsilon"]
        var pages: [[[UInt8]]] = (1...5).map { p in
            [Array("Draft".utf8)] + [Array("Body about \(words[p - 1])".utf8)] + (p <= 2 ? [Array("Only twice".utf8)] : [])
                + [Array("- \(p) -".utf8)]
        }
        PDFExtractor.dropRunningLines(&pages)
        for page in pages {
            #expect(!page.contains(Array("Draft".utf8)))
            #expect(!page.contains { String(decoding: $0, as: UTF8.self).hasPrefix("- ") })
        }
        #expect(pages[0].contains(Array("Only twice".utf8)), "on 2 of 5 pages: not running")
        #expect(pages[3].contains(Array("Body about delta".utf8)))
    }

    @Test func brokenPDFsAreOneLineErrors() throws {
        let dir = try TempDir()
        let good = HandmadePDF.make(pages: HandmadePDF.manualPages)
        dir.write("bad/encrypted.pdf", bytes: HandmadePDF.make(pages: HandmadePDF.manualPages, encrypted: true))
        dir.write("bad/scan.pdf", bytes: HandmadePDF.make(pages: HandmadePDF.manualPages, imageOnly: true))
        dir.write("bad/cut.pdf", bytes: Array(good.prefix(good.count / 2)))
        dir.write("bad/fake.pdf", "just text named .pdf")
        let cases: [(String, [String])] = [
            ("encrypted.pdf", ["encrypted PDF", "password"]),
            ("scan.pdf", ["no text layer", "OCR", "ocrmypdf"]),
            ("cut.pdf", ["truncated PDF"]),
            ("fake.pdf", ["not a PDF"]),
        ]
        for (name, phrases) in cases {
            let r = try shell("chunk --counter upper-bound bad/\(name)", in: dir.path)
            #expect(r.status == 65, "\(name): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "one line: \(r.stderr)")
            #expect(r.stderr.hasPrefix("chunk: error: bad/\(name): "), "\(r.stderr)")
            for phrase in phrases { #expect(r.stderr.contains(phrase), "\(name): \(r.stderr)") }
            #expect(r.stdout.isEmpty)
        }
        // In a tree: the first bad file stops the run, as a non-UTF-8 file does ...
        dir.write("tree/good.pdf", bytes: good)
        dir.write("tree/notes.md", "# Notes\n\nPlain notes.\n")
        dir.write("tree/scan.pdf", bytes: HandmadePDF.make(pages: [["x"]], imageOnly: true))
        let stopped = try shell("chunk --counter upper-bound tree > /dev/null", in: dir.path)
        #expect(stopped.status == 65)
        #expect(stopped.stderr.contains("tree/scan.pdf: no text layer"), "\(stopped.stderr)")
        // ... and --skip-invalid warns, counts it and reads the rest.
        let skipped = try shell("chunk --counter upper-bound --skip-invalid tree | grep -c '\"source\"'", in: dir.path)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stderr.contains("warning: tree/scan.pdf: no text layer"), "\(skipped.stderr)")
        #expect(skipped.stderr.contains("2 documents"), "\(skipped.stderr)")
        #expect(skipped.stderr.contains("1 unconvertible HTML/PDF/DOCX files skipped"), "\(skipped.stderr)")
        #expect(skipped.stderr.contains("(5 PDF pages)"), "\(skipped.stderr)")

        // No converter: the exact install command, exit 69.
        let missing = try shell("RAGPIPE_PDFTOTEXT=/nonexistent/pdftotext chunk --counter upper-bound tree/good.pdf", in: dir.path)
        #expect(missing.status == 69, "\(missing.stderr)")
        #expect(missing.stderr.split(separator: "\n").count == 1)
        #expect(missing.stderr.contains("tree/good.pdf: reading PDFs needs pdftotext (poppler-utils)"))
        #expect(missing.stderr.contains("apt-get install poppler-utils"))
    }

    @Test func extractPrintsTheTextSpansPointInto() throws {
        let dir = try TempDir()
        dir.write("docs/manual.pdf", bytes: HandmadePDF.make(pages: HandmadePDF.manualPages))
        dir.write("docs/guide.html", Self.guide)
        for name in ["manual.pdf", "guide.html"] {
            let extracted = try shell("chunk --extract docs/\(name) > \(name).txt", in: dir.path)
            #expect(extracted.status == 0, "\(extracted.stderr)")
            let run = try shell("chunk --counter upper-bound --max-tokens 24 --overlap 4 docs/\(name)", in: dir.path)
            #expect(run.status == 0, "\(run.stderr)")
            let text = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/\(name).txt"))
            var count = 0
            for line in run.stdout.split(separator: "\n") {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                guard let start = record["start"] as? Int, let end = record["end"] as? Int else { continue }
                #expect(String(decoding: text[start..<end], as: UTF8.self) == record["text"] as? String)
                if name.hasSuffix(".pdf") { #expect((record["pages"] as? [Int])?.count == 2) }
                else { #expect(record["anchor"] is String && record["element"] is String) }
                count += 1
            }
            #expect(count > 3)
        }
    }

    @Test func stdinIsSniffedAndExtractShowsMarkdownAsIs() throws {
        let dir = try TempDir()
        dir.write("page.html", "<!DOCTYPE html><html><body><h1 id=\"t\">Piped</h1><p>From &lt;stdin&gt;.</p></body></html>")
        dir.write("notes.md", "# Notes\n\nKept   as is.\n")
        let piped = try shell("chunk --extract < page.html", in: dir.path)
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(piped.stdout == "Piped\n\nFrom <stdin>.")
        let records = try shell("chunk --counter upper-bound < page.html", in: dir.path)
        #expect(records.stdout.contains("\"anchor\":\"t\""), "\(records.stdout)")
        let markdown = try shell("chunk --extract notes.md", in: dir.path)
        #expect(markdown.stdout == "# Notes\n\nKept   as is.\n", "Markdown's spans point into the file itself")
        dir.write("scan.pdf", bytes: HandmadePDF.make(pages: [["text"]]))
        let pdf = try shell("chunk < scan.pdf", in: dir.path)
        #expect(pdf.status == 64 && pdf.stderr.contains("a PDF is read from a file"), "\(pdf.stderr)")
    }

    @Test func queryCitesPagesAndAnchors() throws {
        let dir = try TempDir()
        dir.write("docs/manual.pdf", bytes: HandmadePDF.make(pages: HandmadePDF.manualPages))
        dir.write("docs/guide.html", Self.guide)
        let build = try shell("chunk --counter upper-bound --max-tokens 64 docs | embed --embedder hash | build-index -o i.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let pdf = try shell("query --json -k 1 --min-score 0 --min-evidence=-9 i.ragx 'topic gamma number'", in: dir.path)
        #expect(pdf.status == 0, "\(pdf.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(pdf.stdout.utf8)) as! [String: Any]
        let hit = (result["hits"] as! [[String: Any]])[0]
        #expect(hit["source"] as? String == "manual.pdf")
        #expect(hit["pages"] as? [Int] == [3, 3])
        #expect(hit["citation"] as? String == "manual.pdf p. 3")
        let html = try shell("query -k 1 --min-score 0 --min-evidence=-9 i.ragx 'install the tools first'", in: dir.path)
        #expect(html.stdout.contains("guide.html#installation"), "\(html.stdout)")
    }
}

/// A DOCX written by hand: a zip (the document deflated with zlib, the rest stored) holding
/// `word/document.xml` with the given body and `docProps/core.xml` with a title.
enum HandmadeDOCX {
    static func make(body: String, title: String? = "Handbook", includeDocument: Bool = true) -> [UInt8] {
        let w = "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""
        var files: [(String, [UInt8], Bool)] = [
            ("[Content_Types].xml", Array("<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>".utf8), false),
        ]
        if includeDocument {
            files.append(("word/document.xml", Array("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document \(w)><w:body>\(body)</w:body></w:document>".utf8), true))
        }
        if let title {
            files.append(("docProps/core.xml", Array("<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>\(title)</dc:title></cp:coreProperties>".utf8), false))
        }
        var out: [UInt8] = [], central: [UInt8] = []
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
        func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * UInt32($0)) & 0xFF) } }
        for (name, data, deflate) in files {
            let crc = data.withUnsafeBytes { Zlib.crc32($0) }
            // zlib's stream minus its 2-byte header and 4-byte Adler-32 is the raw deflate a zip holds.
            let stored = deflate ? Array(Zlib.compress(data).dropFirst(2).dropLast(4)) : data
            let fields = le16(20) + le16(0) + le16(deflate ? 8 : 0) + le16(0) + le16(0) + le32(crc)
                + le32(UInt32(stored.count)) + le32(UInt32(data.count)) + le16(name.utf8.count) + le16(0)
            let offset = out.count
            out += le32(0x0403_4B50) + fields + Array(name.utf8) + stored
            central += le32(0x0201_4B50) + le16(20) + fields + le16(0) + le16(0) + le16(0) + le32(0) + le32(UInt32(offset)) + Array(name.utf8)
        }
        let centralOffset = out.count
        out += central
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(files.count) + le16(files.count)
            + le32(UInt32(central.count)) + le32(UInt32(centralOffset)) + le16(0)
        return out
    }

    static func paragraph(_ text: String, style: String? = nil, list: Bool = false) -> String {
        var pPr = ""
        if let style { pPr += "<w:pStyle w:val=\"\(style)\"/>" }
        if list { pPr += "<w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr>" }
        return "<w:p>" + (pPr.isEmpty ? "" : "<w:pPr>\(pPr)</w:pPr>") + "<w:r><w:t xml:space=\"preserve\">\(text)</w:t></w:r></w:p>"
    }

    static let handbook = [
        paragraph("Handbook", style: "Title"),
        paragraph("Read this first &amp; keep it."),
        "<w:bookmarkStart w:id=\"0\" w:name=\"_GoBack\"/><w:bookmarkStart w:id=\"1\" w:name=\"install\"/>",
        paragraph("Installation", style: "Heading1"),
        "<w:p><w:r><w:t>Install the </w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>tools</w:t></w:r><w:del><w:r><w:delText>DELETEDTEXT</w:delText></w:r></w:del><w:r><w:tab/><w:t>first.</w:t></w:r></w:p>",
        paragraph("first step", list: true),
        paragraph("second step", list: true),
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>knob</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>effect</w:t></w:r></w:p></w:tc></w:tr>"
            + "<w:tr><w:tc><w:p><w:r><w:t>nprobe</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>recall</w:t></w:r></w:p></w:tc></w:tr></w:tbl>",
        paragraph("Details", style: "heading 2"),
        paragraph("More about the tools."),
    ].joined()
}

extension ConvertedFormatsTests {
    @Test func docxParagraphsHeadingsListsTablesAndBookmarks() throws {
        let dir = try TempDir()
        dir.write("docs/handbook.docx", bytes: HandmadeDOCX.make(body: HandmadeDOCX.handbook))
        let doc = try #require(try read([dir.path + "/docs"]).first)
        #expect(doc.syntax == .docx)
        #expect(doc.title == "Handbook")
        let text = String(decoding: doc.bytes, as: UTF8.self)
        #expect(text == "Handbook\n\nRead this first & keep it.\n\nInstallation\n\nInstall the tools first.\n\nfirst step\nsecond step\n\nknob | effect\nnprobe | recall\n\nDetails\n\nMore about the tools.", "\(text)")
        let chunks = chunk(doc)
        expectSpans(doc, chunks)
        let install = try #require(chunks.first { $0.text.contains("Install the tools") })
        #expect(install.headings == ["Handbook", "Installation"])
        #expect(install.origin?.anchor == "install", "Word's own _GoBack is no anchor")
        #expect(install.origin?.element == "/w:document/w:body/w:p[3]", "\(install.origin?.element ?? "nil")")
        #expect(install.citation == "handbook.docx#install")
        #expect(chunks.last?.headings == ["Handbook", "Installation", "Details"])
        for budget in [10, 16, 30] { expectSpans(doc, chunk(doc, maxTokens: budget, overlap: 2)) }
    }

    @Test func brokenDOCXAreOneLineErrors() throws {
        let dir = try TempDir()
        let good = HandmadeDOCX.make(body: HandmadeDOCX.handbook)
        dir.write("bad/cut.docx", bytes: Array(good.prefix(good.count - 30)))
        dir.write("bad/empty-zip.docx", bytes: HandmadeDOCX.make(body: "", includeDocument: false))
        dir.write("bad/locked.docx", bytes: [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1] + [UInt8](repeating: 0, count: 504))
        dir.write("bad/text.docx", "just text named .docx")
        var corrupt = good
        let at = try #require(corrupt.indices.first { corrupt[$0...].starts(with: Array("word/document.xml".utf8)) }) + 17
        corrupt[at + 40] ^= 0xFF                 // a byte of the deflated document
        dir.write("bad/flipped.docx", bytes: corrupt)
        let cases: [(String, String)] = [
            ("cut.docx", "damaged or truncated zip"),
            ("empty-zip.docx", "not a DOCX (no word/document.xml in the zip)"),
            ("locked.docx", "encrypted DOCX or a legacy .doc"),
            ("text.docx", "not a DOCX (not a zip file)"),
            ("flipped.docx", "word/document.xml"),
        ]
        for (name, phrase) in cases {
            let r = try shell("chunk --counter upper-bound bad/\(name)", in: dir.path)
            #expect(r.status == 65, "\(name): \(r.stderr)")
            #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
            #expect(r.stderr.hasPrefix("chunk: error: bad/\(name): ") && r.stderr.contains(phrase), "\(name): \(r.stderr)")
        }
    }
}
