import CKernels
import RagPipeSupport

/// IVF lists scanned through 1-bit codes first (`--codes rabitq`; docs/bench/rabitq-study.md):
/// each row's residual to its list's stored centroid, rotated by a seeded orthogonal map, kept
/// as its sign bits and one factor (`RBQ1`, `RBQP`), so a probed list costs 52 bytes a row at
/// d = 384 instead of sq8's 384. The `candidateFactor · k` best estimates are then re-scored with
/// the rows' sq8 codes, which the lists hold as an sq8 index's do (`IVFCodes<SQ8Codec>`), and
/// those exact sq8 scores are what a search returns.
///
/// The estimate (Gao & Long, SIGMOD 2024, for inner products): ⟨o, q⟩ = ⟨c, q⟩ + ⟨r, q⟩, the
/// first the probe's centroid score, the second ≈ f · ⟨x̄, Rq⟩, with x̄ the code's ±1/√D signs
/// and f = ‖r‖ / ⟨x̄, R r̂⟩ stored per row. The query is rotated and quantized to 4 bits once.
struct IVFRaBitQCodes: DenseCodes, @unchecked Sendable {
    let lists: IVFCodes<SQ8Codec>
    let rotation: RaBitQRotation
    /// Per list, the start of its blocks of bits, then its factors (`RaBitQRotation.listBytes`).
    let bits: [UnsafePointer<UInt64>]
    let factors: [UnsafePointer<Float>]
    /// Estimates re-scored with sq8 codes, per result asked for (100 at k = 10). At 1M rows 50
    /// capped recall near 0.95 however many lists were probed. With 100, `make bench-ivf` measured
    /// 1.87× sq8's QPS at 1M, and no gain over sq8 on 22,344 real-question rows
    /// (docs/bench/rabitq-study.md).
    static let candidateFactor = 10
    static let minimumCandidates = 100

    var codec: SQ8Codec { lists.codec }
    var coding: VectorCoding { .rabitq }
    var kind: IndexKind { .ivf }
    var nlist: Int { lists.nlist }
    var defaultNProbe: Int { lists.defaultNProbe }

    func search(_ q: [Float], into top: inout TopK, nprobe: Int?) throws(IndexFileError) {
        let d = codec.dimension, padded = rotation.padded, words = padded / 64
        let probes = probeScores(q, nprobe: nprobe ?? defaultNProbe)
        var rotated = [Float](repeating: 0, count: padded)
        var planes = [UInt64](repeating: 0, count: 4 * words)
        var lo: Float = 0, delta: Float = 0, usum: Int32 = 0
        rotation.signs.withUnsafeBufferPointer { signs in
            q.withUnsafeBufferPointer { rp_rbq_rotate(signs.baseAddress!, rotation.rounds, $0.baseAddress!, d, padded, &rotated) }
        }
        rp_rbq_quantize_query(rotated, padded, &planes, &lo, &delta, &usum)
        // estimate = ⟨c,q⟩ + f · (2 Σ_{bits set} q' − Σ q') / √D, Σ_{bits set} q' = lo·pop + delta·dot.
        let scale = 1 / Float(padded).squareRoot()
        let ca = 2 * delta * scale, cb = 2 * lo * scale, cc = (lo * Float(padded) + delta * Float(usum)) * scale
        var candidates = TopK(k: max(Self.minimumCandidates, Self.candidateFactor * top.k))
        let largest = lists.largestList + 8
        let dots = UnsafeMutablePointer<Int32>.allocate(capacity: largest), pops = UnsafeMutablePointer<Int32>.allocate(capacity: largest)
        let estimates = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        defer { dots.deallocate(); pops.deallocate(); estimates.deallocate() }
        planes.withUnsafeBufferPointer { planes in
            for (l, centroidScore) in probes {
                let n = lists.lists[l].count
                guard n > 0 else { continue }
                rp_rbq_dots(planes.baseAddress!, bits[l], n, words, dots, pops)
                let f = factors[l]
                for i in 0..<n { estimates[i] = centroidScore + f[i] * (ca * Float(dots[i]) + cb * Float(pops[i]) - cc) }
                _ = candidates.offer(estimates, count: n, ids: ListEntryIDs(list: l))
            }
        }
        // The candidates' sq8 scores: exact for the codes, as an sq8 index's.
        let query = codec.prepare(q)
        var score: Float = 0, scratch: Int32 = 0
        for (packed, _) in candidates.sorted() {
            let l = packed >> 32, e = packed & 0xFFFF_FFFF
            let list = lists.lists[l]
            codec.scores(query, codes: list.codes + e * codec.codeSize, count: 1, into: &score, scratch: &scratch)
            if top.offer(&score, count: 1, ids: StoredRowIDs(ids: list.ids + e, limit: lists.count)) != nil {
                throw .corrupt("IVFL list \(l): row id \(UInt32(littleEndian: list.ids[e])) out of range")
            }
        }
    }

