import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import Dispatch

/// Okapi BM25 over chunk texts, stored in three index sections and read in place:
/// - `BMTV` vocabulary: `u32 term count`, `u32 0`, then per term (sorted by bytes) 24 bytes:
///   `u64 postings offset` (in BMPS), `u32 postings length`, `u32 document frequency`,
///   `u32 term offset`, `u32 term length` (into the term bytes that follow the entries);
/// - `BMPS` postings: per term, pairs of LEB128 varints (chunk-id delta, term frequency);
/// - `BMDL` lengths: `u32` terms per chunk, one per chunk.
/// Scoring: `idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avglen))` with
/// `idf = ln(1 + (N − df + 0.5) / (df + 0.5))`, Lucene's BM25 (k1 0.9, b 0.4 by default, as
/// Anserini's BEIR runs).
public struct BM25Parameters: Equatable, Sendable {
    public var k1: Float = 0.9
    public var b: Float = 0.4
    public init(k1: Float = 0.9, b: Float = 0.4) { self.k1 = k1; self.b = b }

    /// The values every tool accepts and every index may store: `build-index` refuses to write
    /// what `query` would refuse to read.
    public static let k1Range: ClosedRange<Double> = 0...10
    public static let bRange: ClosedRange<Double> = 0...1

    /// Why `k1`/`b` are not usable (NaN fails every range), or nil.
    public static func problem(k1: Double, b: Double) -> String? {
        if !k1Range.contains(k1) { return "bm25 k1 \(k1) is not in 0...10" }
        if !bRange.contains(b) { return "bm25 b \(b) is not in 0...1" }
        return nil
    }

    public var problem: String? { Self.problem(k1: Double(k1), b: Double(b)) }
}

/// The text BM25 indexes for a chunk: its text, with the title in front when the text does not
/// already begin with it (chunks after a document's first).
package func bm25Text(_ r: ChunkRecord) -> String {
    r.title.isEmpty || r.text.hasPrefix(r.title) ? r.text : r.title + "\n" + r.text
}

/// Builds the three sections from chunk texts (in chunk order), analyzing on all cores.
package struct BM25Builder {
    package static func build(texts: [String]) -> (vocabulary: [UInt8], postings: [UInt8], lengths: [UInt8], averageLength: Double) {
        let n = texts.count
        // Analyze in parallel, then merge in order.
        let workers = 8
        let perWorker = (n + workers - 1) / workers
        let results: [[[String]]] = Parallel.map(count: workers, workers: workers) { w in
            let analyzer = EnglishAnalyzer()
            let lo = w * perWorker, hi = min(n, lo + perWorker)
            return lo < hi ? texts[lo..<hi].map { analyzer.terms($0) } : []
        }
        var termIDs: [String: Int] = [:]
        var docs: [[UInt32]] = []
        var freqs: [[UInt32]] = []
        var lengths = [UInt8]()
        lengths.reserveCapacity(n * 4)
        var totalLength = 0
        var doc = 0
        for w in 0..<workers {
            for terms in results[w] {
                appendLE(UInt32(terms.count), to: &lengths)
                totalLength += terms.count
                var counts: [String: UInt32] = [:]
                for t in terms { counts[t, default: 0] += 1 }
                for (t, tf) in counts {
                    let id: Int
                    if let existing = termIDs[t] { id = existing } else {
                        id = docs.count; termIDs[t] = id; docs.append([]); freqs.append([])
                    }
                    docs[id].append(UInt32(doc)); freqs[id].append(tf)
                }
                doc += 1
            }
        }
        let sorted = termIDs.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var postings = [UInt8]()
        var entries = [UInt8]()
        var termBytes = [UInt8]()
        appendLE(UInt32(sorted.count), to: &entries)
        appendLE(UInt32(0), to: &entries)
        for term in sorted {
            let id = termIDs[term]!
            // Chunks were added in order, but dictionary iteration per chunk is unordered:
            // sort each list by chunk id.
            let order = docs[id].indices.sorted { docs[id][$0] < docs[id][$1] }
            let start = postings.count
            var previous: UInt32 = 0
            for (k, i) in order.enumerated() {
                let d = docs[id][i]
                appendVarint(k == 0 ? d : d - previous, to: &postings)
                appendVarint(freqs[id][i], to: &postings)
                previous = d
            }
            appendLE(UInt64(start), to: &entries)
            appendLE(UInt32(postings.count - start), to: &entries)
            appendLE(UInt32(docs[id].count), to: &entries)
            appendLE(UInt32(termBytes.count), to: &entries)
            appendLE(UInt32(term.utf8.count), to: &entries)
            termBytes.append(contentsOf: term.utf8)
        }
        entries.append(contentsOf: termBytes)
        return (entries, postings, lengths, n > 0 ? Double(totalLength) / Double(n) : 0)
    }
}

@inline(__always) func appendVarint(_ value: UInt32, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
    out.append(UInt8(v))
}

/// BM25 search over the sections of an open index, in place through the map.
/// Unchecked: a read-only view of sections of a mapped index; whoever holds it holds the reader.
public struct BM25Searcher: @unchecked Sendable {
    let vocabulary: UnsafeRawBufferPointer
    let postings: UnsafeRawBufferPointer
    let lengths: UnsafeRawBufferPointer
    let count: Int
    let termCount: Int
    let averageLength: Float
    public var parameters: BM25Parameters
    let path: String

    /// The BM25 sections of `index`, or nil when it was built without them.
    public init?(index: IndexReader, parameters: BM25Parameters? = nil) throws {
        guard let settings = index.metadata.bm25, let v = index.section(.bm25Vocabulary),
              let p = index.section(.bm25Postings), let l = index.section(.bm25Lengths) else { return nil }
        try self.init(vocabulary: v, postings: p, lengths: l, count: index.count, averageLength: settings.averageLength,
                      parameters: parameters ?? BM25Parameters(k1: Float(settings.k1), b: Float(settings.b)), path: index.path)
    }

