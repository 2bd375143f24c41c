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
        if !json {
            try sink.write("\(index): \(reader.count) chunks, \(reader.metadata.modelID), \(queryList.count) judged queries\n")
            try sink.write("configuration          nDCG@10  R@10    R@100   MRR@10  P50 ms  P95 ms  P99 ms\n")
        }
        // Every configuration is checked against the index before anything runs or a run file is written.
        let configs: [Evaluator.Configuration] = try configurations.map { name in
            let config: Evaluator.Configuration
            switch name {
            case "dense": config = .init(mode: .dense)
            case "bm25": config = .init(mode: .bm25)
            case "hybrid-rrf": config = .init(mode: .hybrid, fusion: .rrf)
            case "hybrid-weighted": config = .init(mode: .hybrid, fusion: .weighted, weight: weight)
            default: throw RagPipeError.usage("unknown configuration '\(name)' (dense, bm25, hybrid-rrf, hybrid-weighted)")
            }
            if config.mode != .dense && engine.retriever.bm25 == nil {
                throw RagPipeError.usage("\(index) has no BM25 sections (built with --no-bm25): configuration '\(name)' needs them; use --configurations dense")
            }
            _ = try engine.retriever.with(config.mode, fusion: config.fusion, denseWeight: config.weight)
            return config
        }
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
        if let answerabilityFeatures {
            let rows = try evaluator.answerabilityRows(queries: queryList, qrels: judgments, k: engine.retriever.settings.k)
            try writeFeatures(rows, to: answerabilityFeatures)
        }
        if abstention {
            let e = try evaluator.abstentionEvidence(queries: queryList, qrels: judgments, k: engine.retriever.settings.k)
            try writeAbstention(sink, label: "queries", cosine: e.cosine, answer: e.answer, answerer: engine.answerer.extractive)
        }
    }

    func writeAbstention(_ sink: OutputSink, label: String, cosine: (present: [Float], removed: [Float]),
                         answer: (present: [Float], removed: [Float]), answerer: ExtractiveAnswerer) throws {
        func pct(_ x: Double) -> String { String(format1: x * 100) + "%" }
        func rates(_ c: AbstentionCalibration) -> String {
            "abstains on \(pct(c.abstainAnswerable)) of answerable, \(pct(c.abstainUnanswerable)) of unanswerable"
        }
        try sink.write("abstention (\(cosine.present.count) \(label), each with its relevant documents present and removed):\n")
        for (rule, option, values, current) in [
            ("best hit's cosine", "--min-score", cosine, Optional(answerer.minScore)),
            ("answer's evidence", "--min-evidence", answer, answerer.minEvidence),
        ] {
            let calibrated = AbstentionCalibration(answerable: values.present, unanswerable: values.removed)
            var line = "  \(rule) below the threshold: "
            if let current {
                line += "at \(option) \(String(format3: Double(current))) (default) "
                    + rates(AbstentionCalibration(threshold: current, answerable: values.present, unanswerable: values.removed)) + "; "
            }
            line += "at \(String(format3: Double(calibrated.threshold))) (≤ 5% of answerable) " + rates(calibrated) + "\n"
            try sink.write(line)
        }
        try sink.flush()
    }

    func writeFeatures(_ rows: [(group: String, answerable: Bool, features: [Float])], to path: String) throws {
        try OutputTarget.checkNotAnInput(path, inputs: [self.index, queries, qrels, squad].compactMap { $0 })
        let sink = OutputSink(fd: try openForWriting(path), name: path)
        try sink.write((["group", "answerable"] + AnswerabilityFeatures.names).joined(separator: "\t") + "\n")
        for r in rows {
            try sink.write(([r.group, r.answerable ? "1" : "0"] + r.features.map { "\($0)" }).joined(separator: "\t") + "\n")
        }
        try sink.flush()
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
        func f(_ x: Double) -> String { String(format3: x) }
        try sink.write("\(index): \(reader.count) paragraphs, \(reader.metadata.modelID), \(r.questions) questions\n")
        try sink.write("paragraph retrieval    R@1    R@5\n")
        for mode in ["dense", "bm25", "hybrid"] {
            // A mode the index cannot run (no BM25 sections) is shown as such, not as a zero.
            guard let at1 = r.recallAt1[mode], let at5 = r.recallAt5[mode] else {
                try sink.write(mode.padding(21) + "-      -      (no BM25 sections in the index)\n")
                continue
            }
            try sink.write(mode.padding(21) + f(at1) + "  " + f(at5) + "\n")
        }
        try sink.write("answer (hybrid hits)   contains an accepted answer   mean words\n")
        try sink.write("default (≤ 3 sentences, ≤ 80 words)   " + f(r.containsDefault) + "   " + String(format1: r.meanWordsDefault) + "\n")
        try sink.write("one sentence                          " + f(r.containsOneSentence) + "   " + String(format1: r.meanWordsOneSentence) + "\n")
        try writeAbstention(sink, label: "questions", cosine: (r.cosineAnswerable, r.cosineRemoved),
                            answer: (r.answerEvidenceAnswerable, r.answerEvidenceRemoved), answerer: engine.answerer.extractive)
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
