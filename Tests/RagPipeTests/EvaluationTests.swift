import Foundation
import Testing
@testable import RagPipeEvaluation

@Suite struct EvaluationTests {
    @Test func metricsMatchHandComputedValues() {
        // Relevant: a and c. Ranking: b, a, d, c.
        let m = RetrievalMetrics(ranking: ["b", "a", "d", "c"], relevant: ["a": 1, "c": 1])
        let dcg = 1 / log2(3.0) + 1 / log2(5.0), ideal = 1 + 1 / log2(3.0)
        #expect(abs(m.ndcg10 - dcg / ideal) < 1e-12)
        #expect(m.recall10 == 1)
        #expect(m.mrr10 == 0.5)
        let miss = RetrievalMetrics(ranking: (0..<200).map { "x\($0)" } + ["a"], relevant: ["a": 1])
        #expect(miss.ndcg10 == 0 && miss.recall100 == 0 && miss.mrr10 == 0)
        let mean = RetrievalMetrics.mean([m, miss])
        #expect(abs(mean.mrr10 - 0.25) < 1e-12)
    }

    @Test func evaluateRunsEveryConfigurationAndWritesTRECRuns() throws {
        let dir = try TempDir()
        dir.write("corpus.jsonl", """
        {"_id": "d1", "title": "Zinc", "text": "Zinc lozenges shorten the common cold."}
        {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D reduces hip fractures in older adults."}
        {"_id": "d3", "title": "Indexes", "text": "Inverted file indexes probe lists of vectors."}
        """)
        dir.write("queries.jsonl", """
        {"_id": "q1", "text": "does zinc help with colds"}
        {"_id": "q2", "text": "vitamin D and fractures"}
        {"_id": "q3", "text": "not judged"}
        """)
        dir.write("qrels.tsv", "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq2\td2\t1\r\n")
        let build = try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o i.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let r = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --json --run run", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let reports = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(reports.map { $0["configuration"] as! String } == ["dense", "bm25", "hybrid-rrf", "hybrid-weighted-0.5"])
        for report in reports {
            #expect(report["queries"] as? Int == 2)
            #expect(report["ndcg@10"] as? Double == 1.0, "\(report)")
        }
        let run = try String(contentsOfFile: dir.path + "/run.bm25.trec", encoding: .utf8)
        #expect(run.hasPrefix("q1 Q0 d1 1 "))
        #expect(!run.contains("q3"))

        let bad = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels queries.jsonl", in: dir.path)
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("queries.jsonl:1"))
    }

    /// `evaluate` is subcommands, each with only its own options: a configuration or a mix the
    /// subcommand does not know is an argument error (exit 64) naming it, before any work.
    @Test func evaluateSubcommandsTakeOnlyTheirOwnOptions() throws {
        let dir = try TempDir()
        dir.write("corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"Zinc\", \"text\": \"Zinc lozenges shorten the common cold.\"}\n")
        dir.write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"zinc\"}\n")
        dir.write("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        #expect(try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o i.ragx", in: dir.path).status == 0)
        let beir = "evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv"
        for (command, named) in [("\(beir) --configurations dense sparse", "'sparse'"),
                                 ("\(beir) --configurations hybrid-weighted-0.5", "'hybrid-weighted-0.5'"),
                                 ("\(beir) --squad s.json", "--squad"),
                                 ("\(beir) --limit 10", "--limit"),
                                 ("evaluate squad i.ragx --squad s.json --configurations dense", "--configurations"),
                                 ("evaluate squad i.ragx --squad s.json --abstention", "--abstention"),
                                 ("evaluate squad i.ragx", "--squad"),
                                 ("evaluate beir i.ragx --queries queries.jsonl", "--qrels"),
                                 ("evaluate export-squad s.json --json", "--json"),
                                 ("evaluate i.ragx --queries queries.jsonl --qrels qrels.tsv", "Unknown option '--queries'"),
                                 ("evaluate --export-squad s.json", "--export-squad"),
                                 ("evaluate", "beir, squad or export-squad")] {
            // --run: no run file is written before the refusal.
            let r = try shell(command.hasPrefix("evaluate beir") ? command + " --run run" : command, in: dir.path)
            #expect(r.status == 64, "\(command): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(named), "\(command): \(r.stderr)")
            #expect(r.stdout.isEmpty && !dir.contents("").contains { $0.hasPrefix("run.") }, "\(command): nothing runs")
        }
        let ok = try shell("\(beir) --configurations hybrid-weighted dense --weight 0.25", in: dir.path)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("\nhybrid-weighted-0.25   ") && ok.stdout.contains("\ndense    "), "\(ok.stdout)")
    }

    @Test func everyEvaluateSubcommandHasHelpWithExamples() throws {
        for (subcommand, usage) in [("beir", "evaluate beir <index> --queries <queries> --qrels <qrels>"),
                                    ("squad", "evaluate squad <index> --squad <squad>"),
                                    ("export-squad", "evaluate export-squad <file>")] {
            for command in ["evaluate \(subcommand) --help", "evaluate help \(subcommand)"] {
                let r = try shell(command)
                #expect(r.status == 0, "\(command): \(r.stderr)")
                #expect(r.stdout.contains("OVERVIEW: ") && r.stdout.contains("USAGE: \(usage)"), "\(command): \(r.stdout)")
                #expect(r.stdout.contains("Example") && r.stdout.contains("  evaluate \(subcommand) "), "\(command): \(r.stdout)")
            }
        }
        let beir = try shell("evaluate beir --help")
        #expect(beir.stdout.contains("(values: dense, bm25, hybrid-rrf, hybrid-weighted;"), "\(beir.stdout)")
        #expect(!beir.stdout.contains("--squad") && !beir.stdout.contains("--limit"), "only BEIR's options: \(beir.stdout)")
        let root = try shell("evaluate --help")
        #expect(root.status == 0 && root.stdout.contains("SUBCOMMANDS:") && root.stdout.contains("export-squad"), "\(root.stdout)")
    }

    @Test func abstentionIsMeasuredWithTheRelevantDocumentsPresentAndRemoved() throws {
        let dir = try TempDir()
        dir.write("corpus.jsonl", """
        {"_id": "d1", "title": "Zinc", "text": "Zinc lozenges shorten the common cold in adults."}
        {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D reduces hip fractures in older adults."}
        {"_id": "d3", "title": "Indexes", "text": "Inverted file indexes probe lists of vectors."}
        """)
        dir.write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"zinc lozenges and the common cold\"}\n")
        dir.write("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        #expect(try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o i.ragx", in: dir.path).status == 0)
        let r = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense --abstention --answerability-features f.tsv", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("abstention (1 queries") && r.stdout.contains("best hit's cosine below") && r.stdout.contains("answer's evidence below"))
        let lines = try String(contentsOfFile: dir.path + "/f.tsv", encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        let names = lines[0]
        #expect(names == ["group", "answerable"] + AnswerabilityFeatures.names)
        #expect(lines.count == 3 && lines[1][0...1] == ["q1", "1"] && lines[2][0...1] == ["q1", "0"])
        func value(_ row: Int, _ name: String) -> Double { Double(lines[row][names.firstIndex(of: name)!])! }
        // Removing d1 takes the only zinc document: every closeness signal drops.
        for name in ["sim_max", "cov_hit1", "sent_score_max", "bm25_norm1"] {
            #expect(value(1, name) > value(2, name) + 0.1, "\(name): \(value(1, name)) vs \(value(2, name))")
        }
        // The evaluation's evidence is the one `query` reports for the same hits.
        let q = try shell("query --json --min-score=-1 i.ragx 'zinc lozenges and the common cold'", in: dir.path)
        let evidence = (try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as! [String: Any])["evidence"] as! Double
        #expect(abs(evidence - value(1, "sent_score_max")) < 1e-3, "\(evidence) vs \(value(1, "sent_score_max"))")
    }
}
