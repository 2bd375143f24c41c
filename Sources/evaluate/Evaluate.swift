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
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure an index: retrieval quality on BEIR queries and qrels, answer quality and abstention on SQuAD.",
        discussion: """
        Each measurement is a subcommand with only its own options (`evaluate help SUBCOMMAND`): \
        beir scores retrieval configurations on BEIR-format queries and qrels; squad scores \
        paragraph recall, extractive answers and abstention on SQuAD v1.1 questions, over an index \
        of the file's paragraphs, which export-squad writes as a corpus.

        Examples:
          evaluate beir scifact.ragx --queries queries.jsonl --qrels train.tsv
          evaluate export-squad dev.json | chunk --no-split | embed \\
              | build-index -o s.ragx
          evaluate squad s.ragx --squad dev.json
        """,
        subcommands: [BEIR.self, SQuAD.self, ExportSQuAD.self])

    /// No subcommand is a usage error (exit 64), as every other incomplete command line is.
    func run() throws {
        throw ValidationError("name what to evaluate: beir, squad or export-squad")
    }
}

extension Evaluate {
    struct BEIR: ToolCommand {
        static let toolName = "evaluate"
        static let configuration = CommandConfiguration(
            commandName: "beir",
            abstract: "Score an index on BEIR-format queries and qrels: nDCG@10, Recall@10/100, MRR@10, latency.",
            discussion: """
            Runs every query that has relevance judgments, in each retrieval configuration, maps chunk \
            hits to documents (a document's score is its best chunk's; the document id is the chunk's \
            source, the BEIR _id) and prints the mean metrics and the latency percentiles (query \
            embedding + ranking), as a table or, with --json, one JSON object per configuration. \
            hybrid-weighted is labelled with its weight (hybrid-weighted-0.5). --run writes TREC run \
            files (qid Q0 docid rank score tag) for trec_eval or pytrec_eval. For an IVF index a last \
            line (with --json, an {"ivf": ...} object) gives the recall@10 of its default dense search \
            against probing every list, on these queries: what IVF loses on them.

            --abstention and --answerability-features ask each query as `query` would by default \
            (hybrid, weighted, top 5), once with its relevant documents and once with them removed \
            from the ranking (README, "Abstention").

            Examples:
              evaluate beir scifact.ragx --queries queries.jsonl --qrels train.tsv
              evaluate beir scifact.ragx --queries queries.jsonl --qrels train.tsv \\
                       --configurations dense hybrid-weighted --weight 0.3 --json
              evaluate beir scifact.ragx --queries queries.jsonl --qrels train.tsv \\
                       --abstention --run runs/scifact
            """)

        @Argument(help: "Index file (built from BEIR JSONL, so that sources are document ids), or a shard manifest (build-index --manifest).")
        var index: String

        @Option(help: "BEIR queries.jsonl.")
        var queries: String

        @Option(help: "qrels TSV (query-id, corpus-id, score).")
        var qrels: String

        @Option(parsing: .upToNextOption, help: "Retrieval configurations to run, in this order.")
        var configurations: [Evaluator.ConfigurationName] = Evaluator.ConfigurationName.allCases

        @Option(help: "Dense weight of hybrid-weighted.")
        var weight: Float = 0.5

        @Option(help: "Chunks retrieved per query before mapping to documents.")
        var depth: Int = 1000

        @Option(name: .customLong("run"), help: "Write TREC run files PREFIX.<configuration>.trec.")
        var runPrefix: String?

        @Flag(help: "One JSON object per configuration.")
        var json = false

        @Flag(help: "Also measure abstention (the --min-score and --min-evidence rules) with the relevant documents present and removed.")
        var abstention = false

        @Option(help: "Write the answerability features of every query (relevant documents present and removed) to this TSV file (scripts/answerability.py).")
        var answerabilityFeatures: String?

        @OptionGroup var model: ModelOptions

        func validate() throws {
            guard depth >= 1 else { throw ValidationError("--depth must be at least 1, not \(depth)") }
            guard weight >= 0 && weight <= 1 else { throw ValidationError("--weight must be in 0...1, not \(weight)") }
        }

