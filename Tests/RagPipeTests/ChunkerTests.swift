import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeChunking
@testable import RagPipeAnswering

@Suite struct ChunkerTests {
    static let guide = """
    # Retrieval guide

    Intro paragraph about retrieval. It has two sentences.

    ## Chunking

    Chunks should be small enough to embed. They should also keep their context! Is overlap needed? Often, e.g. for long sections, it helps.

    ```swift
    let chunker = RecursiveChunker(options: .init(), counter: counter)
    for record in chunker.records(of: document) { print(record.id) }
    ```

    - first item of a list
    - second item of a list

    ## Indexes ##

    Flat indexes are exact. IVF indexes probe a few lists.
    """

    func records(_ text: String, maxTokens: Int = 256, overlap: Int = 51, syntax: SourceDocument.Syntax = .markdown,
                 counter: any TokenCounter = UpperBoundTokenCounter()) -> (SourceDocument, [ChunkRecord]) {
        let doc = SourceDocument(source: "doc.md", title: "", bytes: Array(text.utf8), syntax: syntax)
        let chunker = RecursiveChunker(options: .init(maxTokens: maxTokens, overlapTokens: overlap), counter: counter)
        return (doc, chunker.records(of: doc))
    }

    /// The properties every chunking must have.
    func checkInvariants(_ doc: SourceDocument, _ chunks: [ChunkRecord], maxTokens: Int,
                         counter: any TokenCounter = UpperBoundTokenCounter(), sourceLocation: SourceLocation = #_sourceLocation) {
        for (i, c) in chunks.enumerated() {
            #expect(Array(c.text.utf8) == Array(doc.bytes[c.start..<c.end]), "chunk \(i) text is not its span", sourceLocation: sourceLocation)
            #expect(c.tokens <= maxTokens, "chunk \(i) has \(c.tokens) tokens", sourceLocation: sourceLocation)
            #expect(c.tokens == counter.count(text: c.text), "chunk \(i) token count is not its text's", sourceLocation: sourceLocation)
            #expect(c.position == i, sourceLocation: sourceLocation)
            #expect(c.id == ChunkRecord.stableID(source: doc.source, start: c.start, end: c.end), sourceLocation: sourceLocation)
            // Never inside a word: the bytes around a span are white space or the document's ends.
            if c.start > 0 { #expect(isASCIISpace(doc.bytes[c.start - 1]), "chunk \(i) starts inside a word", sourceLocation: sourceLocation) }
            if c.end < doc.bytes.count { #expect(isASCIISpace(doc.bytes[c.end]), "chunk \(i) ends inside a word", sourceLocation: sourceLocation) }
        }
        // Every word of the document is in some chunk.
        var covered = [Bool](repeating: false, count: doc.bytes.count)
        for c in chunks { for j in c.start..<c.end { covered[j] = true } }
        for (j, b) in doc.bytes.enumerated() where !isASCIISpace(b) {
            #expect(covered[j], "byte \(j) is in no chunk", sourceLocation: sourceLocation)
            if !covered[j] { break }
        }
    }

    @Test func smallSectionsAreOneChunkEachWithHeadingPaths() {
        let (doc, chunks) = records(Self.guide, maxTokens: 512)
        checkInvariants(doc, chunks, maxTokens: 512)
        #expect(chunks.map(\.headings) == [["Retrieval guide"], ["Retrieval guide", "Chunking"], ["Retrieval guide", "Indexes"]])
        #expect(chunks.allSatisfy { $0.title == "Retrieval guide" })
        #expect(chunks[2].text == "## Indexes ##\n\nFlat indexes are exact. IVF indexes probe a few lists.")
    }

    @Test func tightBudgetsSplitAtSentencesAndKeepCodeWhole() {
        let (doc, chunks) = records(Self.guide, maxTokens: 140, overlap: 10)
        checkInvariants(doc, chunks, maxTokens: 140)
        #expect(!chunks.contains { $0.text == "## Chunking" }, "a heading stays with its text")
        let fence = chunks.filter { $0.text.contains("```swift") }
        #expect(fence.count == 1)
        #expect(fence.first?.text.contains("print(record.id) }\n```") == true, "the fenced block fits and stays whole")
        // A cut inside the prose falls after a sentence, not mid-sentence.
        for c in chunks where c.headings.last == "Chunking" && !c.text.contains("```") && !c.text.hasPrefix("-") {
            let last = c.text.last!
            #expect(".!?".contains(last) || c.text.hasSuffix("list"), "cut mid-sentence: \(c.text)")
        }
    }

    @Test func abbreviationsDoNotEndSentences() {
        let s = SentenceSplitter.sentences(in: "Use e.g. a flat index. Dr. Smith measured 3.14 ms! Then J. Doe left.")
        #expect(s.map(\.text) == ["Use e.g. a flat index.", "Dr. Smith measured 3.14 ms!", "Then J. Doe left."])
    }

    @Test func overlapRepeatsTrailingContext() {
        let sentences = (0..<60).map { "Fact \($0) is true." }
        let (doc, chunks) = records(sentences.joined(separator: " "), maxTokens: 100, overlap: 30, syntax: .text)
        checkInvariants(doc, chunks, maxTokens: 100)
        #expect(chunks.count > 5)
        for (a, b) in zip(chunks, chunks.dropFirst()) {
            #expect(b.start < a.end, "consecutive chunks overlap")
            guard b.start < a.end else { continue }
            let shared = doc.bytes[b.start..<a.end]
            #expect(UpperBoundTokenCounter().count(text: String(decoding: shared, as: UTF8.self)) - 2 <= 30)
        }
    }

    @Test func oversizedWordsAreCutAtCharacterBoundariesOnly() {
        let blob = String(repeating: "é", count: 300) + String(repeating: "한", count: 50)
        let (doc, chunks) = records("Before. \(blob) after.", maxTokens: 64, overlap: 0, syntax: .text)
        #expect(chunks.count > 3)
        for (i, c) in chunks.enumerated() {
            #expect(Array(c.text.utf8) == Array(doc.bytes[c.start..<c.end]))
            #expect(c.tokens <= 64, "chunk \(i)")
        }
        #expect(chunks.map(\.text).joined() .filter { $0 != " " } == "Before.\(blob)after.".filter { $0 != " " })
    }

    @Test func chunkingIsDeterministic() {
        let text = String(repeating: Self.guide + "\n\n", count: 20)
        let a = records(text, maxTokens: 90, overlap: 20).1
        let b = records(text, maxTokens: 90, overlap: 20).1
        #expect(a == b)
    }

    @Test func randomDocumentsKeepInvariants() {
        var rng = SplitMix(seed: 7)
        let words = ["alpha", "beta.", "Gamma", "delta?", "\n\n", "\n", "# Head", "```", "x", "ünï", "中文", "e.g.", "-", "😀", "\n## Sub\n"]
        for trial in 0..<60 {
            var text = ""
            for _ in 0..<(Int(rng.next() % 400) + 1) {
                text += words[Int(rng.next() % UInt64(words.count))]
                text += rng.next() % 4 == 0 ? "\n" : " "
            }
            let maxTokens = 16 + Int(rng.next() % 100)
            let (doc, chunks) = records(text, maxTokens: maxTokens, overlap: maxTokens / 5)
            checkInvariants(doc, chunks, maxTokens: maxTokens)
            if trial == 0 { #expect(!chunks.isEmpty) }
        }
    }

    @Test func upperBoundNeverUndercountsKnownWordPieceCounts() throws {
        // Golden WordPiece ids from sentence-transformers (Fixtures/minilm): the bound must be at
        // least the real count for every text.
        let path = try Fixtures.path("minilm/token_ids.jsonl")
        let textsPath = try Fixtures.path("minilm/texts.jsonl")
        var texts: [Int: String] = [:]
        try LineReader(path: textsPath).forEachLine { line, _ in
            var s = JSONScanner(line)
            try s.beginObject()
            var i = -1, text = ""
            while let key = try s.nextKey() {
                if key.equals("i") { i = try s.readInt() } else if key.equals("text") { text = try s.readString() } else { try s.skipValue() }
            }
            texts[i] = text
        }
        var checked = 0
        try LineReader(path: path).forEachLine { line, _ in
            var s = JSONScanner(line)
            try s.beginObject()
            var i = -1, untruncated = 0
            while let key = try s.nextKey() {
                if key.equals("i") { i = try s.readInt() }
                else if key.equals("n_ids_untruncated") { untruncated = try s.readInt() }
                else { try s.skipValue() }
            }
            let text = try #require(texts[i], "text \(i) of \(path) is not in \(textsPath)")
            let bound = UpperBoundTokenCounter().count(text: text)
            #expect(bound >= untruncated, "text \(i): bound \(bound) < real \(untruncated)")
            checked += 1
        }
        #expect(checked == 20)
    }
}

/// Deterministic pseudo-random numbers for property tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return StableHash.mix(state)
    }
}
