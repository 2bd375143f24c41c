import RagPipeSupport
import RagPipeRecords

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns command-line inputs (files, directory trees, BEIR JSONL, stdin) into documents, in a
/// deterministic order: arguments as given, directory entries sorted by byte order.
public struct CorpusReader {
    public enum InputFormat: String, CaseIterable, Sendable {
        /// By extension: `.md`/`.markdown` Markdown, `.txt` text, `.jsonl` BEIR, `.html`/`.htm`
        /// HTML, `.pdf` PDF, `.docx` DOCX; other files by their first bytes (`%PDF-`, `<!DOCTYPE html`,
        /// `<html`), else skipped; stdin is sniffed.
        case auto
        case markdown
        case text
        case beir
        case html
        case pdf
        case docx
    }

    public struct Counts: Sendable {
        public var documents = 0
        public var skippedFiles = 0
        public var invalidFiles = 0
        /// Files in a directory tree that could not be read (permissions, I/O): warned, skipped.
        public var unreadableFiles = 0
        /// HTML, PDF or DOCX files whose text could not be had (encrypted, no text layer, truncated),
        /// skipped with `--skip-invalid`.
        public var unconvertibleFiles = 0
        /// Pages of the PDFs read.
        public var pages = 0
        public var bytes = 0
    }

    public var format: InputFormat
    /// Warn and count non-UTF-8 files instead of failing on the first.
    public var skipInvalid: Bool
    public private(set) var counts = Counts()
    private let warn: (String) -> Void
    /// Where each document id (`source`) was first read: chunk ids hash the source, so two
    /// documents under one id would get the same ids for different texts.
    private var firstSeen: [String: String] = [:]
    /// Directories entered, by device and inode: a symbolic link back up the tree (or a second
    /// link to a directory already read) is not walked again.
    private var visitedDirectories: Set<[UInt64]> = []

    public init(format: InputFormat = .auto, skipInvalid: Bool = false, warn: @escaping (String) -> Void = { _ in }) {
        self.format = format
        self.skipInvalid = skipInvalid
        self.warn = warn
    }

    static let markdownExtensions: Set<String> = ["md", "markdown"]
    static let textExtensions: Set<String> = ["txt"]
    static let beirExtensions: Set<String> = ["jsonl"]
    static let htmlExtensions: Set<String> = ["html", "htm", "xhtml"]
    static let pdfExtensions: Set<String> = ["pdf"]
    static let docxExtensions: Set<String> = ["docx"]

    /// Reads every input and calls `body` once per document. `-` is standard input.
    public mutating func read(_ inputs: [String], _ body: (SourceDocument) throws -> Void) throws {
        for input in inputs {
            if input == "-" {
                try readStdin(body)
                continue
            }
            var st = stat()
            guard stat(input, &st) == 0 else {
                throw RagPipeError.unreadable(path: input, reason: errnoDescription(errno))
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                visitedDirectories.insert([UInt64(st.st_dev), UInt64(st.st_ino)])
                try walk(root: input, relative: "", body)
            } else {
                do {
                    try readFile(path: input, relative: lastComponent(input), explicit: true, body)
                } catch RagPipeError.unconvertible(let path, let reason) where skipInvalid {
                    skipUnconvertible(path, reason)
                }
            }
        }
    }

