import RagPipeSupport

/// PDF into extracted text and blocks, with poppler's `pdftotext` (poppler-utils, GPL), run as
/// a separate process and never linked.
///
/// `pdftotext -raw` writes each page's text in the order of its content stream, pages ended by
/// a form feed; on this project's README typeset in one and in two columns it kept reading order
/// best of its three modes (scripts/pdf-reading-order.py). Then, per document:
/// - running headers and footers are dropped: among the first and last two lines of each page, a
///   line that (digits aside) starts or ends at least 60% of the pages, and three or more;
/// - a word hyphenated at a line end is joined when the next line goes on in lowercase (or in
///   uppercase, when the document spells the joined word elsewhere), keeping the hyphen only when
///   the document elsewhere spells the word with one and never without;
/// - pages are joined by a form feed (`\f`), and each page's paragraphs (split at blank lines)
///   are blocks on that page, so a page break is always a cut point.
package enum PDFExtractor {
    package struct Extraction {
        package var text: [UInt8]
        package var blocks: [TextBlock]
        package var pages: Int
    }

    /// The converter's name; `RAGPIPE_PDFTOTEXT` overrides it (tests use it to play a machine without poppler).
    static var program: String { ProcessEnvironment.value("RAGPIPE_PDFTOTEXT") ?? "pdftotext" }
    package static let installCommand = "apt-get install poppler-utils"

    package static func extract(path: String, bytes: [UInt8]) throws -> Extraction {
        guard Self.isPDF(bytes) else {
            throw RagPipeError.unconvertible(path: path, reason: "not a PDF (no %PDF- header)")
        }
        // The spec ends every PDF with %%EOF; a file cut short (a broken download or copy) lacks it.
        guard bytes.suffix(2048).indices.contains(where: { i in bytes[i...].starts(with: Array("%%EOF".utf8)) }) else {
            throw RagPipeError.unconvertible(path: path, reason: "truncated PDF (no %%EOF at its end): the file was cut short; copy or download it again")
        }
        guard let run = try ChildProcess.run(program, ["-raw", "-enc", "UTF-8", "-eol", "unix", path, "-"]) else {
            throw RagPipeError.unavailable("\(path): reading PDFs needs pdftotext (poppler-utils), which is not on PATH; install it: \(installCommand)")
        }
        let message = String(decoding: run.stderr, as: UTF8.self)
        guard run.status == 0 else {
            if message.contains("Incorrect password") || message.lowercased().contains("encrypt") {
                throw RagPipeError.unconvertible(path: path, reason: "encrypted PDF: it needs a password to open; decrypt it first (qpdf --decrypt --password=PASSWORD IN OUT)")
            }
            let first = message.split(separator: "\n").first.map(String.init) ?? "exit status \(run.status)"
            throw RagPipeError.unconvertible(path: path, reason: "pdftotext failed (exit status \(run.status)): \(first)")
        }
        guard let extraction = cleaned(run.stdout) else {
            let pages = splitPages(run.stdout).count
            throw RagPipeError.unconvertible(path: path, reason: "no text layer (\(pages) page\(pages == 1 ? "" : "s") of images only, a scan?): run OCR first, e.g. ocrmypdf IN.pdf OUT.pdf")
        }
        return extraction
    }

    /// pdftotext's output made the extracted text: running lines dropped, hyphens joined, pages
    /// composed. Nil when no page holds any text. (The fuzz target `pdf-text` runs it on any bytes.)
    package static func cleaned(_ output: [UInt8]) -> Extraction? {
        var pages = splitPages(String(decoding: output, as: UTF8.self).utf8.map { $0 })
        if pages.allSatisfy({ $0.allSatisfy { $0.allSatisfy(isASCIISpace) } }) { return nil }
        dropRunningLines(&pages)
        joinHyphenation(&pages)
        return compose(pages)
    }

    static func isPDF(_ bytes: [UInt8]) -> Bool {
        // The header may follow a little junk (the spec allows it within the first 1,024 bytes).
        let head = bytes.prefix(1024)
        let magic = Array("%PDF-".utf8)
        return head.indices.contains { head[$0...].starts(with: magic) }
    }

    /// pdftotext's output as pages of lines (trailing white space trimmed); every page ends with
    /// a form feed, so the piece after the last one is not a page.
    static func splitPages(_ output: [UInt8]) -> [[[UInt8]]] {
        var pieces = output.split(separator: 0x0C, omittingEmptySubsequences: false).map(Array.init)
        if pieces.count > 1, pieces.last!.allSatisfy(isASCIISpace) { pieces.removeLast() }
        return pieces.map { page in
            page.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
                var l = Array(line)
                while let last = l.last, isASCIISpace(last) { l.removeLast() }
                return l
            }
        }
    }

    /// A line's identity across pages: lowercase, runs of digits as one `#`, white space collapsed
    /// (so "Page 3 of 20" and "- 4 -" recur).
    static func runningKey(_ line: [UInt8]) -> [UInt8] {
        var key: [UInt8] = []
        for c in line {
            if c >= 0x30 && c <= 0x39 { if key.last != 0x23 { key.append(0x23) }; continue }
            if isASCIISpace(c) { if key.last != 0x20 && !key.isEmpty { key.append(0x20) }; continue }
            key.append(asciiLower(c))
        }
        while key.last == 0x20 { key.removeLast() }
        return key
    }

    static let edgeLines = 2

    /// Drops headers and footers that repeat at the top or bottom of most pages.
    static func dropRunningLines(_ pages: inout [[[UInt8]]]) {
        guard pages.count >= 3 else { return }
        let needed = max(3, (pages.count * 6 + 9) / 10)
        func edges(_ page: [[UInt8]], top: Bool) -> [Int] {
            let nonEmpty = page.indices.filter { !page[$0].isEmpty }
            return Array(top ? nonEmpty.prefix(edgeLines) : nonEmpty.suffix(edgeLines))
        }
        for top in [true, false] {
            var counts: [[UInt8]: Int] = [:]
            for page in pages {
                for key in Set(edges(page, top: top).map { runningKey(page[$0]) }) where !key.isEmpty { counts[key, default: 0] += 1 }
            }
            let running = Set(counts.filter { $0.value >= needed }.keys)
            guard !running.isEmpty else { continue }
            for p in pages.indices {
                for i in edges(pages[p], top: top) where running.contains(runningKey(pages[p][i])) {
                    pages[p][i] = []
                }
            }
        }
    }

    /// Joins words hyphenated at line ends (`retrie-` / `val` → `retrieval`).
    static func joinHyphenation(_ pages: inout [[[UInt8]]]) {
        // Every word of the document, lowercased, trimmed of punctuation at its ends.
        var vocabulary = Set<[UInt8]>()
        for page in pages {
            for line in page {
                for word in line.split(whereSeparator: isASCIISpace) {
                    vocabulary.insert(trimmedWord(Array(word)))
                }
            }
        }
        for p in pages.indices {
            var lines = pages[p]
            var i = 0
            while i + 1 < lines.count {
                let line = lines[i]
                guard line.count >= 3, line.last == 0x2D, isASCIILetter(line[line.count - 2]) || line[line.count - 2] >= 0x80 else { i += 1; continue }
                // The next non-empty line must go on in lowercase.
                var j = i + 1
                while j < lines.count && lines[j].isEmpty { j += 1 }
                guard j < lines.count, j == i + 1 else { i += 1; continue }
                let next = lines[j]
                let lead = next.prefix(while: { !isASCIISpace($0) })
                guard let first = lead.first, isASCIILetter(first) || first >= 0x80 else { i += 1; continue }
                // The first part: the last word of the line, without its hyphen.
                let wordStart = (line.lastIndex(where: isASCIISpace).map { $0 + 1 }) ?? 0
                let head = Array(line[wordStart..<(line.count - 1)])
                // The rest of the word: letters (and hyphens) of the next line; punctuation stays behind it.
                let tailLength = lead.prefix(while: { isASCIILetter($0) || $0 == 0x2D || $0 >= 0x80 }).count
                let tail = Array(lead.prefix(tailLength))
                let joined = trimmedWord(head + tail), hyphenated = trimmedWord(head + [0x2D] + tail)
                // Going on in uppercase ("Rag-" / "PipeSupport") joins only a word the document spells whole.
                if !(first >= 0x61 && first <= 0x7A) && !vocabulary.contains(joined) { i += 1; continue }
                let keepHyphen = vocabulary.contains(hyphenated) && !vocabulary.contains(joined)
                lines[i] = Array(line.dropLast()) + (keepHyphen ? [0x2D] : []) + Array(lead)
                var rest = Array(next[lead.count...])
                while let c = rest.first, isASCIISpace(c) { rest.removeFirst() }
                lines[j] = rest
                if rest.isEmpty { lines.remove(at: j) }
                // The joined line may itself end with a hyphen now: look at it again.
            }
            pages[p] = lines
        }
    }

    static func trimmedWord(_ word: [UInt8]) -> [UInt8] {
        func isWordByte(_ c: UInt8) -> Bool { isASCIILetter(c) || (c >= 0x30 && c <= 0x39) || c >= 0x80 }
        guard let a = word.firstIndex(where: isWordByte), let b = word.lastIndex(where: isWordByte) else { return [] }
        return word[a...b].map(asciiLower)
    }

    /// Pages joined by a form feed; each page's paragraphs (split at blank lines) a block on it,
    /// separated by a blank line, their lines by a newline.
    static func compose(_ pages: [[[UInt8]]]) -> Extraction {
        var text: [UInt8] = []
        var blocks: [TextBlock] = []
        for (p, lines) in pages.enumerated() {
            if p > 0 { text.append(0x0C) }
            var paragraphs: [[[UInt8]]] = [[]]
            for line in lines {
                if line.allSatisfy(isASCIISpace) {
                    if !paragraphs.last!.isEmpty { paragraphs.append([]) }
                } else {
                    paragraphs[paragraphs.count - 1].append(line)
                }
            }
            for (k, paragraph) in paragraphs.filter({ !$0.isEmpty }).enumerated() {
                if k > 0 { text.append(contentsOf: [0x0A, 0x0A]) }
                let start = text.count
                for (l, line) in paragraph.enumerated() {
                    if l > 0 { text.append(0x0A) }
                    text.append(contentsOf: line)
                }
                blocks.append(TextBlock(kind: .paragraph, range: start..<text.count, page: p + 1))
            }
        }
        return Extraction(text: text, blocks: blocks, pages: pages.count)
    }
}