        func execute() throws {
            let reader = try IndexShards.open(index)
            let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                         native: model.native(use: .batch), source: index)
            // query's default retrieval (hybrid, weighted, when the index has BM25): what --abstention
            // and --answerability-features measure.
            let engine = QueryEngine(retriever: try Retriever(shards: reader, embedder: embedder))
            let evaluator = try Evaluator(engine: engine)
            let judgments = try BEIRData.qrels(qrels)
            guard !judgments.isEmpty else { throw RagPipeError.emptyInput("no relevance judgments in \(qrels)") }
            let queryList = try evaluator.judged(try BEIRData.queries(queries), qrels: judgments, queriesName: queries, qrelsName: qrels)
            // Every configuration is checked against the index before anything runs or a run file is written.
            let configs = try evaluator.configurations(configurations, weight: weight)
            let sink = OutputSink()
            if !json { try sink.write(evaluator.tableHeader(queries: queryList.count)) }
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
            if let ivf = try evaluator.approximateRecall(queries: queryList) {
                if json { try sink.append { ivf.appendJSON(to: &$0) } } else { try sink.write(ivf.text) }
                try sink.flush()
            }
            let k = engine.retriever.settings.k
            if let answerabilityFeatures {
                let rows = try evaluator.answerabilityRows(queries: queryList, qrels: judgments, k: k)
                try AnswerabilityFeatures.writeTSV(rows, toFile: answerabilityFeatures, inputs: [index, queries, qrels])
                Log.line("evaluate: \(rows.count) feature rows in \(answerabilityFeatures)")
            }
            if abstention {
                try sink.write(try evaluator.abstentionReport(queries: queryList, qrels: judgments, k: k).text)
                try sink.flush()
            }
        }
    }

    struct SQuAD: ToolCommand {
        static let toolName = "evaluate"
        static let configuration = CommandConfiguration(
            commandName: "squad",
            abstract: "Score answers on SQuAD v1.1: paragraph recall, answers containing an accepted answer, abstention.",
            discussion: """
            The index holds the file's paragraphs, one document each (`evaluate export-squad FILE | \
            chunk --no-split | embed | build-index`). For each question it prints whether the gold \
            paragraph ranks first and in the top 5 (dense, bm25, hybrid), whether the extractive \
            answer (the answerer's default, and one sentence) contains an accepted answer (case and \
            white space aside, [n] markers removed), and how often query would abstain with the gold \
            paragraph present and removed. The --answer-* and --*-weight options try other answerer \
            settings; --answerability-features writes the features instead of the report.

            Examples:
              evaluate export-squad dev.json | chunk --no-split | embed \\
                  | build-index -o s.ragx
              evaluate squad s.ragx --squad dev.json
              evaluate squad s.ragx --squad dev.json --limit 400 --answer-candidates 8
            """)

        @Argument(help: "Index file built from the paragraphs of --squad (`evaluate export-squad`), or a shard manifest.")
        var index: String

        @Option(help: "SQuAD v1.1 JSON: the questions, their accepted answers and gold paragraphs.")
        var squad: String

        @Option(help: "Evaluate N evenly spaced questions only (0: all).")
        var limit = 0

        @Option(help: "Candidate sentences re-scored with the embedder (default: the answerer's).")
        var answerCandidates: Int?

        @Option(help: "Hits whose sentences the answer draws on (default: the answerer's).")
        var answerHits: Int?

        @Option(help: "Weight of the hit's similarity in sentence scores (default: the answerer's).")
        var hitWeight: Float?

        @Option(help: "Weight of word overlap with the question in sentence scores (default: the answerer's).")
        var lexicalWeight: Float?

        @Option(help: "Write the answerability features of every question (gold paragraph present and removed) to this TSV file instead of the report (scripts/answerability.py).")
        var answerabilityFeatures: String?

        @OptionGroup var model: ModelOptions

        func validate() throws {
            guard limit >= 0 else { throw ValidationError("--limit must be 0 (all) or more") }
            if let answerCandidates, answerCandidates < 1 { throw ValidationError("--answer-candidates must be at least 1") }
            if let answerHits, answerHits < 1 { throw ValidationError("--answer-hits must be at least 1") }
            if let hitWeight, !hitWeight.isFinite { throw ValidationError("--hit-weight must be a finite number") }
            if let lexicalWeight, !lexicalWeight.isFinite { throw ValidationError("--lexical-weight must be a finite number") }
        }

        func execute() throws {
            let data = try SQuADData(path: squad)
            let reader = try IndexShards.open(index)
            let embedder = try EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension,
                                                         native: model.native(use: .batch), source: index)
            let retriever = try Retriever(shards: reader, embedder: embedder)
            var extractive = ExtractiveAnswerer(.calibrated(for: embedder))
            if let answerCandidates { extractive.rescored = answerCandidates }
            if let lexicalWeight { extractive.lexicalWeight = lexicalWeight }
            if let hitWeight { extractive.hitWeight = hitWeight }
            if let answerHits { extractive.hitsConsidered = answerHits }
            let evaluator = SQuADEvaluator(engine: QueryEngine(retriever: retriever, answerer: Answerer(extractive, bm25: retriever.bm25)))
            let progress = Progress(tool: "evaluate")
            if let answerabilityFeatures {
                let rows = try evaluator.answerabilityRows(data, limit: limit) { n, total in progress.update("\(n) of \(total) questions") }
                progress.finish("\(rows.count / 2) SQuAD questions")
                try AnswerabilityFeatures.writeTSV(rows, toFile: answerabilityFeatures, inputs: [index, squad])
                Log.line("evaluate: \(rows.count) feature rows in \(answerabilityFeatures)")
                return
            }
            let report = try evaluator.run(data, limit: limit) { n, total in progress.update("\(n) of \(total) questions") }
            progress.finish("\(report.questions) SQuAD questions in \(String(format1: report.seconds)) s")
            let sink = OutputSink()
            try sink.write(report.text)
            try sink.flush()
        }
    }

    struct ExportSQuAD: ToolCommand {
        static let toolName = "evaluate"
        static let configuration = CommandConfiguration(
            commandName: "export-squad",
            abstract: "Write the paragraphs of a SQuAD v1.1 file as a BEIR corpus (JSON Lines) to stdout.",
            discussion: """
            One line per paragraph, {"_id", "title", "text"}, the id naming its article and place \
            (squad-000-001), for `chunk --no-split`: the index `evaluate squad` scores. stderr gets \
            the count of paragraphs and answerable questions.

            Example:
              evaluate export-squad dev.json | chunk --no-split | embed \\
                  | build-index -o s.ragx
            """)

        @Argument(help: "SQuAD v1.1 JSON file.")
        var file: String

        func execute() throws {
            let data = try SQuADData(path: file)
            let sink = OutputSink()
            try sink.append { $0.append(contentsOf: data.corpusJSONL()) }
            try sink.flush()
            Log.line("evaluate: \(data.paragraphs.count) paragraphs, \(data.questions.count) questions in \(file)")
        }
    }
}
