import Foundation
import Testing
@testable import RagPipeEmbedding
@testable import RagPipeIndex
@testable import RagPipeRetrieval

@Suite struct BM25Tests {
    static let texts = [
        "Vitamin D supplementation reduces fractures in older adults.",
        "Zinc lozenges shorten the common cold.",
        "Fractures of the hip are common; vitamin D and calcium help.",
        "Inverted file indexes probe a few lists of vectors.",
        "The cold chain keeps vaccines cold, colder than the coldest room.",
    ]

    static func buildIndex(_ dir: TempDir) throws -> IndexReader {
        let records = texts.enumerated().map { i, t in
            "{\"id\":\"\(i)\",\"source\":\"d\(i)\",\"title\":\"\",\"text\":\"\(t)\",\"model\":\"ragpipe/hash-v1\",\"embedding\":\(try! HashEmbedder(dimension: 8).embed(t))}"
        }
        dir.write("in.jsonl", records.joined(separator: "\n") + "\n")
        let r = try shell("build-index --allow-unterminated -o i.ragx in.jsonl", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        return try IndexReader(path: dir.path + "/i.ragx")
    }

    /// Straight from the formula, over the analyzed texts.
    static func oracle(_ query: String, k1: Float = 0.9, b: Float = 0.4) -> [(id: Int, score: Float)] {
        let a = EnglishAnalyzer()
        let docs = texts.map { a.terms($0) }
        let avg = Float(docs.map(\.count).reduce(0, +)) / Float(docs.count)
        var scores = [Float](repeating: 0, count: docs.count)
        for term in a.terms(query) {
            let df = Float(docs.filter { $0.contains(term) }.count)
            guard df > 0 else { continue }
            let idf = log(1 + (Float(docs.count) - df + 0.5) / (df + 0.5))
            for (d, terms) in docs.enumerated() {
                let tf = Float(terms.filter { $0 == term }.count)
                guard tf > 0 else { continue }
                scores[d] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * Float(terms.count) / avg))
            }
        }
        return scores.enumerated().filter { $0.element > 0 }.map { (id: $0.offset, score: $0.element) }
            .sorted { $0.score > $1.score || ($0.score == $1.score && $0.id < $1.id) }
    }

    @Test func scoresMatchTheFormula() throws {
        let dir = try TempDir()
        let index = try Self.buildIndex(dir)
        let searcher = try #require(try BM25Searcher(index: index))
        for q in ["vitamin D fractures", "cold colds", "hip fracture calcium", "probe lists", "nothing matches xyzzy", "the of and"] {
            let got = try searcher.search(q, k: 10)
            let want = Self.oracle(q)
            #expect(got.map(\.id) == want.map(\.id), "\(q)")
            for (g, w) in zip(got, want) { #expect(abs(g.score - w.score) < 1e-4, "\(q)") }
        }
        try index.verify()
    }

    @Test func fusionCombinesRanks() {
        let dense: [(id: Int, score: Float)] = [(1, 0.9), (2, 0.8), (3, 0.1)]
        let bm25: [(id: Int, score: Float)] = [(3, 12), (1, 5)]
        #expect(Fusion.rrf.fuse(dense: dense, bm25: bm25, weight: 0.5, k: 3).map(\.id) == [1, 3, 2])
        // Weighted: 1 → 0.5·1 + 0.5·0 = 0.5; 3 → 0.5·0 + 0.5·1 = 0.5; 2 → 0.5·0.875.
        let w = Fusion.weighted.fuse(dense: dense, bm25: bm25, weight: 0.5, k: 3)
        #expect(w.map(\.id) == [1, 3, 2])
        #expect(abs(w[2].score - 0.4375) < 1e-6)
    }

    @Test func queryModes() throws {
        let dir = try TempDir()
        _ = try Self.buildIndex(dir)
        for mode in ["dense", "bm25", "hybrid"] {
            let r = try shell("query --json --mode \(mode) i.ragx 'zinc lozenges'", in: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
            let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            #expect((o["hits"] as! [[String: Any]]).first?["source"] as? String == "d1", "\(mode)")
        }
        // Query-time parameters change BM25 scores.
        func topScore(_ args: String) throws -> Double {
            let r = try shell("query --json --mode bm25 \(args) i.ragx 'cold colds'", in: dir.path)
            let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
            return (o["hits"] as! [[String: Any]])[0]["score"] as! Double
        }
        let stored = try topScore(""), tuned = try topScore("--bm25-k1 1.5 --bm25-b 0.9")
        #expect(abs(stored - Double(Self.oracle("cold colds")[0].score)) < 1e-4)
        #expect(abs(tuned - Double(Self.oracle("cold colds", k1: 1.5, b: 0.9)[0].score)) < 1e-4)
        #expect(try shell("query --bm25-b 2 i.ragx 'x'", in: dir.path).status == 64)

        _ = try shell("build-index --no-bm25 --allow-unterminated -o plain.ragx in.jsonl", in: dir.path)
        let refused = try shell("query --mode bm25 plain.ragx 'zinc'", in: dir.path)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("no BM25"))
        #expect(try shell("query plain.ragx 'zinc'", in: dir.path).status == 0, "dense by default without BM25")
    }
}
