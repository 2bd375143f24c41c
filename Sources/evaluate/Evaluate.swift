import ArgumentParser
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval
import RagPipeAnswering
import RagPipeEvaluation
import RagPipePipeline
import RagPipeCommandLine

@main
struct Evaluate: ToolCommand {
    static let toolName = "evaluate"
    static let configuration = CommandConfiguration(
        abstract: "Score an index on BEIR-format queries and qrels: nDCG@10, Recall@10/100, MRR@10, latency.",
        discussion: """
        Runs every query that has relevance judgments, in each retrieval configuration, maps chunk \
        hits to documents (a document's score is its best chunk's; the document id is the chunk's \
        source, the BEIR _id) and prints the mean metrics and the latency percentiles (query \
        embedding + ranking). --run writes TREC run files (qid Q0 docid rank score tag).

        Example:
          evaluate index/eval/scifact.ragx --queries index/eval/data/scifact/queries.jsonl \\
                   --qrels index/eval/data/scifact/qrels/train.tsv
        """)

    @Argument(help: "Index file (built from BEIR JSONL, so that sources are document ids).")
    var index: String?

    @Option(help: "BEIR queries.jsonl.")
    var queries: String?

    @Option(help: "qrels TSV (query-id, corpus-id, score).")
    var qrels: String?

    @Option(help: "SQuAD v1.1 JSON: paragraph recall, answer quality and abstention on its questions (index built from --export-squad).")
    var squad: String?

    @Option(help: "Write the paragraphs of this SQuAD v1.1 JSON file as a BEIR corpus (JSONL) to stdout, for `chunk --no-split`.")
    var exportSquad: String?

    @Option(help: "SQuAD: evaluate N evenly spaced questions only (0: all).")
    var limit = 0

    @Option(help: "SQuAD: candidate sentences re-scored with the embedder (default: the answerer's).")
    var answerCandidates: Int?

    @Option(help: "SQuAD: hits whose sentences the answer draws on (default: the answerer's).")
    var answerHits: Int?

    @Option(help: "SQuAD: weight of the hit's similarity in sentence scores (default: the answerer's).")
    var hitWeight: Float?

    @Option(help: "SQuAD: weight of word overlap with the question in sentence scores (default: the answerer's).")
    var lexicalWeight: Float?

    @Flag(help: "BEIR: also measure abstention (--min-score and --min-evidence rules) with the relevant documents present and removed.")
    var abstention = false

    @Option(help: "Write the answerability features of every query (relevant documents present and removed) to this TSV file.")
    var answerabilityFeatures: String?

    @Option(parsing: .upToNextOption, help: "Configurations: dense, bm25, hybrid-rrf, hybrid-weighted (default: all).")
    var configurations: [String] = ["dense", "bm25", "hybrid-rrf", "hybrid-weighted"]

    @Option(help: "Dense weight of hybrid-weighted.")
    var weight: Float = 0.5

    @Option(help: "Chunks retrieved per query before mapping to documents.")
    var depth: Int = 1000

    @Option(name: .customLong("run"), help: "Write TREC run files PREFIX.<configuration>.trec.")
    var runPrefix: String?

    @OptionGroup var model: ModelOptions

    @Flag(help: "One JSON object per configuration.")
    var json = false

    func validate() throws {
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1, not \(depth)") }
        guard weight >= 0 && weight <= 1 else { throw ValidationError("--weight must be in 0...1, not \(weight)") }
        guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more") }
        if let answerCandidates, answerCandidates < 1 { throw ValidationError("--answer-candidates must be at least 1") }
        if let answerHits, answerHits < 1 { throw ValidationError("--answer-hits must be at least 1") }
        if let hitWeight, !hitWeight.isFinite { throw ValidationError("--hit-weight must be a finite number") }
        if let lexicalWeight, !lexicalWeight.isFinite { throw ValidationError("--lexical-weight must be a finite number") }
        if exportSquad != nil {
            guard index == nil, squad == nil, queries == nil else { throw ValidationError("--export-squad takes no index, --squad or --queries") }
            return
        }
        guard index != nil else { throw ValidationError("an index is required") }
        guard squad != nil || (queries != nil && qrels != nil) else {
            throw ValidationError("give --queries and --qrels (BEIR) or --squad (SQuAD)")
        }
    }

