import Foundation
import RagPipeAnswering
import RagPipePipeline

/// The design's semantic cache of answers: L1 by the exact question (normalized: case folded,
/// white space collapsed) with the same options, L2 by cosine of the question's embedding to a
/// cached question's, at or above `threshold`, with the same options. Bounded by entries and by
/// bytes, least recently used first out; emptied when the index changes (entries carry the index
/// generation they were answered from and `clear` drops them all on reload).
public final class SemanticCache: @unchecked Sendable {
    struct Settings: Sendable {
        var maxEntries = 10_000
        var maxBytes = 64 << 20
        /// nil: no L2 (exact hits only).
        var threshold: Float? = SemanticCache.defaultThreshold
    }

    /// The L2 cosine threshold (README, "Semantic cache": calibrated on paraphrase pairs).
    public static let defaultThreshold: Float = 0.95

    enum Level: String, Sendable { case l1, l2, miss }

    struct Hit {
        var result: QueryResult
        var level: Level
        /// The cached question's cosine to this one (1 for L1).
        var similarity: Float
        var cachedQuery: String
    }

    private struct Key: Hashable {
        var generation: Int
        var text: String
        var options: QueryOptions
    }

    private final class Entry {
        let key: Key
        let vector: [Float]
        let result: QueryResult
        let bytes: Int
        var lastUse: UInt64
        init(key: Key, vector: [Float], result: QueryResult, bytes: Int, lastUse: UInt64) {
            self.key = key; self.vector = vector; self.result = result; self.bytes = bytes; self.lastUse = lastUse
        }
    }

    let settings: Settings
    private let lock = NSLock()
    private var exact: [Key: Entry] = [:]
    /// Entries grouped by what an L2 hit must share with the question: generation and options.
    private var byOptions: [Key: [Entry]] = [:]
    private var clock: UInt64 = 0
    private(set) var bytes = 0

    init(settings: Settings) { self.settings = settings }

    var count: Int { lock.withLock { exact.count } }
    var byteCount: Int { lock.withLock { bytes } }

    /// What L1 compares: the text lowercased, runs of white space as one space, trimmed.
    static func normalized(_ text: String) -> String {
        text.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    func exactHit(_ query: String, options: QueryOptions, generation: Int) -> Hit? {
        let key = Key(generation: generation, text: Self.normalized(query), options: options)
        return lock.withLock {
            guard let entry = exact[key] else { return nil }
            clock += 1
            entry.lastUse = clock
            return Hit(result: entry.result, level: .l1, similarity: 1, cachedQuery: entry.result.query)
        }
    }

    /// The cached answer whose question is most similar to `vector` (unit length), when at or
    /// above the threshold.
    func semanticHit(_ vector: [Float], options: QueryOptions, generation: Int) -> Hit? {
        guard let threshold = settings.threshold else { return nil }
        let group = Key(generation: generation, text: "", options: options)
        return lock.withLock {
            var best: Entry?
            var bestScore = -Float.infinity
            for entry in byOptions[group] ?? [] {
                var dot: Float = 0
                for i in 0..<min(vector.count, entry.vector.count) { dot += vector[i] * entry.vector[i] }
                if dot > bestScore { bestScore = dot; best = entry }
            }
            guard let best, bestScore >= threshold else { return nil }
            clock += 1
            best.lastUse = clock
            return Hit(result: best.result, level: .l2, similarity: bestScore, cachedQuery: best.result.query)
        }
    }

    func insert(_ query: String, vector: [Float], options: QueryOptions, generation: Int, result: QueryResult, responseBytes: Int) {
        let key = Key(generation: generation, text: Self.normalized(query), options: options)
        let group = Key(generation: generation, text: "", options: options)
        // What an entry holds: its vector, its question and the hits' and answer's texts (about
        // the size of the JSON answer), plus bookkeeping.
        let size = vector.count * 4 + key.text.utf8.count + responseBytes + 256
        guard size <= settings.maxBytes, settings.maxEntries > 0 else { return }
        lock.withLock {
            if exact[key] != nil { return }
            clock += 1
            let entry = Entry(key: key, vector: vector, result: result, bytes: size, lastUse: clock)
            exact[key] = entry
            byOptions[group, default: []].append(entry)
            bytes += size
            while exact.count > settings.maxEntries || bytes > settings.maxBytes { evictOldest() }
        }
    }

    /// Drops the least recently used entry (a linear pass: the cache holds thousands at most, and
    /// eviction happens once per insertion past the bound).
    private func evictOldest() {
        guard let oldest = exact.values.min(by: { $0.lastUse < $1.lastUse }) else { return }
        exact[oldest.key] = nil
        let group = Key(generation: oldest.key.generation, text: "", options: oldest.key.options)
        byOptions[group]?.removeAll { $0 === oldest }
        if byOptions[group]?.isEmpty == true { byOptions[group] = nil }
        bytes -= oldest.bytes
    }

    /// Empties the cache (the index changed: every answer may have).
    func clear() {
        lock.withLock { exact = [:]; byOptions = [:]; bytes = 0 }
    }
}
