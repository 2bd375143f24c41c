import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRetrieval
@testable import RagPipeAnswering
@testable import RagPipeEvaluation

/// What evaluate and `query --npy` print, rendered by the library (Evaluation, Retrieval): the
/// bytes the executables wrote by hand before, checked against that hand-written form.
@Suite struct ReportRenderingTests {
    @Test func numbersAreFormattedWithoutTrapping() {
        #expect(String(format4: 0.5) == "0.5000" && String(format4: 1) == "1.0000" && String(format4: 0.12344) == "0.1234")
        #expect(String(format4: 0.00005) == "0.0001" && String(format4: -0.25) == "-0.2500" && String(format4: -0.00001) == "0.0000")
        #expect(String(format3: 0.6602) == "0.660" && String(format1: 17.25) == "17.3")
        // Not finite, or beyond an Int's digits: spelled as Swift does, never a trap.
        #expect(String(format4: .nan) == "nan" && String(format3: .infinity) == "inf" && String(format1: -.infinity) == "-inf")
        #expect(String(format4: 1e300) == "1e+300" && String(format1: 1e300) == "1e+300")
        #expect("ab".padded(to: 4) == "ab  " && "abcd".padded(to: 4) == "abcd " && "abcdef".padded(to: 4) == "abcdef ")
    }

    @Test func beirReportsRenderAsTheToolPrintedThem() {
        var metrics = RetrievalMetrics()
        metrics.ndcg10 = 0.73625001; metrics.recall10 = 0.9; metrics.recall100 = 0.958; metrics.mrr10 = 1.0 / 3
        let report = Evaluator.Report(configuration: .init(mode: .hybrid, fusion: .weighted, weight: 0.5), metrics: metrics,
                                      queries: 809, latencyP50: 10.25, latencyP95: 15.04, latencyP99: 117.3)
        #expect(report.tableRow == "hybrid-weighted-0.5    0.7363  0.9000  0.9580  0.3333  10.3    15.0    117.3\n")
        var out: [UInt8] = []
        report.appendJSON(to: &out)
        // The form evaluate --json wrote by string concatenation before JSONObjectWriter.
        let m = metrics
        let handWritten = "{\"configuration\":\"hybrid-weighted-0.5\",\"queries\":809,\"ndcg@10\":\(m.ndcg10),"
            + "\"recall@10\":\(m.recall10),\"recall@100\":\(m.recall100),\"mrr@10\":\(m.mrr10),"
            + "\"latency_ms\":{\"p50\":\(10.25),\"p95\":\(15.04),\"p99\":\(117.3)}}\n"
        #expect(String(decoding: out, as: UTF8.self) == handWritten)
        #expect(Evaluator.ConfigurationName.allCases.map(\.rawValue) == ["dense", "bm25", "hybrid-rrf", "hybrid-weighted"])
        #expect(Evaluator.ConfigurationName.hybridWeighted.configuration(weight: 0.3).label == "hybrid-weighted-0.3")
        #expect(Evaluator.ConfigurationName.hybridRRF.configuration(weight: 0.3).label == "hybrid-rrf")
    }

