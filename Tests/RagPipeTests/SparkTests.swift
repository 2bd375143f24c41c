import Foundation
import Testing

/// pyspark's python (scripts/spark-venv.sh) and the archive Spark ships to executors
/// (scripts/spark-pack.sh), when `make test` made them: scripts/run-tests.sh exports both.
let sparkSetup: (python: String, pack: String)? = {
    let env = ProcessInfo.processInfo.environment
    guard let python = env["RAGPIPE_SPARK_PYTHON"], FileManager.default.isExecutableFile(atPath: python),
          let pack = env["RAGPIPE_SPARK_PACK"], FileManager.default.fileExists(atPath: pack) else { return nil }
    return (python, pack)
}()

/// spark/ragpipe_spark.py in local mode on SciFact documents, with the packed tools: the archive
/// goes to the executors through spark.archives, and the one-machine reference runs the same
/// binaries unpacked, so the two differ only in how the corpus was split.
enum SparkRun {
    static let repository: String = {
        var dir = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { dir.deleteLastPathComponent() }
        return dir.path
    }()

    /// The archive unpacked (bin/, models/), as an executor sees it.
    static func tools(_ dir: TempDir) throws -> String {
        let root = dir.path + "/pack"
        let r = try shell("mkdir -p '\(root)' && tar -xf '\(sparkSetup!.pack)' -C '\(root)'")
        guard r.status == 0 else { throw SparkTestError("unpacking \(sparkSetup!.pack): \(r.stderr)") }
        return root
    }

    /// The first `count` documents of SciFact (data/scifact/corpus.jsonl.gz) as docs.jsonl.
    static func documents(_ dir: TempDir, _ count: Int) throws -> String {
        let r = try shell("{ gunzip -c '\(repository)/data/scifact/corpus.jsonl.gz' || true; } | head -n \(count) > docs.jsonl", in: dir.path)
        guard r.status == 0 else { throw SparkTestError("SciFact subset: \(r.stderr)") }
        return dir.path + "/docs.jsonl"
    }

    /// The driver, with the archive shipped as `ragpipe`; `fault` sets its test hook.
    static func driver(_ dir: TempDir, _ arguments: [String], master: String, fault: String? = nil) throws -> ShellResult {
        let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
        let hook = fault.map { "RAGPIPE_SPARK_FAULT='\($0)' " } ?? ""
        return try shell("\(hook)timeout 600 '\(sparkSetup!.python)' '\(repository)/spark/ragpipe_spark.py' --master '\(master)' "
                         + "--archives '\(sparkSetup!.pack)#ragpipe' \(quoted)", in: dir.path)
    }

    /// The record lines of a stream (its end-of-stream lines left out).
    static func records(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("{\"end_of_stream\"") }
    }

    static func endOfStreamLines(_ path: String) throws -> [Substring] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { $0.hasPrefix("{\"end_of_stream\"") }
    }

    static func ids(_ lines: [Substring]) -> [String] {
        lines.map { line in
            let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return o?["id"] as? String ?? "?"
        }
    }

    static func json(_ path: String) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any] else {
            throw SparkTestError("\(path): not a JSON object")
        }
        return o
    }

    /// SciFact's first 25 questions, one per line, as questions.txt.
    static func questions(_ dir: TempDir) throws {
        let r = try shell("{ gunzip -c '\(repository)/data/scifact/queries.jsonl.gz' || true; } | head -n 25"
                          + " | python3 -c 'import json,sys; [print(json.loads(l)[\"text\"]) for l in sys.stdin]' > questions.txt", in: dir.path)
        guard r.status == 0 else { throw SparkTestError("questions: \(r.stderr)") }
    }

    /// Each question's top 10 as (id, score) pairs, with the packed query.
    static func topTen(_ dir: TempDir, tools: String, _ index: String, mode: String) throws -> [[String]] {
        let q = try shell("RAGPIPE_MODELS='\(tools)/models' '\(tools)/bin/query' --json -k 10 --mode \(mode) '\(index)' < questions.txt", in: dir.path)
        guard q.status == 0 else { throw SparkTestError("query --mode \(mode) \(index): \(q.stderr)") }
        return try q.stdout.split(separator: "\n").map { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let hits = o["hits"] as? [[String: Any]] else {
                throw SparkTestError("query --json: \(line.prefix(200))")
            }
            return hits.map { "\($0["id"] ?? "?") \($0["score"] ?? "?")" }
        }
    }

    /// For every question and mode (dense, bm25, hybrid): the same ids with the same scores, in the same order.
    static func expectSameRankings(_ dir: TempDir, tools: String, single: String, shards: String,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
        try questions(dir)
        for mode in ["dense", "bm25", "hybrid"] {
            let whole = try topTen(dir, tools: tools, single, mode: mode)
            let set = try topTen(dir, tools: tools, shards, mode: mode)
            // BM25 finds fewer than 10 chunks (or none) for a question with few matching terms.
            #expect(whole.count == 25 && whole.filter { $0.count == 10 }.count >= 5, "\(mode)", sourceLocation: sourceLocation)
            for n in whole.indices where n < set.count {
                #expect(set[n] == whole[n], "\(mode), question \(n + 1): \(set[n]) against \(whole[n])", sourceLocation: sourceLocation)
            }
            #expect(set.count == whole.count, "\(mode)", sourceLocation: sourceLocation)
        }
    }

    /// Where two equal-length line lists first differ, for a readable failure.
    static func firstDifference(_ a: [Substring], _ b: [Substring]) -> String {
        guard a.count == b.count else { return "\(a.count) lines against \(b.count)" }
        guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "none" }
        return "line \(i + 1): \(a[i].prefix(120)) … against \(b[i].prefix(120)) …"
    }
}

