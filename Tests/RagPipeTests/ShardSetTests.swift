import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeRecords
@testable import RagPipeEmbedding
@testable import RagPipeIndex
@testable import RagPipeRetrieval

/// A SciFact subset (the repo's data/scifact) cut into 4 consecutive parts, 4 shards built with
/// one trained quantizer, against one index of the whole stream built with the same file: every
/// query's top-10 must be the same chunks with the same scores, in every mode.
///
/// Scores are compared exactly (tolerance 0), and that is what the design promises, not luck:
/// a row's dense score is one kernel over the same code and the same query wherever the row is;
/// a chunk's BM25 score sums the same query terms in the same order with the same idf (from the
/// summed document frequencies) and the same mean length (from the summed totals, rounded once
/// to Float as one index rounds its own); hybrid fuses lists that are then identical. The one
/// place summation order differs is the mean length's total (a sum of per-shard totals instead
/// of per-chunk lengths), and it is a sum of integers, exact in Double below 2^53.
// Serialized: each case runs a dozen build-index processes, which need not all compete at once.
@Suite(.serialized) struct ShardSetTests {
    static let documents = 180
    static let queries = 120

    static var repoData: String {
        URL(fileURLWithPath: Fixtures.directory).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("data").path
    }

    /// The embedded stream of the first `documents` SciFact abstracts, and the record lines cut
    /// into `parts` consecutive files, each ended by its own end-of-stream line.
    func stream(_ dir: TempDir, parts: Int = 4) throws -> (all: String, parts: [String], count: Int) {
        let corpus = Self.repoData + "/scifact/corpus.jsonl.gz"
        let made = try shell("(gunzip -c '\(corpus)' || true) | head -n \(Self.documents) > corpus.jsonl && chunk --counter upper-bound corpus.jsonl | embed --embedder hash > all.jsonl",
                             in: dir.path)
        #expect(made.status == 0, "\(made.stderr)")
        let lines = try String(contentsOfFile: dir.path + "/all.jsonl", encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("{\"end_of_stream\"") }
        var paths: [String] = []
        for p in 0..<parts {
            let part = lines[(p * lines.count / parts)..<((p + 1) * lines.count / parts)]
            paths.append(dir.write("part-\(p).jsonl", part.joined(separator: "\n") + "\n{\"end_of_stream\":{\"version\":1,\"stage\":\"embed\",\"records\":\(part.count)}}\n"))
        }
        return (dir.path + "/all.jsonl", paths, lines.count)
    }

    func run(_ command: String, _ dir: TempDir) throws {
        let r = try shell(command, in: dir.path)
        #expect(r.status == 0, "\(command): \(r.stderr)")
    }

