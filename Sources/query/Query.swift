import ArgumentParser
import RagPipe

@main
struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search an index and answer from it, with citations, or abstain.",
        discussion: """
        Memory-maps the index (opening reads only its header and tables), embeds each query with \
        the embedder the index names, finds the exact top-k chunks, and writes a grounded \
        extractive answer: the best-matching sentences of the top hits, each followed by [n], the \
        rank of the hit it came from. When the best hit scores below --min-score it answers \
        "I don't know" and lists the closest sources.

        Queries come from the arguments, or from stdin one per line when there are none.

        Examples:
          query index/corpus.ragx "how does overlap affect recall?"
          query --json -k 10 index/corpus.ragx < questions.txt
        """)

    @Argument(help: "Index file.")
    var index: String

    @Argument(help: "Queries (default: one per line on stdin).")
    var queries: [String] = []

    @Option(name: .short, help: "Hits to return.")
    var k: Int = 5

    @Option(help: "Abstain when no hit's cosine similarity to the query reaches this (default: the embedder's, see README).")
    var minScore: Float?

    @Flag(help: "One JSON object per query (docs/FORMATS.md).")
    var json = false

    @Flag(help: "Check every section and block checksum before answering.")
    var verify = false

    @Option(help: "Ranking: dense vectors, BM25, or both fused (default: hybrid when the index has BM25).")
    var mode: RetrievalMode?

    @Option(help: "How hybrid mode combines the two rankings (weighted: best on SciFact, see README).")
    var fusion: Fusion = .weighted

    @Option(help: "Dense weight of --fusion weighted (BM25 gets 1 − weight).")
    var weight: Float = 0.5

    @Option(help: "Run each row of a float32 N×d .npy matrix as a query vector (no embedder, no answer).")
    var npy: String?

    @Option(help: "IVF lists to probe per query (default: the value tuned at build time for recall@10 ≥ 0.95).")
    var nprobe: Int?

    @Option(name: .customLong("bm25-k1"), help: "BM25 k1 (default: the value stored in the index).")
    var bm25K1: Float?

    @Option(name: .customLong("bm25-b"), help: "BM25 b (default: the value stored in the index).")
    var bm25B: Float?

    @Option(help: "Model folder, when the index's model is not in the default places (see README).")
    var model: String?

    @Option(help: "Concurrent forward passes when embedding answer sentences (minilm).")
    var threads: Int = 2

    func validate() throws {
        guard k >= 1 && k <= 10_000 else { throw ValidationError("-k must be in 1...10000") }
        guard weight >= 0 && weight <= 1 else { throw ValidationError("--weight must be in 0...1") }
        if let bm25K1, !(bm25K1 >= 0 && bm25K1 <= 10) { throw ValidationError("--bm25-k1 must be in 0...10") }
        if let bm25B, !(bm25B >= 0 && bm25B <= 1) { throw ValidationError("--bm25-b must be in 0...1") }
        if let nprobe, nprobe < 1 { throw ValidationError("--nprobe must be at least 1") }
    }

    func run() throws {
        let status = ToolErrors.run("query") {
            let reader = try IndexReader(path: index)
            if verify { try reader.verify() }
            if let npy {
                // Vector queries: one line per row, hits as index rows (= ids of an --npy index).
                let results = try VectorQueries.search(reader, queries: try NumpyMatrix(path: npy), k: k, nprobe: nprobe)
                let sink = OutputSink()
                for (i, hits) in results.enumerated() {
                    if json {
                        try sink.write("{\"query\":\(i),\"hits\":[" + hits.enumerated().map { r, h in
                            "{\"rank\":\(r + 1),\"row\":\(h.row),\"score\":\(h.score)}" }.joined(separator: ",") + "]}\n")
                    } else {
                        try sink.write("\(i): " + hits.map { "\($0.row):\(formatScore($0.score))" }.joined(separator: " ") + "\n")
                    }
                }
                try sink.flush()
                return
            }
            let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                         modelDirectory: model, threads: threads)
            let engine = try QueryEngine(index: reader, embedder: embedder, k: k, minScore: minScore, mode: mode)
            engine.fusion = fusion
            engine.nprobe = nprobe
            engine.denseWeight = weight
            if let bm25K1 { engine.bm25?.parameters.k1 = bm25K1 }
            if let bm25B { engine.bm25?.parameters.b = bm25B }
            let sink = OutputSink()
            func answer(_ q: String) throws {
                let result = try engine.run(q)
                if json {
                    try sink.append { result.appendJSON(to: &$0) }
                } else {
                    try sink.write(result.renderText())
                }
            }
            if queries.isEmpty {
                try LineReader(fd: 0, name: "stdin").forEachLine { line, number in
                    guard let q = String(validating: UnsafeBufferPointer(start: line.baseAddress?.assumingMemoryBound(to: UInt8.self), count: line.count), as: UTF8.self) else {
                        throw RagPipeError.malformedRecord(where: "stdin:\(number)", reason: "not valid UTF-8")
                    }
                    let trimmed = q.trimmingWhitespace()
                    if !trimmed.isEmpty { try answer(trimmed) }
                    try sink.flush()
                }
            } else {
                for q in queries { try answer(q) }
            }
            try sink.flush()
        }
        if status != 0 { throw ExitCode(status) }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s = s.dropFirst() }
        while s.last?.isWhitespace == true { s = s.dropLast() }
        return String(s)
    }
}

extension RetrievalMode: ExpressibleByArgument {}
extension Fusion: ExpressibleByArgument {}

func formatScore(_ x: Float) -> String { String((Double(x) * 1e6).rounded() / 1e6) }
