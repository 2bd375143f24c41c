import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeEmbedding
@testable import RagPipeIndex
@testable import RagPipeRetrieval
@testable import RagPipeEvaluation
@testable import RagPipePipeline

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
        let all = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --run run", in: dir.path)
        #expect(all.status == 64, "\(all.status): \(all.stderr)")
        #expect(all.stderr.hasPrefix("evaluate: error: i.ragx has no BM25 sections"), "\(all.stderr)")
        #expect(all.stderr.split(separator: "\n").count == 1, "\(all.stderr)")
        #expect(dir.contents("").filter { $0.hasPrefix("run.") }.isEmpty, "no run file before the refusal: \(dir.contents(""))")
        // Dense alone runs, and so do the measures that use query's default retrieval.
        for extra in ["", "--abstention", "--answerability-features f.tsv"] {
            let dense = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense \(extra)", in: dir.path)
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
        let build = try shell("evaluate export-squad squad.json | chunk --no-split --counter upper-bound | embed --embedder hash | build-index --no-bm25 -o s.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        let r = try shell("evaluate squad s.ragx --squad squad.json", in: dir.path)
        #expect(r.status == 0, "\(r.status): \(r.stderr)")
        #expect(r.stdout.contains("(no BM25 sections in the index)"), "\(r.stdout)")
    }

    @Test func aRetrievalNeedingBM25CannotBeMadeWithoutIt() throws {
        #expect(throws: RagPipeError.self) { try Retrieval(.bm25, bm25: nil, path: "x.ragx") }
        #expect(throws: RagPipeError.self) { try Retrieval(.hybrid, bm25: nil, path: "x.ragx") }
        #expect(try Retrieval(.dense, bm25: nil, path: "x.ragx").mode == .dense)
    }

    /// A model folder with a tokenizer (config.json, vocab.txt) and `sentence_bert_config` text.
    func modelFolder(_ dir: TempDir, sentenceBert: String) -> String {
        dir.write("m/config.json", """
        {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
         "max_position_embeddings": 512, "vocab_size": 6, "type_vocab_size": 2}
        """)
        dir.write("m/vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nzinc\ncold\n")
        dir.write("m/sentence_bert_config.json", sentenceBert)
        return dir.path + "/m"
    }

    @Test func modelFoldersWithANonPositiveSequenceLengthAreRefused() throws {
        let dir = try TempDir()
        for value in ["0", "-4", "1"] {
            let folder = modelFolder(dir, sentenceBert: "{\"max_seq_length\": \(value)}")
            #expect(throws: RagPipeError.self, "max_seq_length \(value)") { try MiniLMEmbedder.tokenizer(directory: folder) }
            for command in ["echo zinc | embed --lines --model m", "echo zinc | embed --lines --embedder openai --url http://127.0.0.1:9 --retries 0 --tokenizer m"] {
                let r = try shell(command, in: dir.path)
                #expect(r.status == 69, "\(command), max_seq_length \(value): \(r.status) \(r.stderr)")
                #expect(r.stderr.contains("max_seq_length"), "\(r.stderr)")
            }
        }
        let good = modelFolder(dir, sentenceBert: "{\"max_seq_length\": 2}")
        let (tokenizer, maxTokens) = try MiniLMEmbedder.tokenizer(directory: good)
        #expect(maxTokens == 2)
        #expect(tokenizer.encode("zinc cold zinc", maxLength: maxTokens).ids.count == 2)
    }

    /// `n` hash-embedded records (`embed --lines`), as a stream file in `dir`.
    func embeddedLines(_ dir: TempDir, _ n: Int, name: String = "e.jsonl") throws {
        dir.write("lines.txt", (0..<n).map { "Record \($0) is about topic \($0 % 3) and zinc." }.joined(separator: "\n") + "\n")
        let r = try shell("embed --embedder hash --lines lines.txt | awk '{ sub(/^\\{/, \"{\\\"id\\\":\\\"\" NR \"\\\",\"); print } END { print \"{\\\"end_of_stream\\\":{\\\"version\\\":1,\\\"stage\\\":\\\"embed\\\",\\\"records\\\":\" NR \"}}\" }' > \(name)", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func smallIVFIndexesStoreAUsableNProbe() throws {
        let dir = try TempDir()
        try embeddedLines(dir, 8)
        for extra in ["", "--nprobe 1", "--nprobe 5 --nlist 2"] {
            let build = try shell("build-index --kind ivf \(extra) -o i.ragx e.jsonl", in: dir.path)
            #expect(build.status == 0, "\(extra): \(build.stderr)")
            let q = try shell("query i.ragx 'topic zinc'", in: dir.path)
            #expect(q.status == 0, "\(extra): \(q.stderr)")
            let index = try IndexReader(path: dir.path + "/i.ragx")
            #expect((1...index.metadata.dense.nlist).contains(index.metadata.dense.nprobe))
            if extra == "--nprobe 1" { #expect(index.metadata.dense.nprobe == 1) }
        }
    }

    @Test func vectorsWiderThanAnyReaderAcceptsAreRefusedAtBuild() throws {
        let dir = try TempDir()
        let wide = "{\"id\":\"a\",\"text\":\"t\",\"model\":\"m\",\"embedding\":[" + Array(repeating: "1", count: 65_537).joined(separator: ",") + "]}\n"
        dir.write("wide.jsonl", wide)
        let r = try shell("build-index --allow-unterminated -o w.ragx wide.jsonl", in: dir.path)
        #expect(r.status == 65, "\(r.status): \(r.stderr)")
        #expect(r.stderr.contains("65536"), "\(r.stderr)")
        #expect(!dir.exists("w.ragx"))
        dir.write("huge.npy", bytes: NumpyTests.npy(rows: 1 << 56, columns: 4096, values: []))
        dir.write("wide.npy", bytes: NumpyTests.npy(rows: 1, columns: 65_537, values: []))
        for file in ["huge.npy", "wide.npy"] {
            let n = try shell("build-index --npy \(file) -o w.ragx", in: dir.path)
            #expect(n.status == 65, "\(file): \(n.stderr)")
            #expect(!n.stderr.contains("needs 0 bytes") && !n.stderr.contains("needs -"), "\(n.stderr)")
        }
    }

    @Test func bm25ParametersNoReaderAcceptsAreNeverWritten() throws {
        let dir = try TempDir()
        try embeddedLines(dir, 3)
        #expect(try shell("build-index -o i.ragx e.jsonl", in: dir.path).status == 0)
        let good = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/i.ragx"))
        for bad in ["--bm25-k1 nan", "--bm25-k1=-3", "--bm25-b=9", "--bm25-b nan", "--bm25-k1 inf"] {
            let r = try shell("build-index \(bad) -o i.ragx e.jsonl", in: dir.path)
            #expect(r.status == 64, "\(bad): \(r.status) \(r.stderr)")
            let q = try shell("query \(bad) i.ragx zinc", in: dir.path)
            #expect(q.status == 64, "\(bad): \(q.status) \(q.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/i.ragx")) == good)
        // The writer's own check, below the command line: META the reader would refuse is never written.
        var meta = IndexMetadata(modelID: "m", dimension: 4, count: 1)
        meta.bm25 = .init(k1: .nan, b: 0.4, averageLength: 1)
        #expect(meta.problem != nil)
        meta.bm25 = .init(k1: 0.9, b: 0.4, averageLength: 1)
        #expect(meta.problem == nil)
        #expect(throws: RagPipeError.self) {
            try BuildIndexStage.run(inputs: [dir.path + "/e.jsonl"], output: dir.path + "/j.ragx", blockSize: 65536, compressionLevel: 6,
                                    bm25: BM25Parameters(k1: .nan), progress: Progress(tool: "test"))
        }
        #expect(!dir.exists("j.ragx"))
    }

    @Test func outputsThatAreNotRegularFilesAreNeverReplaced() throws {
        let dir = try TempDir()
        try embeddedLines(dir, 3)
        #expect(try shell("mkfifo fifo && ln -s /dev/null null-link && (mknod dev c 1 3 2>/dev/null || ln -s /dev/zero dev)", in: dir.path).status == 0)
        for (target, type) in [("fifo", "FIFO"), ("null-link", "character device"), ("dev", "character device")] {
            let before = try shell("stat -c %F \(target)", in: dir.path).stdout
            let r = try shell("build-index -o \(target) e.jsonl", in: dir.path)
            #expect(r.status == 64, "\(target): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(type), "\(r.stderr)")
            #expect(try shell("stat -c %F \(target)", in: dir.path).stdout == before, "\(target) was replaced")
        }
        #expect(try shell("stat -c %F null-link", in: dir.path).stdout == "symbolic link\n")
    }

    @Test func anInputIsNeverReplacedByTheIndex() throws {
        let dir = try TempDir()
        try embeddedLines(dir, 3)
        let original = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/e.jsonl"))
        #expect(try shell("ln e.jsonl hard.jsonl", in: dir.path).status == 0)
        for command in ["build-index -o e.jsonl e.jsonl", "build-index -o ./e.jsonl hard.jsonl", "build-index -o e.jsonl < e.jsonl"] {
            let r = try shell(command, in: dir.path)
            #expect(r.status == 64, "\(command): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("is also an input"), "\(r.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: dir.path + "/e.jsonl")) == original, "\(command) replaced its input")
        }
        dir.write("m.npy", bytes: NumpyTests.npy(rows: 2, columns: 4))
        #expect(try shell("build-index --npy m.npy -o m.npy", in: dir.path).status == 64)
    }

    @Test func numericOptionsOutsideTheirRangeAreRefusedByName() throws {
        let dir = try denseOnlyEvaluation()
        for (option, name) in [("--depth 0", "--depth"), ("--depth=-5", "--depth"), ("--weight nan", "--weight"), ("--weight 7", "--weight")] {
            let r = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels qrels.tsv --configurations dense \(option)", in: dir.path)
            #expect(r.status == 64, "\(option): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(name), "\(option): \(r.stderr)")
            // The range check refused it, not the parser (a negative value after a space reads as an option).
            #expect(!r.stderr.contains("Missing value"), "\(option): \(r.stderr)")
        }
        for (option, name) in [("--min-score nan", "--min-score"), ("--min-score 3", "--min-score"), ("--min-evidence nan", "--min-evidence"),
                               ("--temperature nan", "--temperature"), ("--temperature=-1", "--temperature")] {
            let r = try shell("query \(option) --llm http://127.0.0.1:9 i.ragx zinc", in: dir.path)
            #expect(r.status == 64, "\(option): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(name), "\(option): \(r.stderr)")
            #expect(!r.stderr.contains("Missing value"), "\(option): \(r.stderr)")
        }
        #expect(try shell("query --min-score 0.1 i.ragx zinc", in: dir.path).status == 0)
    }

    @Test func evaluateRefusesToReportWhenNothingCouldBeEvaluated() throws {
        let dir = try denseOnlyEvaluation()
        dir.write("empty.jsonl", "")
        dir.write("other-queries.tsv", "query-id\tcorpus-id\tscore\nq9\td1\t1\n")
        dir.write("other-docs.tsv", "query-id\tcorpus-id\tscore\nq1\tx7\t1\n")
        dir.write("twice.jsonl", "{\"_id\": \"q1\", \"text\": \"zinc\"}\n{\"_id\": \"q2\", \"text\": \"cold\"}\n{\"_id\": \"q1\", \"text\": \"zinc\"}\n")
        for (queries, qrels, status, fragment) in [("empty.jsonl", "qrels.tsv", 66, "no query of empty.jsonl"),
                                                   ("queries.jsonl", "other-queries.tsv", 66, "has relevance judgments"),
                                                   ("queries.jsonl", "other-docs.tsv", 66, "no document judged relevant"),
                                                   ("twice.jsonl", "qrels.tsv", 65, "twice.jsonl:3: malformed record: query id 'q1' again (first at line 1)")] {
            let r = try shell("evaluate beir i.ragx --queries \(queries) --qrels \(qrels) --configurations dense", in: dir.path)
            #expect(r.status == Int32(status), "\(queries) \(qrels): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(fragment), "\(r.stderr)")
            #expect(r.stdout.isEmpty, "no metrics: \(r.stdout)")
        }
        // The header counts the queries run, not the qrels' queries.
        dir.write("more.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq5\td2\t1\nq6\td2\t1\n")
        let ok = try shell("evaluate beir i.ragx --queries queries.jsonl --qrels more.tsv --configurations dense", in: dir.path)
        #expect(ok.status == 0 && ok.stdout.contains(", 1 judged queries"), "\(ok.stdout) \(ok.stderr)")
    }

    @Test func squadEvaluationNeedsItsOwnIndexAndAnswers() throws {
        let dir = try TempDir()
        dir.write("squad.json", """
        {"data": [{"title": "Zinc", "paragraphs": [{"context": "Zinc lozenges shorten the common cold.",
          "qas": [{"id": "a1", "question": "What do zinc lozenges shorten?", "answers": [{"text": "the common cold", "answer_start": 23}]},
                  {"id": "a2", "question": "Who sells them?", "answers": []}]}]}]}
        """)
        let data = try SQuADData(path: dir.path + "/squad.json")
        #expect(data.questions.map(\.id) == ["a1"] && data.unanswerable == 1)
        dir.write("corpus.jsonl", "{\"_id\": \"d1\", \"title\": \"Zinc\", \"text\": \"Zinc lozenges shorten the common cold.\"}\n")
        #expect(try shell("chunk --counter upper-bound corpus.jsonl | embed --embedder hash | build-index -o other.ragx", in: dir.path).status == 0)
        let r = try shell("evaluate squad other.ragx --squad squad.json", in: dir.path)
        #expect(r.status == 66 && r.stderr.contains("holds none of the SQuAD file's paragraphs"), "\(r.status) \(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func repeatedIdsAreRefusedWithBothPlaces() throws {
        let dir = try TempDir()
        dir.write("beir.jsonl", "{\"_id\": \"d1\", \"text\": \"zinc\"}\n{\"_id\": \"d2\", \"text\": \"cold\"}\n{\"_id\": \"d1\", \"text\": \"other\"}\n")
        let beir = try shell("chunk --counter upper-bound beir.jsonl", in: dir.path)
        #expect(beir.status == 65, "\(beir.stderr)")
        #expect(beir.stderr.contains("beir.jsonl:3: malformed record: document id 'd1' again (first at beir.jsonl:1)"), "\(beir.stderr)")
        dir.write("a/x.md", "zinc")
        dir.write("b/x.md", "cold")
        let files = try shell("chunk --counter upper-bound a/x.md b/x.md", in: dir.path)
        #expect(files.status == 65 && files.stderr.contains("again (first at a/x.md)"), "\(files.stderr)")
        try embeddedLines(dir, 3)
        let twice = try shell("(grep -v end_of_stream e.jsonl; sed -n 2p e.jsonl) > d.jsonl && build-index --allow-unterminated -o d.ragx d.jsonl", in: dir.path)
        #expect(twice.status == 65, "\(twice.stderr)")
        #expect(twice.stderr.contains("d.jsonl:4: malformed record: id '2' again (first at d.jsonl:2)"), "\(twice.stderr)")
        #expect(!dir.exists("d.ragx"))
    }

    @Test func directoryLinksAreWalkedOnce() throws {
        let dir = try TempDir()
        dir.write("corpus/sub/doc.md", "# Doc\n\nZinc lozenges.")
        #expect(try shell("ln -s .. corpus/sub/up && ln -s ../sub corpus/sub/again && ln -s sub corpus/alias", in: dir.path).status == 0)
        let r = try shell("chunk --counter upper-bound corpus", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("1 documents"), "\(r.stderr)")
        #expect(r.stderr.contains("already read"), "\(r.stderr)")
    }

    @Test func fileNamesThatAreNotUTF8AreNamedAsSuch() throws {
        let dir = try TempDir()
        dir.write("corpus/good.md", "Zinc.")
        #expect(try shell("printf 'Cold.' > \"corpus/bad-$(printf '\\xff').md\"", in: dir.path).status == 0)
        let r = try shell("chunk --counter upper-bound corpus", in: dir.path)
        #expect(r.status == 66, "\(r.stderr)")
        #expect(r.stderr.contains("corpus/bad-\\xFF.md: cannot read: file name is not valid UTF-8"), "\(r.stderr)")
        #expect(!r.stderr.contains("No such file"), "\(r.stderr)")
        let skipped = try shell("chunk --counter upper-bound --skip-invalid corpus", in: dir.path)
        #expect(skipped.status == 0 && skipped.stderr.contains("1 documents"), "\(skipped.stderr)")
    }

    @Test func theReadmeExitStatusTableIsTheOneTheToolsUse() throws {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        let readme = try String(contentsOf: dir.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Exit status")).upperBound
        let rows = readme[section...].split(separator: "\n").drop { !$0.hasPrefix("| status") }.dropFirst(2).prefix { $0.hasPrefix("|") }
        let table = rows.map { row -> (Int32, String) in
            let cells = row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return (Int32(cells[1]) ?? -1, cells[2])
        }
        #expect(table.map(\.0) == ExitStatus.allCases.map(\.rawValue))
        #expect(table.map(\.1) == ExitStatus.allCases.map(\.meaning))
    }

    @Test func everyToolGivesAMissingInputTheSameStatus() throws {
        let dir = try TempDir()
        dir.write("q.jsonl", "{\"_id\": \"q1\", \"text\": \"zinc\"}\n")
        for command in ["chunk missing.md", "embed --embedder hash missing.jsonl", "build-index -o x.ragx missing.jsonl", "build-index --npy missing.npy -o x.ragx",
                        "query missing.ragx zinc", "serve missing.ragx --port 0", "evaluate beir missing.ragx --queries q.jsonl --qrels missing.tsv", "evaluate export-squad missing.json"] {
            let r = try shell(command, in: dir.path)
            #expect(r.status == 66, "\(command): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("missing."), "\(r.stderr)")
        }
        for command in ["echo hi | embed --lines --model /nonexistent/m", "query --model /nonexistent/m x.ragx zinc"] {
            if command.hasPrefix("query") {
                #expect(try shell("echo '{\"id\":\"a\",\"text\":\"t\",\"model\":\"m\",\"embedding\":[1,0]}' | build-index --allow-unterminated -o x.ragx", in: dir.path).status == 0)
            }
            let r = try shell(command, in: dir.path)
            #expect(r.status == 69, "\(command): \(r.status) \(r.stderr)")
        }
    }

    @Test func byteOrderMarksAndRetriesAreNamed() throws {
        let dir = try TempDir()
        dir.write("bom.jsonl", bytes: [0xEF, 0xBB, 0xBF] + Array("{\"_id\": \"d1\", \"text\": \"zinc\"}\n".utf8))
        let r = try shell("chunk --counter upper-bound bom.jsonl", in: dir.path)
        #expect(r.status == 65 && r.stderr.contains("bom.jsonl:1: malformed record: the line starts with a UTF-8 byte-order mark"), "\(r.stderr)")
        let retry = try shell("echo hi | embed --lines --embedder openai --url http://127.0.0.1:9 --retries 1", in: dir.path)
        #expect(retry.status == 69, "\(retry.stderr)")
        let lines = retry.stderr.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("embed: ") }, "\(retry.stderr)")
    }
}