    func questions() throws -> [String] {
        let r = try shell("(gunzip -c '\(Self.repoData)/scifact/queries.jsonl.gz' || true) | head -n \(Self.queries)")
        return try r.stdout.split(separator: "\n").map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try #require(object["text"] as? String)
        }
    }

    /// Every mode's top-10 from the one index and from the set, compared id for id and score for score.
    func expectSameRankings(single: String, set: String, label: String) throws {
        let one = try IndexShards.open(single), many = try IndexShards.open(set)
        #expect(many.shards.count == 4 && many.count == one.count)
        let questions = try questions()
        let embedder = HashEmbedder()
        var compared = 0
        for (mode, fusion) in [(RetrievalMode.dense, Fusion.weighted), (.bm25, .weighted), (.hybrid, .weighted), (.hybrid, .rrf)] {
            let a = try Retriever(shards: one, embedder: embedder, mode: mode, fusion: fusion, settings: .init(k: 10))
            let b = try Retriever(shards: many, embedder: embedder, mode: mode, fusion: fusion, settings: .init(k: 10))
            for q in questions {
                let x = try a.search(q), y = try b.search(q)
                #expect(x.hits.map(\.record.id) == y.hits.map(\.record.id), "\(label) \(mode) \(fusion): \(q)")
                #expect(x.hits.map(\.score) == y.hits.map(\.score), "\(label) \(mode) \(fusion) scores: \(q)")
                #expect(x.hits.map(\.similarity) == y.hits.map(\.similarity), "\(label) \(mode) similarities: \(q)")
                #expect(x.hits.map(\.row) == y.hits.map(\.row), "global rows are the one index's rows")
                compared += x.hits.count
            }
        }
        #expect(compared > questions.count * 30, "most queries have hits")
    }

    @Test func flatShardsRankAsOneIndex() throws {
        let dir = try TempDir()
        let s = try stream(dir)
        try run("build-index -o single.ragx all.jsonl", dir)
        for p in 0..<4 { try run("build-index -o shard-\(p).ragx part-\(p).jsonl", dir) }
        try run("build-index --manifest -o shards.json shard-0.ragx shard-1.ragx shard-2.ragx shard-3.ragx", dir)
        #expect(s.count > 1000)
        try expectSameRankings(single: dir.path + "/single.ragx", set: dir.path + "/shards.json", label: "flat fp32")
    }

    @Test(arguments: ["--codes fp32", "--codes sq8", "--codes fp16 --rerank"])
    func ivfShardsWithSharedCentroidsRankAsOneIndex(_ codes: String) throws {
        let dir = try TempDir()
        _ = try stream(dir)
        let rerank = codes.contains("--rerank") ? " --rerank" : ""
        // A sample would do as well for training; the whole stream keeps the test short.
        try run("build-index --train-only --kind ivf \(codes.replacingOccurrences(of: " --rerank", with: "")) --nlist 24 --nprobe 6 -o trained.ragq all.jsonl", dir)
        try run("build-index --centroids trained.ragq\(rerank) -o single.ragx all.jsonl", dir)
        for p in 0..<4 { try run("build-index --centroids trained.ragq\(rerank) -o shard-\(p).ragx part-\(p).jsonl", dir) }
        try run("mkdir -p set && build-index --manifest -o set/shards.json shard-0.ragx shard-1.ragx shard-2.ragx shard-3.ragx", dir)
        let set = try IndexShards.open(dir.path + "/set/shards.json")
        #expect(set.dense.kind == .ivf && set.dense.defaultNProbe == 6 && set.dense.nlist == 24)
        #expect(set.dense.reranks == !rerank.isEmpty)
        try expectSameRankings(single: dir.path + "/single.ragx", set: dir.path + "/set/shards.json", label: "ivf \(codes)")
        // query itself, over the manifest, prints what it prints over the one index.
        let one = try shell("query --json -k 10 --mode hybrid single.ragx 'vitamin D deficiency' | grep -o '\"id\":\"[0-9a-f]*\"'", in: dir.path)
        let many = try shell("query --json -k 10 --mode hybrid set/shards.json 'vitamin D deficiency' | grep -o '\"id\":\"[0-9a-f]*\"'", in: dir.path)
        #expect(one.status == 0 && many.status == 0 && !one.stdout.isEmpty && one.stdout == many.stdout, "\(many.stderr)")
    }

    @Test func setsThatCannotRankAsOneIndexAreRefused() throws {
        let dir = try TempDir()
        _ = try stream(dir)
        try run("build-index --train-only --kind ivf --nlist 8 --nprobe 2 -o a.ragq all.jsonl", dir)
        try run("build-index --train-only --kind ivf --nlist 8 --nprobe 2 --seed 7 -o b.ragq all.jsonl", dir)
        for p in 0..<4 { try run("build-index --centroids a.ragq -o shard-\(p).ragx part-\(p).jsonl", dir) }
        // Mismatched centroids: a shard trained apart cannot join.
        try run("build-index --centroids b.ragq -o other.ragx part-3.jsonl", dir)
        let mixed = try shell("build-index --manifest -o mixed.json shard-0.ragx shard-1.ragx shard-2.ragx other.ragx", in: dir.path)
        #expect(mixed.status == 64 && mixed.stderr.contains("other.ragx cannot join") && mixed.stderr.contains("trained quantizer"), "\(mixed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/mixed.json"))
        // IVF shards trained each on their own: no shared quantizer at all.
        try run("build-index --kind ivf --nlist 8 -o own-0.ragx part-0.jsonl && build-index --kind ivf --nlist 8 -o own-1.ragx part-1.jsonl", dir)
        let own = try shell("build-index --manifest -o own.json own-0.ragx own-1.ragx", in: dir.path)
        #expect(own.status == 64 && own.stderr.contains("--centroids"), "\(own.stderr)")

        try run("build-index --manifest -o shards.json shard-0.ragx shard-1.ragx shard-2.ragx shard-3.ragx", dir)
        try run("query -k 3 shards.json 'vitamin D'", dir)
        let manifest = try String(contentsOfFile: dir.path + "/shards.json", encoding: .utf8)
        // A damaged manifest: cut short, a count that does not add up, another version.
        for (name, text) in [("cut.json", String(manifest.prefix(manifest.count / 2))),
                             ("count.json", manifest.replacingOccurrences(of: "\"count\":", with: "\"count\":1", options: [], range: manifest.range(of: "\"count\":"))),
                             ("newer.json", manifest.replacingOccurrences(of: "\"ragpipe_shards\":1", with: "\"ragpipe_shards\":2"))] {
            dir.write(name, text)
            let r = try shell("query -k 3 \(name) 'vitamin D'", in: dir.path)
            #expect(r.status == (name == "newer.json" ? 81 : 80) && r.stderr.contains(name), "\(name): \(r.status) \(r.stderr)")
        }
        // A shard swapped for another file of the set, then one missing.
        try run("cp shard-1.ragx kept.ragx && cp shard-2.ragx shard-1.ragx", dir)
        let swapped = try shell("query -k 3 shards.json 'vitamin D'", in: dir.path)
        #expect(swapped.status == 80 && swapped.stderr.contains("shard 1 (shard-1.ragx) is not the file the manifest names"), "\(swapped.stderr)")
        try run("rm shard-1.ragx", dir)
        let missing = try shell("query -k 3 shards.json 'vitamin D'", in: dir.path)
        #expect(missing.status == 66 && missing.stderr.contains("shards.json") && missing.stderr.contains("shard 1 (shard-1.ragx)"), "\(missing.stderr)")
    }
}