    func probes(_ q: [Float], nprobe: Int?) -> [Int]? { probeScores(q, nprobe: nprobe ?? defaultNProbe).map(\.list) }

    /// Shards share their centroids (`DenseShards` hands each the first shard's probes), so the
    /// lists `probes` names are those this storage's own ranking gives at that nprobe; the
    /// estimates need the centroid scores, which that ranking recomputes.
    func search(_ q: [Float], into top: inout TopK, probes: [Int]) throws(IndexFileError) {
        try search(q, into: &top, nprobe: probes.count)
    }

    /// The `nprobe` lists whose centroids score highest, best first, with those scores.
    func probeScores(_ q: [Float], nprobe: Int) -> [(list: Int, score: Float)] {
        let nlist = lists.nlist
        var best = TopK(k: max(1, min(nprobe, nlist)))
        withScanBuffers(capacity: nlist) { scores, _ in
            q.withUnsafeBufferPointer { rp_f16_scores($0.baseAddress!, lists.centroids, nlist, codec.dimension, scores) }
            best.offer(scores, count: nlist, firstID: 0)
        }
        return best.sorted().map { (list: $0.id, score: $0.score) }
    }

    func reconstruct(row: Int) throws(IndexFileError) -> [Float] { try lists.reconstruct(row: row) }
}

/// Entry `i` of list `list`, packed as `list << 32 | i`: a candidate of the 1-bit scan.
struct ListEntryIDs: ResultIDs {
    let list: Int
    @inline(__always) func id(at i: Int) -> Int? { list << 32 | i }
}

/// The seeded rotation of a rabitq index (`RBQP`: u64 seed, u32 rounds, u32 padded dimension)
/// and the layout of its `RBQ1` section.
struct RaBitQRotation: Sendable {
    let seed: UInt64
    let rounds: Int
    /// The dimension rounded up to a multiple of 64: bits a code.
    let padded: Int
    let signs: [Float]
    static let defaultRounds = 4
    static let parameterBytes = 16

    init(seed: UInt64, rounds: Int, dimension d: Int) {
        self.seed = seed; self.rounds = rounds
        padded = Self.padded(d)
        var s = [Float](repeating: 0, count: rounds * padded)
        rp_rbq_signs(seed, rounds, padded, &s)
        signs = s
    }

    static func padded(_ d: Int) -> Int { (d + 63) / 64 * 64 }

    /// Bytes of one list of `n` rows in `RBQ1`: ceil(n/8) blocks of `padded / 8` bytes of bits,
    /// then ceil(n/8) · 8 float factors, padded to a multiple of 64.
    func listBytes(_ n: Int) -> Int {
        let blocks = (n + 7) / 8
        return blocks * padded + IndexFormat.align(blocks * 32)
    }

    func factorOffset(_ n: Int) -> Int { (n + 7) / 8 * padded }

    func bytes() -> [UInt8] {
        var out = [UInt8]()
        appendLE(seed, to: &out)
        appendLE(UInt32(rounds), to: &out)
        appendLE(UInt32(padded), to: &out)
        return out
    }

    static func parse(_ raw: UnsafeRawBufferPointer, dimension d: Int) throws(IndexFileError) -> RaBitQRotation {
        guard raw.count == parameterBytes else { throw .corrupt("RBQP section is \(raw.count) bytes, expected \(parameterBytes)") }
        let rounds = Int(raw.u32(at: 8)), padded = Int(raw.u32(at: 12))
        guard rounds >= 1 && rounds <= 16 else { throw .corrupt("RBQP: \(rounds) rotation rounds, expected 1...16") }
        guard padded == Self.padded(d) else { throw .corrupt("RBQP: padded dimension \(padded), expected \(Self.padded(d)) for dimension \(d)") }
        return RaBitQRotation(seed: raw.u64(at: 0), rounds: rounds, dimension: d)
    }
}