struct SparkTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite(.serialized, .enabled(if: sparkSetup != nil,
    "no pyspark venv or Spark archive: scripts/spark-venv.sh (needs java: scripts/install-deps.sh test) and scripts/spark-pack.sh MODEL_DIR (make test runs both)"))
struct SparkTests {
    /// The claim of the Spark build: cutting the corpus into partitions changes nothing. 32
    /// SciFact documents, native MiniLM embeddings, 4 partitions on local[2], against the plain
    /// pipe on one machine: the same chunk records in the same order, vectors bit for bit, and
    /// for every question the same dense top 10 from the 4 shards (each shard's top 10 merged by
    /// score) as from the single index.
    @Test func fourPartitionsGiveTheOneMachineChunksVectorsAndTopTen() throws {
        let dir = try TempDir()
        let tools = try SparkRun.tools(dir)
        _ = try SparkRun.documents(dir, 32)
        let model = tools + "/models/all-MiniLM-L6-v2"
        let single = try shell("'\(tools)/bin/chunk' --format beir --model '\(model)' docs.jsonl | '\(tools)/bin/embed' --model '\(model)' > single.jsonl"
                               + " && '\(tools)/bin/build-index' -o single.ragx single.jsonl", in: dir.path)
        try #require(single.status == 0, "\(single.stderr)")

        let r = try SparkRun.driver(dir, ["--input", "docs.jsonl", "--partitions", "4", "--out", "out"], master: "local[2]")
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("32 documents → "), "\(r.stderr)")

        let reference = try SparkRun.records(dir.path + "/single.jsonl")
        var parts: [Substring] = []
        for p in 0..<4 {
            let path = dir.path + "/out/parts/part-0000\(p).jsonl"
            let own = try SparkRun.records(path)
            #expect(!own.isEmpty, "partition \(p) is empty")
            // Every part file closes its own segment, counting its own records.
            #expect(try SparkRun.endOfStreamLines(path) == ["{\"end_of_stream\":{\"version\":1,\"stage\":\"embed\",\"records\":\(own.count)}}"])
            parts += own
        }
        #expect(SparkRun.ids(parts) == SparkRun.ids(reference), "chunk ids differ: \(SparkRun.firstDifference(parts, reference))")
        // The whole lines: every chunk key and the base64 vector, so the floats are equal bit for bit.
        #expect(parts == reference, "records differ: \(SparkRun.firstDifference(parts, reference))")

        // The manifest build-index --manifest wrote names the 4 shards; job.json has each file's sha256.
        let manifest = try SparkRun.json(dir.path + "/out/manifest.json")
        let shards = try #require(manifest["shards"] as? [[String: Any]])
        #expect(shards.compactMap { $0["path"] as? String } == (0..<4).map { "shards/shard-0000\($0).ragx" })
        #expect(shards.compactMap { $0["count"] as? Int }.reduce(0, +) == reference.count && manifest["count"] as? Int == reference.count)
        #expect(manifest["model"] as? String == "all-MiniLM-L6-v2" && manifest["dim"] as? Int == 384)
        let job = try SparkRun.json(dir.path + "/out/job.json")
        #expect(job["documents"] as? Int == 32 && job["records"] as? Int == reference.count)
        for receipt in job["receipts"] as? [[String: Any]] ?? [] {
            let shard = receipt["shard"] as? [String: Any] ?? [:]
            let path = dir.path + "/out/" + (shard["path"] as? String ?? "?")
            let sum = try shell("sha256sum '\(path)' | cut -d' ' -f1").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(sum == shard["sha256"] as? String, "\(path)")
        }

