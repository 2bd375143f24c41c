/// The layout of a converted document (HTML, PDF): the same words, boundaries and sections as
/// a Markdown file's, read from the extractor's blocks instead of Markdown syntax, so the one
/// chunker serves every format.
extension DocumentLayout {
    /// Headings start sections (the heading path is their texts); every other block starts at a
    /// block boundary, except a list item or table row after another, which starts at a line
    /// (sentence) boundary as in Markdown. Code blocks' lines are sentence boundaries and their
    /// words are code; prose is cut at sentence ends.
    package init(bytes: UnsafeBufferPointer<UInt8>, blocks: [TextBlock], counter: some TokenCounter) {
        words.reserveCapacity(bytes.count / 5)
        var headingStack: [(level: Int, text: String)] = []
        var sectionStart = 0
        var sectionHasBody = false
        var sectionHeadings: [String] = []
        var pendingBoundary = Boundary.section
        var previousKind: TextBlock.Kind?

        for block in blocks {
            var blockBoundary = Boundary.block
            var isHeading = false
            switch block.kind {
            case .heading(let level):
                isHeading = true
                let text = Self.collapsedText(bytes, block.range)
                if level == 1 && firstTitle == nil && !text.isEmpty { firstTitle = text }
                while let last = headingStack.last, last.level >= level { headingStack.removeLast() }
                headingStack.append((level, text))
                if sectionHasBody {
                    sections.append(Section(words: sectionStart..<words.count, headings: sectionHeadings))
                    sectionStart = words.count
                    sectionHasBody = false
                }
                sectionHeadings = headingStack.map(\.text)
                blockBoundary = .section
            case .listItem, .tableRow:
                if previousKind == block.kind { blockBoundary = .sentence }
            case .paragraph, .code:
                break
            }
            previousKind = block.kind
            let inCode = block.kind == .code
            var first = true
            var lineStart = true
            var i = block.range.lowerBound
            let end = min(block.range.upperBound, bytes.count)
            while i < end {
                while i < end && isASCIISpace(bytes[i]) {
                    if bytes[i] == 0x0A { lineStart = true }
                    i += 1
                }
                if i >= end { break }
                let start = i
                while i < end && !isASCIISpace(bytes[i]) { i += 1 }
                var boundary = Boundary.word
                if first {
                    boundary = max(blockBoundary, pendingBoundary)
                    pendingBoundary = .word
                    first = false
                } else if inCode && lineStart {
                    boundary = .sentence
                } else if !inCode, let previous = words.last, words.count > sectionStart,
                          Self.endsSentence(bytes, previous.start, previous.end), !Self.startsLowercase(bytes[start]) {
                    boundary = .sentence
                }
                lineStart = false
                let tokens = counter.count(word: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                words.append(Word(start: start, end: i, tokens: max(tokens, 1), boundary: boundary, inCode: inCode))
            }
            if !first && !isHeading { sectionHasBody = true }
            if isHeading { pendingBoundary = max(pendingBoundary, .sentence) }
        }
        if words.count > sectionStart {
            sections.append(Section(words: sectionStart..<words.count, headings: sectionHeadings))
        }
    }

    /// A block's text with runs of white space as one space (a heading's text in the path).
    static func collapsedText(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        var out: [UInt8] = []
        var space = false
        for k in range where k < bytes.count {
            if isASCIISpace(bytes[k]) { space = !out.isEmpty; continue }
            if space { out.append(0x20); space = false }
            out.append(bytes[k])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
