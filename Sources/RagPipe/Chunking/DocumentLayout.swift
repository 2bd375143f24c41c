import RagPipeRecords

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How strongly the gap before a word separates it from the previous one. The recursive
/// splitter cuts at the strongest boundaries first.
public enum Boundary: UInt8, Comparable, Sendable {
    case word = 1
    /// Sentence end in prose; a line in code, lists, tables and quotes; the end of a heading line.
    case sentence = 2
    /// Blank line, fenced code start or end.
    case block = 3
    /// A Markdown heading: chunks never cross it.
    case section = 4

    public static func < (a: Boundary, b: Boundary) -> Bool { a.rawValue < b.rawValue }
}

/// A document cut into words (runs without ASCII white space), each with its token count and
/// the boundary before it, and into sections at Markdown headings.
package struct DocumentLayout {
    package struct Word {
        package var start: Int
        package var end: Int
        var tokens: Int
        package var boundary: Boundary
        /// Inside fenced code (fences included).
        package var inCode: Bool
    }

    struct Section {
        /// Range of word indices.
        var words: Range<Int>
        var headings: [String]
    }

    package var words: [Word] = []
    var sections: [Section] = []
    /// The first level-1 heading, if any.
    var firstTitle: String?
}

extension DocumentLayout {
    /// Scans `bytes` line by line. Markdown syntax recognized: ATX headings (`#`..`######`),
    /// fenced code (``` or ~~~, at most 3 spaces of indent), list items, table rows and block
    /// quotes (each line a boundary). Plain text has only paragraphs and sentences.
    package init(bytes: UnsafeBufferPointer<UInt8>, markdown: Bool, counter: some TokenCounter) {
        words.reserveCapacity(bytes.count / 5)
        var headingStack: [(level: Int, text: String)] = []
        var sectionStart = 0
        var sectionHasBody = false
        var sectionHeadings: [String] = []
        var inFence = false
        var closedFence = false
        var fenceByte: UInt8 = 0
        var fenceLength = 0
        var pendingBoundary = Boundary.section  // the boundary the next word gets at least
        let n = bytes.count
        var lineStart = 0

        while lineStart < n {
            let lineEnd = memchr(bytes.baseAddress! + lineStart, 0x0A, n - lineStart)
                .map { UnsafeRawPointer(bytes.baseAddress!).distance(to: UnsafeRawPointer($0)) } ?? n
            let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
            let indent = line.prefix(while: { $0 == 0x20 }).count
            let content = UnsafeBufferPointer(rebasing: line[indent...])
            let blank = content.allSatisfy(isASCIISpace)

            var lineBoundary = Boundary.word
            var isHeading = false
            var isFence = false
            if blank {
                if !inFence { pendingBoundary = max(pendingBoundary, .block) }
            } else if markdown {
                if indent <= 3, let (byte, length) = Self.fence(content) {
                    if !inFence {
                        inFence = true; fenceByte = byte; fenceLength = length; isFence = true
                    } else if byte == fenceByte && length >= fenceLength && Self.restIsBlank(content, from: length) {
                        inFence = false; isFence = true; closedFence = true
                    }
                }
                if isFence {
                    // A code block is cut before its opening fence and after its closing one.
                    lineBoundary = closedFence ? .sentence : .block
                } else if inFence {
                    lineBoundary = .sentence
                } else if indent <= 3, let (level, text) = Self.heading(content) {
                    isHeading = true
                    if level == 1 && firstTitle == nil && !text.isEmpty { firstTitle = text }
                    while let last = headingStack.last, last.level >= level { headingStack.removeLast() }
                    headingStack.append((level, text))
                    if sectionHasBody {
                        sections.append(Section(words: sectionStart..<words.count, headings: sectionHeadings))
                        sectionStart = words.count
                        sectionHasBody = false
                    }
                    // A section that so far holds only headings absorbs this one: its path is the newest.
                    sectionHeadings = headingStack.map(\.text)
                    lineBoundary = .section
                } else if Self.startsListOrTable(content) {
                    lineBoundary = .sentence
                }
            }

            // Words of the line.
            var i = lineStart
            var firstWord = true
            while i < lineEnd {
                while i < lineEnd && isASCIISpace(bytes[i]) { i += 1 }
                if i >= lineEnd { break }
                let start = i
                while i < lineEnd && !isASCIISpace(bytes[i]) { i += 1 }
                var boundary = Boundary.word
                if firstWord {
                    boundary = max(lineBoundary, pendingBoundary)
                    pendingBoundary = .word
                    firstWord = false
                }
                if boundary < .sentence && !inFence && !isFence, let previous = words.last,
                   words.count > sectionStart,
                   Self.endsSentence(bytes, previous.start, previous.end), !Self.startsLowercase(bytes[start]) {
                    boundary = .sentence
                }
                let tokens = counter.count(word: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                words.append(Word(start: start, end: i, tokens: max(tokens, 1), boundary: boundary, inCode: inFence || isFence))
            }
            if !firstWord && !isHeading { sectionHasBody = true }
            // A heading stays with the text it introduces: only a sentence-level cut separates them.
            if isHeading { pendingBoundary = max(pendingBoundary, .sentence) }
            if closedFence { pendingBoundary = max(pendingBoundary, .block); closedFence = false }
            lineStart = lineEnd + 1
        }
        if words.count > sectionStart {
            sections.append(Section(words: sectionStart..<words.count, headings: sectionHeadings))
        }
    }

    static func fence(_ content: UnsafeBufferPointer<UInt8>) -> (UInt8, Int)? {
        guard let first = content.first, first == 0x60 || first == 0x7E else { return nil }
        let length = content.prefix(while: { $0 == first }).count
        return length >= 3 ? (first, length) : nil
    }

    static func restIsBlank(_ content: UnsafeBufferPointer<UInt8>, from: Int) -> Bool {
        content[from...].allSatisfy(isASCIISpace)
    }

    /// `#{1,6}` followed by a space or the end of the line; the text without closing `#`s.
    static func heading(_ content: UnsafeBufferPointer<UInt8>) -> (Int, String)? {
        let level = content.prefix(while: { $0 == 0x23 }).count
        guard level >= 1 && level <= 6 else { return nil }
        if level < content.count && content[level] != 0x20 && content[level] != 0x09 { return nil }
        var lo = level, hi = content.count
        while lo < hi && isASCIISpace(content[lo]) { lo += 1 }
        while hi > lo && isASCIISpace(content[hi - 1]) { hi -= 1 }
        var closing = hi
        while closing > lo && content[closing - 1] == 0x23 { closing -= 1 }
        if closing < hi && (closing == lo || content[closing - 1] == 0x20) {
            hi = closing
            while hi > lo && isASCIISpace(content[hi - 1]) { hi -= 1 }
        }
        return (level, String(decoding: UnsafeBufferPointer(rebasing: content[lo..<hi]), as: UTF8.self))
    }

    static func startsListOrTable(_ content: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let c = content.first else { return false }
        if c == 0x7C || c == 0x3E { return true }                      // | table row, > quote
        if (c == 0x2D || c == 0x2A || c == 0x2B) && content.count > 1 && content[1] == 0x20 { return true }
        var i = 0
        while i < content.count && content[i] >= 0x30 && content[i] <= 0x39 { i += 1 }
        return i > 0 && i + 1 < content.count && (content[i] == 0x2E || content[i] == 0x29) && content[i + 1] == 0x20
    }

    /// Abbreviations that end in a period but not a sentence, packed little-endian into a
    /// UInt64 each (all are at most 8 bytes), sorted for binary search.
    static let abbreviations: [UInt64] = [
        "e.g.", "i.e.", "etc.", "vs.", "cf.", "al.", "mr.", "mrs.", "ms.", "dr.", "prof.", "fig.", "figs.",
        "no.", "st.", "approx.", "eq.", "ref.", "vol.", "pp.", "jr.", "sr.", "inc.", "ltd.", "co.",
    ].map { word in word.utf8.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }.sorted()

    static func isAbbreviation(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard end - start <= 8 else { return false }
        var packed: UInt64 = 0
        for k in start..<end { packed |= UInt64(asciiLower(bytes[k])) << (8 * UInt64(k - start)) }
        var lo = 0, hi = abbreviations.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if abbreviations[mid] < packed { lo = mid + 1 } else { hi = mid }
        }
        return lo < abbreviations.count && abbreviations[lo] == packed
    }