    @Test func abstentionReportsNameBothRulesAtTheDefaultAndAtFivePercent() {
        let report = AbstentionReport(label: "queries", cosine: (present: [0.5, 0.6], removed: [0.1, 0.55]),
                                      evidence: (present: [1.2, 1.5], removed: [1.0, 1.3]),
                                      thresholds: AbstentionThresholds(minScore: 0.25, minEvidence: 1.13))
        #expect(report.text == """
            abstention (2 queries, each with its relevant documents present and removed):
              best hit's cosine below the threshold: at --min-score 0.250 (default) abstains on 0.0% of answerable, 50.0% of unanswerable; \
            at 0.500 (≤ 5% of answerable) abstains on 0.0% of answerable, 50.0% of unanswerable
              answer's evidence below the threshold: at --min-evidence 1.130 (default) abstains on 0.0% of answerable, 50.0% of unanswerable; \
            at 1.200 (≤ 5% of answerable) abstains on 0.0% of answerable, 50.0% of unanswerable

            """)
        var off = report
        off.thresholds.minEvidence = nil
        #expect(off.text.contains("answer's evidence below the threshold: at 1.200 (≤ 5%"), "no default to report: \(off.text)")
    }

    @Test func squadReportsTakeTheirLabelsFromTheAnswererAndTheRetrieval() {
        var report = SQuADEvaluator.Report()
        report.index = "s.ragx"; report.paragraphs = 2; report.modelID = "ragpipe/hash-v1"; report.questions = 4
        report.recallAt1 = ["dense": 0.5, "bm25": 0.75, "hybrid": 1]
        report.recallAt5 = ["dense": 1, "bm25": 1, "hybrid": 1]
        report.containsDefault = 0.75; report.meanWordsDefault = 12.25
        report.containsOneSentence = 0.5; report.meanWordsOneSentence = 6
        report.cosineAnswerable = [0.5]; report.cosineRemoved = [0.2]
        report.answerEvidenceAnswerable = [1.5]; report.answerEvidenceRemoved = [1.0]
        let lines = report.text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(Array(lines.prefix(8)) == [
            "s.ragx: 2 paragraphs, ragpipe/hash-v1, 4 questions",
            "paragraph retrieval    R@1    R@5",
            "dense                0.500  1.000",
            "bm25                 0.750  1.000",
            "hybrid               1.000  1.000",
            "answer (hybrid hits)   contains an accepted answer   mean words",
            "default (≤ 3 sentences, ≤ 80 words)   0.750   12.3",
            "one sentence                          0.500   6.0",
        ])
        #expect(lines[8] == "abstention (1 questions, each with its relevant documents present and removed):")
        // The label is the answerer's, not a copy of its defaults; a dense-only index says so.
        report.maxSentences = 1; report.maxWords = 40; report.answerMode = .dense
        report.recallAt1 = ["dense": 0.5]; report.recallAt5 = ["dense": 1]
        #expect(report.defaultAnswerLabel == "default (≤ 1 sentence, ≤ 40 words)")
        #expect(report.text.contains("\nbm25                 -      -      (no BM25 sections in the index)\n"), "\(report.text)")
        #expect(report.text.contains("\nanswer (dense hits)    contains"), "\(report.text)")
        #expect(report.text.contains("\ndefault (≤ 1 sentence, ≤ 40 words)    0.750"), "\(report.text)")
    }

    @Test func featureTablesHaveAHeaderAndOneLinePerRow() throws {
        let dir = try TempDir()
        let row = (0..<AnswerabilityFeatures.names.count).map { Float($0) / 4 }
        try AnswerabilityFeatures.writeTSV([("q1", true, row), ("q1", false, row)], toFile: dir.path + "/f.tsv", inputs: [])
        let lines = try String(contentsOfFile: dir.path + "/f.tsv", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3 && lines[0] == (["group", "answerable"] + AnswerabilityFeatures.names).joined(separator: "\t"))
        #expect(lines[1].hasPrefix("q1\t1\t0.0\t0.25\t0.5\t") && lines[2].hasPrefix("q1\t0\t"))
        dir.write("in.tsv", "x")
        #expect(throws: RagPipeError.self) {
            try AnswerabilityFeatures.writeTSV([], toFile: dir.path + "/in.tsv", inputs: [dir.path + "/in.tsv"])
        }
    }

    @Test func vectorQueryResultsAreTheBytesQueryWroteByHand() throws {
        let dir = try TempDir()
        let results: [[(row: Int, score: Float)]] = [[(3, 0.1), (7, -0.25), (1, 0.123456789)], [], [(0, 1)]]
        func written(json: Bool) throws -> String {
            let path = dir.path + "/out-\(json)"
            let fd = try openForWriting(path)
            defer { close(fd) }
            try VectorQueries.write(results, json: json, to: OutputSink(fd: fd, name: path))
            return try String(contentsOfFile: path, encoding: .utf8)
        }
        // The forms query --npy wrote by string concatenation before.
        var json = "", text = ""
        for (i, hits) in results.enumerated() {
            json += "{\"query\":\(i),\"hits\":[" + hits.enumerated().map { r, h in
                "{\"rank\":\(r + 1),\"row\":\(h.row),\"score\":\(h.score)}" }.joined(separator: ",") + "]}\n"
            text += "\(i): " + hits.map { "\($0.row):\(String((Double($0.score) * 1e6).rounded() / 1e6))" }.joined(separator: " ") + "\n"
        }
        #expect(try written(json: true) == json)
        #expect(try written(json: false) == text)
        #expect(json.hasPrefix("{\"query\":0,\"hits\":[{\"rank\":1,\"row\":3,\"score\":0.1},"), "Float digits, not Double's: \(json)")
    }

    @Test func queriesFromStdinAreAnsweredLineByLineAndABadLineIsNamed() throws {
        let dir = try TempDir()
        dir.write("corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"Zinc\", \"text\": \"Zinc lozenges shorten the common cold.\"}\n")
        #expect(try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o i.ragx", in: dir.path).status == 0)
        let r = try shell("printf 'zinc lozenges\\n\\n   \\ncommon cold\\n\\xff\\nnever asked\\n' | query --json i.ragx", in: dir.path)
        #expect(r.status == 65, "\(r.status) \(r.stderr)")
        #expect(r.stderr == "query: error: stdin:5: malformed record: not valid UTF-8\n", "\(r.stderr)")
        let answered = r.stdout.split(separator: "\n").map { try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        #expect(answered.map { $0["query"] as! String } == ["zinc lozenges", "common cold"], "blank lines skipped, answers before the bad line kept")
    }
}
