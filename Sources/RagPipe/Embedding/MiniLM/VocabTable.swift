import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// WordPiece vocabulary: piece bytes → id, with open addressing over one byte pool so a lookup
/// of a byte slice allocates nothing. Continuation pieces are stored with their `##` prefix and
/// looked up by hashing the prefix first.
struct VocabTable: Sendable {
    private var pool: [UInt8] = []
    private var slots: [Int32]            // -1 empty, else entry index
    private var entryStart: [Int32] = []
    private var entryLength: [Int32] = []
    private var entryID: [Int32] = []
    private let mask: Int

    init(pieces: [[UInt8]]) {
        var size = 16
        while size < pieces.count * 2 { size <<= 1 }
        mask = size - 1
        slots = [Int32](repeating: -1, count: size)
        for (id, piece) in pieces.enumerated() {
            if lookup(piece[...], continuation: false) != nil { continue }   // keep the first id of duplicates
            let entry = Int32(entryID.count)
            entryStart.append(Int32(pool.count)); entryLength.append(Int32(piece.count)); entryID.append(Int32(id))
            pool.append(contentsOf: piece)
            var slot = Int(Self.hash(piece[...], continuation: false) & UInt64(mask))
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = entry
        }
    }

    var count: Int { entryID.count }

    @inline(__always)
    static func hash(_ bytes: ArraySlice<UInt8>, continuation: Bool) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        if continuation {
            h = (h ^ 0x23) &* 0x100_0000_01B3
            h = (h ^ 0x23) &* 0x100_0000_01B3
        }
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return StableHash.mix(h)
    }

    /// The id of `bytes` (with `##` before it when `continuation`), if it is a piece.
    func lookup(_ bytes: ArraySlice<UInt8>, continuation: Bool) -> Int32? {
        let extra = continuation ? 2 : 0
        var slot = Int(Self.hash(bytes, continuation: continuation) & UInt64(mask))
        while true {
            let entry = slots[slot]
            if entry < 0 { return nil }
            let e = Int(entry)
            if Int(entryLength[e]) == bytes.count + extra {
                let start = Int(entryStart[e])
                var equal = true
                if continuation { equal = pool[start] == 0x23 && pool[start + 1] == 0x23 }
                if equal {
                    var k = start + extra
                    for b in bytes { if pool[k] != b { equal = false; break }; k += 1 }
                }
                if equal { return entryID[e] }
            }
            slot = (slot + 1) & mask
        }
    }
}