    /// Whether a word ends a sentence: `.`, `!` or `?`, maybe followed by closing quotes or
    /// brackets, and not a known abbreviation or a single-letter initial.
    static func endsSentence(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        // Fast reject: most words end in none of . ! ? " ' ) ] or a closing curly quote.
        let tail = bytes[end - 1]
        if tail != 0x2E && tail != 0x21 && tail != 0x3F && tail != 0x22 && tail != 0x27 && tail != 0x29
            && tail != 0x5D && tail != 0x9D && tail != 0x99 { return false }
        var e = end
        while e > start {
            let c = bytes[e - 1]
            if c == 0x22 || c == 0x27 || c == 0x29 || c == 0x5D { e -= 1; continue }
            if e - start >= 3 && bytes[e - 3] == 0xE2 && bytes[e - 2] == 0x80 && (c == 0x9D || c == 0x99) { e -= 3; continue }
            break
        }
        guard e > start else { return false }
        let last = bytes[e - 1]
        if last == 0x21 || last == 0x3F { return true }
        guard last == 0x2E else { return false }
        let length = e - start
        if length == 2 && isASCIILetter(bytes[start]) { return false }             // initial: "J."
        return !isAbbreviation(bytes, start, e)
    }

    @inline(__always) static func startsLowercase(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
}

@inline(__always) func isASCIILetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
@inline(__always) func asciiLower(_ c: UInt8) -> UInt8 { (c >= 0x41 && c <= 0x5A) ? c | 0x20 : c }