        // `query` over the manifest (every shard mapped, top k merged, BM25 on the set's summed
        // statistics) ranks as the single index does, in every mode.
        try SparkRun.expectSameRankings(dir, tools: tools, single: "single.ragx", shards: "out/manifest.json")
    }

    /// IVF with sq8 codes: the set trains once on the partitions' samples (fraction 1: every
    /// chunk, in order) and every shard uses the trained file, so the trained file is the one
    /// `build-index --train-only` writes on one machine and the shards rank as one index built
    /// with it. Hash vectors, 200 documents (IVF needs 39 points per list).
    @Test func ivfShardsShareTheCentroidsAndRankAsTheSingleIndex() throws {
        let dir = try TempDir()
        let tools = try SparkRun.tools(dir)
        _ = try SparkRun.documents(dir, 200)
        let b = "'\(tools)/bin/build-index'"
        let single = try shell("'\(tools)/bin/chunk' --format beir --model '\(tools)/models/all-MiniLM-L6-v2' docs.jsonl | '\(tools)/bin/embed' --embedder hash > single.jsonl"
                               + " && \(b) --train-only --kind ivf --codes sq8 -o single.ragq single.jsonl && \(b) --centroids single.ragq -o single.ragx single.jsonl", in: dir.path)
        try #require(single.status == 0, "\(single.stderr)")

        let r = try SparkRun.driver(dir, ["--input", "docs.jsonl", "--partitions", "4", "--out", "out", "--embedder", "hash", "--kind", "ivf", "--codes", "sq8"],
                                    master: "local[2]")
        try #require(r.status == 0, "\(r.stderr)")
        let trained = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/out/trained.ragq"))
        #expect(trained == (try Data(contentsOf: URL(fileURLWithPath: dir.path + "/single.ragq"))), "the trained files differ")
        let manifest = try SparkRun.json(dir.path + "/out/manifest.json")
        #expect((manifest["shards"] as? [Any])?.count == 4 && manifest["quantizer"] != nil)
        try SparkRun.expectSameRankings(dir, tools: tools, single: "single.ragx", shards: "out/manifest.json")
    }

    /// A task killed mid-partition (SIGKILL to embed) and one whose chunk exits 0 with half its
    /// output (no end-of-stream line) both fail their first attempt; local[2,2] retries each once
    /// and the result is the one-machine result all the same.
    @Test func killedAndCutTasksAreRetriedAndTheResultIsUnchanged() throws {
        let dir = try TempDir()
        let tools = try SparkRun.tools(dir)
        _ = try SparkRun.documents(dir, 60)
        let single = try shell("'\(tools)/bin/chunk' --format beir --model '\(tools)/models/all-MiniLM-L6-v2' docs.jsonl | '\(tools)/bin/embed' --embedder hash > single.jsonl", in: dir.path)
        try #require(single.status == 0, "\(single.stderr)")

        let r = try SparkRun.driver(dir, ["--input", "docs.jsonl", "--partitions", "4", "--out", "out", "--embedder", "hash"],
                                    master: "local[2,2]", fault: "embed:kill:1,chunk:truncate:2")
        try #require(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("partition 1 attempt 0: RAGPIPE_SPARK_FAULT kills embed"), "\(r.stderr)")
        #expect(r.stderr.contains("partition 2: chunk's output ends without an end_of_stream line"), "\(r.stderr)")
        #expect(r.stderr.contains("retried partitions [1, 2]"), "\(r.stderr)")

        let job = try SparkRun.json(dir.path + "/out/job.json")
        let attempts = (job["receipts"] as? [[String: Any]] ?? []).map { $0["attempt"] as? Int ?? -1 }
        #expect(attempts == [0, 1, 1, 0])
        var parts: [Substring] = []
        for p in 0..<4 { parts += try SparkRun.records(dir.path + "/out/parts/part-0000\(p).jsonl") }
        let reference = try SparkRun.records(dir.path + "/single.jsonl")
        #expect(parts == reference, "records differ: \(SparkRun.firstDifference(parts, reference))")
        #expect(try SparkRun.json(dir.path + "/out/manifest.json")["count"] as? Int == reference.count)
        // No temporary of the failed attempts is left beside the shards.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out/shards").sorted()
                == (0..<4).map { "shard-0000\($0).ragx" })
    }

    /// Without retries (local[2]: one attempt per task) a build-index killed mid-partition fails
    /// the job: no manifest, no shard for that partition (the half-built file stays in the task's
    /// scratch folder, which is removed), a one-line reason, and OUT is not reused by accident.
    @Test func aTaskThatFailsEveryAttemptFailsTheJobAndLeavesNoShardToUse() throws {
        let dir = try TempDir()
        _ = try SparkRun.documents(dir, 60)
        let r = try SparkRun.driver(dir, ["--input", "docs.jsonl", "--partitions", "4", "--out", "out", "--embedder", "hash"],
                                    master: "local[2]", fault: "build-index:kill:1")
        #expect(r.status == 70, "\(r.stderr)")
        #expect(r.stderr.contains("ragpipe-spark: the job failed: partition 1: build-index was killed by signal 9"), "\(r.stderr)")
        #expect(r.stderr.contains("no manifest written"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out/manifest.json"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/out/shards/shard-00001.ragx"))
        let left = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/out/shards")) ?? []
        #expect(left.allSatisfy { $0.hasPrefix("shard-") && $0.hasSuffix(".ragx") && $0 != "shard-00001.ragx" }, "\(left)")

        // A second run into the same folder is refused before Spark starts, unless told to replace it.
        let again = try SparkRun.driver(dir, ["--input", "docs.jsonl", "--partitions", "4", "--out", "out", "--embedder", "hash"], master: "local[2]")
        #expect(again.status == 64)
        #expect(again.stderr.contains("out: not empty (pass --overwrite to replace what is there)"), "\(again.stderr)")
    }
}