    func execute() throws {
        if let exportSquad {
            let data = try SQuADData(path: exportSquad)
            let sink = OutputSink()
            try sink.append { $0.append(contentsOf: data.corpusJSONL()) }
            try sink.flush()
            Log.line("evaluate: \(data.paragraphs.count) paragraphs, \(data.questions.count) questions in \(exportSquad)")
            return
        }
        let index = self.index!
        if let squad { try runSQuAD(index: index, squad: squad); return }
        let queries = self.queries!, qrels = self.qrels!
        let reader = try IndexReader(path: index)
        let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                     native: model.native(use: .batch), source: index)
        // query's default retrieval (hybrid, weighted, when the index has BM25): what --abstention
        // and --answerability-features measure.
        let engine = QueryEngine(retriever: try Retriever(index: reader, embedder: embedder))
        let evaluator = try Evaluator(engine: engine)
        let judgments = try BEIRData.qrels(qrels)
        guard !judgments.isEmpty else { throw RagPipeError.emptyInput("no relevance judgments in \(qrels)") }
        let queryList = try evaluator.judged(try BEIRData.queries(queries), qrels: judgments, queriesName: queries, qrelsName: qrels)
        let sink = OutputSink()
        if !json { try sink.write(evaluator.tableHeader(queries: queryList.count)) }
        let configs = try evaluator.configurations(try configurations.map { name in
            guard let known = Evaluator.ConfigurationName(rawValue: name) else {
                throw RagPipeError.usage("unknown configuration '\(name)' (dense, bm25, hybrid-rrf, hybrid-weighted)")
            }
            return known
        }, weight: weight)
        for config in configs {
            var runSink: OutputSink? = nil
            if let runPrefix {
                let path = "\(runPrefix).\(config.label).trec"
                try OutputTarget.checkNotAnInput(path, inputs: [index, queries, qrels])
                runSink = OutputSink(fd: try openForWriting(path), name: path)
            }
            let report = try evaluator.evaluate(config, queries: queryList, qrels: judgments, depth: depth,
                                                run: runSink.map { s in { line in try? s.write(line + "\n") } })
            try runSink?.flush()
            if json { try sink.append { report.appendJSON(to: &$0) } } else { try sink.write(report.tableRow) }
            try sink.flush()
        }
        if let answerabilityFeatures {
            let rows = try evaluator.answerabilityRows(queries: queryList, qrels: judgments, k: engine.retriever.settings.k)
            try writeFeatures(rows, to: answerabilityFeatures)
        }
        if abstention {
            try sink.write(try evaluator.abstentionReport(queries: queryList, qrels: judgments, k: engine.retriever.settings.k).text)
            try sink.flush()
        }
    }

    func writeFeatures(_ rows: [AnswerabilityFeatures.Row], to path: String) throws {
        try AnswerabilityFeatures.writeTSV(rows, toFile: path, inputs: [self.index, queries, qrels, squad].compactMap { $0 })
        Log.line("evaluate: \(rows.count) feature rows in \(path)")
    }

    func runSQuAD(index: String, squad: String) throws {
        let data = try SQuADData(path: squad)
        let reader = try IndexReader(path: index)
        let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                     native: model.native(use: .batch), source: index)
        let retriever = try Retriever(index: reader, embedder: embedder)
        var extractive = ExtractiveAnswerer(.calibrated(for: embedder))
        if let answerCandidates { extractive.rescored = answerCandidates }
        if let lexicalWeight { extractive.lexicalWeight = lexicalWeight }
        if let hitWeight { extractive.hitWeight = hitWeight }
        if let answerHits { extractive.hitsConsidered = answerHits }
        let engine = QueryEngine(retriever: retriever, answerer: Answerer(extractive, bm25: retriever.bm25))
        let progress = Progress(tool: "evaluate")
        if let answerabilityFeatures {
            let rows = try SQuADEvaluator(engine: engine).answerabilityRows(data, limit: limit) { n, total in progress.update("\(n) of \(total) questions") }
            progress.finish("\(rows.count / 2) SQuAD questions")
            try writeFeatures(rows, to: answerabilityFeatures)
            return
        }
        let r = try SQuADEvaluator(engine: engine).run(data, limit: limit) { n, total in progress.update("\(n) of \(total) questions") }
        progress.finish("\(r.questions) SQuAD questions in \(String(format1: r.seconds)) s")
        let sink = OutputSink()
        try sink.write(r.text)
        try sink.flush()
    }
}