    private mutating func walk(root: String, relative: String, _ body: (SourceDocument) throws -> Void) throws {
        let dirPath = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(dirPath) else {
            throw RagPipeError.unreadable(path: dirPath, reason: errnoDescription(errno))
        }
        var names: [String] = []
        var invalidNames: [String] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix(while: { $0 != 0 })) }
            guard let name = String(validating: bytes, as: UTF8.self) else {
                // Decoded with replacement characters the name would point at no file at all.
                invalidNames.append(bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : "\\x" + String($0, radix: 16, uppercase: true) }.joined())
                continue
            }
            if name.hasPrefix(".") { continue }         // ., .., hidden files and folders
            names.append(name)
        }
        closedir(dir)
        for name in invalidNames.sorted() {
            let shown = dirPath + "/" + name
            guard skipInvalid else { throw RagPipeError.unreadable(path: shown, reason: "file name is not valid UTF-8 (--skip-invalid skips it)") }
            counts.invalidFiles += 1
            warn("\(shown): file name is not valid UTF-8; skipped")
        }
        names.sort { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        for name in names {
            let rel = relative.isEmpty ? name : relative + "/" + name
            let full = root + "/" + rel
            var st = stat()
            guard stat(full, &st) == 0 else {         // follows symbolic links (a dangling one fails here)
                unreadable(full, errnoDescription(errno))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                guard access(full, R_OK | X_OK) == 0 else { unreadable(full, errnoDescription(errno)); continue }
                guard visitedDirectories.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else {
                    counts.skippedFiles += 1
                    warn("\(full): a directory already read (a symbolic link cycle or a second link to it); skipped")
                    continue
                }
                try walk(root: root, relative: rel, body)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                do {
                    try readFile(path: full, relative: rel, explicit: false, body)
                } catch RagPipeError.io(_, _, let code) {
                    // Inside a tree, one unreadable file should not stop a nightly run.
                    unreadable(full, errnoDescription(code))
                } catch RagPipeError.unreadable(_, let reason) {
                    unreadable(full, reason)
                } catch RagPipeError.unconvertible(let path, let reason) where skipInvalid {
                    skipUnconvertible(path, reason)
                }
            }
        }
    }

    /// Like a non-UTF-8 file, an HTML, PDF or DOCX file whose text cannot be had is an error, unless
    /// --skip-invalid skips it (warned and counted).
    private mutating func skipUnconvertible(_ path: String, _ reason: String) {
        counts.unconvertibleFiles += 1
        warn("\(path): \(reason); skipped")
    }

    private mutating func unreadable(_ path: String, _ reason: String) {
        counts.unreadableFiles += 1
        warn("\(path): cannot read: \(reason); skipped")
    }

    private mutating func readFile(path: String, relative: String, explicit: Bool,
                                   _ body: (SourceDocument) throws -> Void) throws {
        let ext = fileExtension(path)
        var kind: InputFormat
        switch format {
        case .auto:
            if Self.markdownExtensions.contains(ext) { kind = .markdown }
            else if Self.textExtensions.contains(ext) { kind = .text }
            else if Self.beirExtensions.contains(ext) { kind = .beir }
            else if Self.htmlExtensions.contains(ext) { kind = .html }
            else if Self.pdfExtensions.contains(ext) { kind = .pdf }
            else if Self.docxExtensions.contains(ext) { kind = .docx }
            else if let sniffed = try Self.sniff(path: path) { kind = sniffed }
            else if explicit { kind = .text }          // a file named explicitly is read as text
            else { counts.skippedFiles += 1; return }
        default:
            kind = format
        }
        if kind == .beir {
            let reader = try LineReader(path: path)
            defer { reader.close() }
            try readBEIR(reader, body)
            return
        }
        let bytes = try readFileBytes(path)
        // A PDF is a PDF whatever its name says (an .html that is one, say).
        if format == .auto && kind == .html && PDFExtractor.isPDF(bytes) { kind = .pdf }
        switch kind {
        case .html: try emitHTML(bytes: bytes, path: path, source: relative, body)
        case .pdf: try emitPDF(bytes: bytes, path: path, source: relative, body)
        case .docx: try emitDOCX(bytes: bytes, path: path, source: relative, body)
        default: try emitFile(bytes: bytes, path: path, source: relative, syntax: kind == .markdown ? .markdown : .text, body)
        }
    }

    /// The format of a file with no known extension, from its first bytes: a PDF header, or an
    /// HTML document type or root element (after a byte order mark and white space). Nil: neither.
    static func sniff(path: String) throws -> InputFormat? {
        let fd = try Syscall.openInput(path)
        defer { Syscall.closeFile(fd) }
        var head = [UInt8](repeating: 0, count: 1024)
        let n = try head.withUnsafeMutableBytes { try Syscall.readSome(fd, $0.baseAddress!, $0.count, path: path) }
        return sniff(Array(head[0..<n]))
    }

    package static func sniff(_ head: [UInt8]) -> InputFormat? {
        if head.starts(with: Array("%PDF-".utf8)) { return .pdf }
        var rest = head[...]
        if rest.starts(with: [0xEF, 0xBB, 0xBF]) { rest = rest.dropFirst(3) }
        rest = rest.drop(while: isASCIISpace)
        let lower = rest.prefix(15).map(asciiLower)
        if lower.starts(with: Array("<!doctype html".utf8)) || lower.starts(with: Array("<html".utf8)) { return .html }
        return nil
    }

    private mutating func emitHTML(bytes: [UInt8], path: String, source: String,
                                   _ body: (SourceDocument) throws -> Void) throws {
        let extraction = try HTMLExtractor.extract(bytes, path: path)
        try claim(source, at: path)
        counts.documents += 1
        counts.bytes += bytes.count
        try body(SourceDocument(source: source, title: extraction.title, bytes: extraction.text, syntax: .html,
                                blocks: extraction.blocks))
    }

    private mutating func emitDOCX(bytes: [UInt8], path: String, source: String,
                                   _ body: (SourceDocument) throws -> Void) throws {
        let extraction = try DOCXExtractor.extract(bytes, path: path)
        try claim(source, at: path)
        counts.documents += 1
        counts.bytes += bytes.count
        try body(SourceDocument(source: source, title: extraction.title, bytes: extraction.text, syntax: .docx,
                                blocks: extraction.blocks))
    }

    private mutating func emitPDF(bytes: [UInt8], path: String, source: String,
                                  _ body: (SourceDocument) throws -> Void) throws {
        let extraction = try PDFExtractor.extract(path: path, bytes: bytes)
        try claim(source, at: path)
        counts.documents += 1
        counts.pages += extraction.pages
        counts.bytes += bytes.count
        try body(SourceDocument(source: source, title: "", bytes: extraction.text, syntax: .pdf, blocks: extraction.blocks))
    }

    private mutating func emitFile(bytes: [UInt8], path: String, source: String, syntax: SourceDocument.Syntax,
                                   _ body: (SourceDocument) throws -> Void) throws {
        guard validateUTF8(bytes) else {
            if skipInvalid {
                counts.invalidFiles += 1
                warn("\(path): not valid UTF-8 text; skipped")
                return
            }
            throw RagPipeError.notUTF8(path: path)
        }
        try claim(source, at: path)
        counts.documents += 1
        counts.bytes += bytes.count
        try body(SourceDocument(source: source, title: "", bytes: bytes, syntax: syntax))
    }

    private mutating func readStdin(_ body: (SourceDocument) throws -> Void) throws {
        if format == .beir {
            try readBEIR(LineReader(fd: 0, name: "stdin"), body)
            return
        }
        let bytes = try readFileBytes("/dev/stdin")
        if format == .html || (format == .auto && Self.sniff(Array(bytes.prefix(1024))) == .html) {
            try emitHTML(bytes: bytes, path: "stdin", source: "stdin", body)
            return
        }
        if format == .pdf || (format == .auto && PDFExtractor.isPDF(bytes)) {
            throw RagPipeError.usage("stdin: a PDF is read from a file (pdftotext needs one): name it on the command line")
        }
        if format == .docx {
            let extraction = try DOCXExtractor.extract(bytes, path: "stdin")
            try claim("stdin", at: "stdin")
            counts.documents += 1
            counts.bytes += bytes.count
            try body(SourceDocument(source: "stdin", title: extraction.title, bytes: extraction.text, syntax: .docx, blocks: extraction.blocks))
            return
        }
        // Sniff: a stream of JSON objects is BEIR JSONL; anything else is one document.
        if format == .auto, let first = bytes.first(where: { !isASCIISpace($0) }), first == 0x7B {
            try bytes.withUnsafeBytes { raw in
                var lineNumber = 0
                var start = 0
                while start < raw.count {
                    let end = raw[start...].firstIndex(of: 0x0A) ?? raw.count
                    lineNumber += 1
                    var line = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                    if line.last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
                    try beirLine(line, place: "stdin:\(lineNumber)", body)
                    start = end + 1
                }
            }
            return
        }
        try emitFile(bytes: bytes, path: "stdin", source: "stdin", syntax: format == .text ? .text : .markdown, body)
    }

    private mutating func readBEIR(_ reader: LineReader, _ body: (SourceDocument) throws -> Void) throws {
        try reader.forEachLine { line, number in
            try beirLine(line, place: "\(reader.name):\(number)", body)
        }
    }

    private mutating func beirLine(_ line: UnsafeRawBufferPointer, place: String,
                                   _ body: (SourceDocument) throws -> Void) throws {
        if line.allSatisfy(isASCIISpace) { return }
        var id: String?, title = "", text: String?
        do {
            var s = JSONScanner(line)
            try s.beginObject()
            while let key = try s.nextKey() {
                if key.equals("_id") {
                    // BEIR ids are strings; some exports write numbers.
                    if s.peekIsString() { id = try s.readString() } else { id = String(try s.readInt()) }
                }
                else if key.equals("title") { title = s.readNull() ? "" : try s.readString() }
                else if key.equals("text") { text = try s.readString() }
                else { try s.skipValue() }
            }
            try s.expectEnd()
        } catch let error as JSONScanError {
            throw RagPipeError.malformedRecord(where: place, reason: error.description)
        }
        guard let id, !id.isEmpty else { throw RagPipeError.malformedRecord(where: place, reason: "missing \"_id\"") }
        guard let text else { throw RagPipeError.malformedRecord(where: place, reason: "missing \"text\"") }
        try claim(id, at: place)
        let doc = SourceDocument.beir(id: id, title: title, text: text)
        counts.documents += 1
        counts.bytes += line.count
        try body(doc)
    }
}

extension CorpusReader {
    /// Refuses a second document under one id, naming both places.
    private mutating func claim(_ source: String, at place: String) throws {
        if let first = firstSeen.updateValue(place, forKey: source) {
            throw RagPipeError.malformedRecord(where: place, reason: "document id '\(source)' again (first at \(first)): chunk ids would collide")
        }
    }
}

extension JSONScanner {
    package mutating func peekIsString() -> Bool { peek() == 0x22 }
}

package func validateUTF8(_ bytes: [UInt8]) -> Bool {
    // ASCII fast path, then the standard library's validator for the rest.
    var i = 0
    let n = bytes.count
    bytes.withUnsafeBufferPointer { b in
        while i + 8 <= n {
            let word = UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: UInt64.self)
            if word & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
    }
    if i == n { return true }
    return bytes.withUnsafeBufferPointer { String(validating: UnsafeBufferPointer(rebasing: $0[i...]), as: UTF8.self) != nil }
}

func fileExtension(_ path: String) -> String {
    let name = lastComponent(path)
    guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "" }
    return name[name.index(after: dot)...].lowercased()
}
