import RagPipeSupport
import RagPipeRecords

extension IndexReader {
    /// The records of `rows` (vector rows, any order, repeats allowed), in that order. Each text
    /// block is inflated once however many of the rows it holds: the hits of one query often
    /// share blocks, and an inflate costs far more than parsing one record.
    public func records(_ rows: [Int]) throws -> [ChunkRecord] {
        var inflated: [Int: [UInt8]] = [:]
        return try rows.map { row in
            guard row >= 0 && row < count else {
                throw RagPipeError.corruptIndex(path: path, reason: "record \(row) out of range 0..<\(count)")
            }
            let b = blockHolding(row)
            let data: [UInt8]
            if let cached = inflated[b] { data = cached } else { data = try block(b); inflated[b] = data }
            return try record(row - blocks[b].firstRecord, of: b, in: data)
        }
    }

    /// The text block that holds record `row` (0 ≤ row < count).
    func blockHolding(_ row: Int) -> Int {
        var lo = 0, hi = blocks.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if blocks[mid].firstRecord <= row { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}
