import Foundation
import Testing
@testable import RagPipe

/// The defects a hostile sweep of every tool found (issue 14): each must fail with one line and
/// an exit status below 128, never trap, and never destroy or replace a good file.
@Suite struct HostileInputTests {
    /// A BEIR corpus, its queries and qrels, and an index built with --no-bm25.
    func denseOnlyEvaluation() throws -> TempDir {
        let dir = try TempDir()
        dir.write("corpus.jsonl", """
        {"_id": "d1", "title": "Zinc", "text": "Zinc lozenges shorten the common cold."}
        {"_id": "d2", "title": "Vitamin D", "text": "Vitamin D reduces hip fractures in older adults."}
        """)
        dir.write("queries.jsonl", "{\"_id\": \"q1\", \"text\": \"does zinc help with colds\"}\n")
        dir.write("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
        let build = try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index --no-bm25 -o i.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        return dir
    }

    @Test func evaluateRefusesBM25ConfigurationsOnADenseOnlyIndex() throws {
        let dir = try denseOnlyEvaluation()
        let all = try shell("evaluate i.ragx --queries queries.jsonl --qrels qrels.tsv --run run", in: dir.path)
        #expect(all.status == 64, "\(all.status): \(all.stderr)")
        #expect(all.stderr.hasPrefix("evaluate: error: i.ragx has no BM25 sections"), "\(all.stderr)")
        #expect(all.stderr.split(separator: "\n").count == 1, "\(all.stderr)")
        #expect(dir.contents("").filter { $0.hasPrefix("run.") }.isEmpty, "no run file before the refusal: \(dir.contents(""))")
        // Dense alone runs, and so do the measures that use query's default retrieval.
        for extra in ["", "--abstention", "--answerability-features f.tsv"] {
            let dense = try shell("evaluate i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense \(extra)", in: dir.path)
            #expect(dense.status == 0, "\(extra): \(dense.status) \(dense.stderr)")
        }
    }

    @Test func squadEvaluationOfADenseOnlyIndexRunsDenseOnly() throws {
        let dir = try TempDir()
        dir.write("squad.json", """
        {"version": "1.1", "data": [{"title": "Zinc", "paragraphs": [
          {"context": "Zinc lozenges shorten the common cold. They are sold in pharmacies.",
           "qas": [{"id": "a1", "question": "What do zinc lozenges shorten?", "answers": [{"text": "the common cold", "answer_start": 23}]}]},
          {"context": "Vitamin D reduces hip fractures in older adults.",
           "qas": [{"id": "a2", "question": "What does vitamin D reduce?", "answers": [{"text": "hip fractures", "answer_start": 18}]}]}]}]}
        """)
        let build = try shell("evaluate --export-squad squad.json | chunk --no-split --counter upper-bound | embed --embedder hash | build-index --no-bm25 -o s.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let r = try shell("evaluate s.ragx --squad squad.json", in: dir.path)
        #expect(r.status == 0, "\(r.status): \(r.stderr)")
        #expect(r.stdout.contains("(no BM25 sections in the index)"), "\(r.stdout)")
    }

    @Test func aRetrievalNeedingBM25CannotBeMadeWithoutIt() throws {
        #expect(throws: RagPipeError.self) { try Retrieval(.bm25, bm25: nil, path: "x.ragx") }
        #expect(throws: RagPipeError.self) { try Retrieval(.hybrid, bm25: nil, path: "x.ragx") }
        #expect(try Retrieval(.dense, bm25: nil, path: "x.ragx").mode == .dense)
    }
}