    init(vocabulary: UnsafeRawBufferPointer, postings: UnsafeRawBufferPointer, lengths: UnsafeRawBufferPointer,
         count: Int, averageLength: Double, parameters: BM25Parameters, path: String) throws {
        func corrupt(_ reason: String) -> RagPipeError { .corruptIndex(path: path, reason: reason) }
        guard vocabulary.count >= 8 else { throw corrupt("BMTV section too short") }
        termCount = Int(vocabulary.u32(at: 0))
        guard UInt64(termCount) * 24 + 8 <= UInt64(vocabulary.count) else { throw corrupt("BMTV holds \(termCount) terms in \(vocabulary.count) bytes") }
        guard lengths.count == count * 4 else { throw corrupt("BMDL section is \(lengths.count) bytes for \(count) chunks") }
        guard averageLength.isFinite, averageLength >= 0 else { throw corrupt("META: bm25_avgdl out of range") }
        self.vocabulary = vocabulary; self.postings = postings; self.lengths = lengths
        self.count = count; self.averageLength = Float(max(averageLength, 1e-9))
        self.parameters = parameters; self.path = path
    }

    /// The vocabulary entry of `term`, by binary search over the sorted term bytes.
    func entry(_ term: [UInt8]) throws -> Int? {
        let termsStart = 8 + termCount * 24
        var lo = 0, hi = termCount
        while lo < hi {
            let mid = (lo + hi) / 2
            let e = 8 + mid * 24
            let offset = Int(vocabulary.u32(at: e + 16)), length = Int(vocabulary.u32(at: e + 20))
            guard termsStart + offset + length <= vocabulary.count else {
                throw RagPipeError.corruptIndex(path: path, reason: "BMTV term \(mid) out of bounds")
            }
            let candidate = UnsafeRawBufferPointer(rebasing: vocabulary[(termsStart + offset)..<(termsStart + offset + length)])
            if candidate.lexicographicallyPrecedes(term) { lo = mid + 1 }
            else if term.lexicographicallyPrecedes(candidate) { hi = mid }
            else { return mid }
        }
        return nil
    }

    /// The number of chunks holding an analyzed term (0 when none does).
    package func documentFrequency(_ term: String) -> Int {
        guard let e = try? entry(Array(term.utf8)) else { return 0 }
        return Int(vocabulary.u32(at: 8 + e * 24 + 12))
    }

    /// BM25's inverse document frequency of an analyzed term (0 for a term no chunk holds).
    public func idf(_ term: String) -> Float {
        guard let e = try? entry(Array(term.utf8)) else { return 0 }
        let df = Float(vocabulary.u32(at: 8 + e * 24 + 12))
        return log(1 + (Float(count) - df + 0.5) / (df + 0.5))
    }

    /// The score a chunk would approach as every query term's frequency grows without bound:
    /// the sum of the terms' `idf · (k1 + 1)`. Scores divided by it compare across queries.
    public func ceiling(_ query: String) -> Float {
        EnglishAnalyzer().terms(query).reduce(Float(0)) { $0 + idf($1) * (parameters.k1 + 1) }
    }

    /// Scores every chunk containing a query term; returns the best `k`.
    public func search(_ query: String, k: Int) throws -> [(id: Int, score: Float)] {
        try search(terms: EnglishAnalyzer().terms(query), collection: nil, k: k)
    }

    /// The same for analyzed `terms`, with the statistics of `collection` (a shard set's, so a
    /// chunk scores as in one index over every shard) in place of this index's own when given.
    package func search(terms: [String], collection: BM25Collection?, k: Int) throws -> [(id: Int, score: Float)] {
        guard !terms.isEmpty else { return [] }
        var scores = [Float](repeating: 0, count: count)
        var touched: [Int] = []
        let k1 = parameters.k1, b = parameters.b
        let averageLength = collection?.averageLength ?? self.averageLength
        for term in terms {
            guard let e = try entry(Array(term.utf8)) else { continue }
            let base = 8 + e * 24
            let offset = vocabulary.u64(at: base), length = UInt64(vocabulary.u32(at: base + 8))
            let df = Float(vocabulary.u32(at: base + 12))
            guard offset <= UInt64(postings.count), length <= UInt64(postings.count) - offset else {
                throw RagPipeError.corruptIndex(path: path, reason: "BMPS postings of term \(e) out of bounds")
            }
            let idf = collection?.idf[term] ?? log(1 + (Float(count) - df + 0.5) / (df + 0.5))
            var p = Int(offset)
            let end = Int(offset + length)
            var doc = 0
            var first = true
            while p < end {
                let delta = try readVarint(&p, end: end), tf = Float(try readVarint(&p, end: end))
                doc = first ? Int(delta) : doc + Int(delta)
                first = false
                guard doc < count else { throw RagPipeError.corruptIndex(path: path, reason: "BMPS posting points past the last chunk") }
                let length = Float(lengths.u32(at: doc * 4))
                if scores[doc] == 0 { touched.append(doc) }
                scores[doc] += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / averageLength))
            }
        }
        var top = TopK(k: max(1, k))
        for d in touched { top.push(scores[d], d) }
        return top.sorted()
    }

    func readVarint(_ p: inout Int, end: Int) throws -> UInt32 {
        var value: UInt32 = 0, shift: UInt32 = 0
        while true {
            guard p < end, shift <= 28 else { throw RagPipeError.corruptIndex(path: path, reason: "BMPS varint out of bounds") }
            let byte = postings[p]
            p += 1
            value |= UInt32(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
