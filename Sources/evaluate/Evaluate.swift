import ArgumentParser
import RagPipe

@main
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score an index on BEIR-format queries and qrels: nDCG@10, Recall@10/100, MRR@10, latency.",
        discussion: """
        Runs every query that has relevance judgments, in each retrieval configuration, maps chunk \
        hits to documents (a document's score is its best chunk's; the document id is the chunk's \
        source, the BEIR _id) and prints the mean metrics and the latency percentiles (query \
        embedding + ranking). --run writes TREC run files (qid Q0 docid rank score tag).

        Example:
          evaluate index/scifact.ragx --queries ../shared/data/scifact/queries.jsonl \\
                   --qrels ../shared/data/scifact/qrels/train.tsv
        """)

    @Argument(help: "Index file (built from BEIR JSONL, so that sources are document ids).")
    var index: String

    @Option(help: "BEIR queries.jsonl.")
    var queries: String

    @Option(help: "qrels TSV (query-id, corpus-id, score).")
    var qrels: String

    @Option(parsing: .upToNextOption, help: "Configurations: dense, bm25, hybrid-rrf, hybrid-weighted (default: all).")
    var configurations: [String] = ["dense", "bm25", "hybrid-rrf", "hybrid-weighted"]

    @Option(help: "Dense weight of hybrid-weighted.")
    var weight: Float = 0.5

    @Option(help: "Chunks retrieved per query before mapping to documents.")
    var depth: Int = 1000

    @Option(name: .customLong("run"), help: "Write TREC run files PREFIX.<configuration>.trec.")
    var runPrefix: String?

    @Option(help: "Model folder, when the index's model is not in the default places.")
    var model: String?

    @Flag(help: "One JSON object per configuration.")
    var json = false

    func run() throws {
        let status = ToolErrors.run("evaluate") {
            let reader = try IndexReader(path: index)
            let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                         modelDirectory: model)
            let engine = try QueryEngine(index: reader, embedder: embedder, mode: .dense)
            let evaluator = try Evaluator(engine: engine)
            let queryList = try BEIRData.queries(queries)
            let judgments = try BEIRData.qrels(qrels)
            guard !judgments.isEmpty else { throw RagPipeError.emptyInput("no relevance judgments in \(qrels)") }
            let sink = OutputSink()
            if !json {
                try sink.write("\(index): \(reader.count) chunks, \(reader.metadata.modelID), \(judgments.count) judged queries\n")
                try sink.write("configuration          nDCG@10  R@10    R@100   MRR@10  P50 ms  P95 ms  P99 ms\n")
            }
            for name in configurations {
                let config: Evaluator.Configuration
                switch name {
                case "dense": config = .init(mode: .dense)
                case "bm25": config = .init(mode: .bm25)
                case "hybrid-rrf": config = .init(mode: .hybrid, fusion: .rrf)
                case "hybrid-weighted": config = .init(mode: .hybrid, fusion: .weighted, weight: weight)
                default: throw RagPipeError.usage("unknown configuration '\(name)' (dense, bm25, hybrid-rrf, hybrid-weighted)")
                }
                var runSink: OutputSink? = nil
                if let runPrefix {
                    let path = "\(runPrefix).\(config.label).trec"
                    runSink = OutputSink(fd: try openForWriting(path), name: path)
                }
                let report = try evaluator.evaluate(config, queries: queryList, qrels: judgments, depth: depth,
                                                    run: runSink.map { s in { line in try? s.write(line + "\n") } })
                try runSink?.flush()
                let m = report.metrics
                if json {
                    try sink.write("{\"configuration\":\"\(config.label)\",\"queries\":\(report.queries),\"ndcg@10\":\(m.ndcg10),"
                        + "\"recall@10\":\(m.recall10),\"recall@100\":\(m.recall100),\"mrr@10\":\(m.mrr10),"
                        + "\"latency_ms\":{\"p50\":\(report.latencyP50),\"p95\":\(report.latencyP95),\"p99\":\(report.latencyP99)}}\n")
                } else {
                    func f(_ x: Double) -> String { String(format4: x) }
                    try sink.write(config.label.padding(23) + f(m.ndcg10) + "  " + f(m.recall10) + "  " + f(m.recall100) + "  "
                        + f(m.mrr10) + "  " + String(format1: report.latencyP50).padding(8) + String(format1: report.latencyP95).padding(8)
                        + String(format1: report.latencyP99) + "\n")
                }
                try sink.flush()
            }
        }
        if status != 0 { throw ExitCode(status) }
    }
}

extension String {
    init(format4 value: Double) {
        let scaled = Int((value * 10_000).rounded())
        let frac = String(scaled % 10_000)
        self = "\(scaled / 10_000)." + String(repeating: "0", count: 4 - frac.count) + frac
    }

    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
