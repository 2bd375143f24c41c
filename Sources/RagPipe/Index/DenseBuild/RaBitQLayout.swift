import CKernels

/// The 1-bit sections of a rabitq build (`RBQP`, `RBQ1`; docs/FORMAT.md), beside the sq8 lists
/// `IVFListLayout` wrote: every row's residual to its list's stored (half) centroid, rotated,
/// as sign bits in its list's blocks of 8, and its factor ‖r‖ / ⟨x̄, R r̂⟩.
enum RaBitQLayout {
    static func build(vectors: BuildVectors, training: IVFTraining.Result, lists: IVFCodes<SQ8Codec>,
                      seed: UInt64) throws -> (IVFRaBitQCodes, [(IndexFormat.SectionKind, OwnedBytes)]) {
        let d = vectors.dimension, nlist = lists.nlist
        let rotation = RaBitQRotation(seed: seed, rounds: RaBitQRotation.defaultRounds, dimension: d)
        let padded = rotation.padded, words = padded / 64
        var offsets = [Int](repeating: 0, count: nlist)
        var total = 0
        for (l, list) in lists.lists.enumerated() {
            offsets[l] = total
            total += rotation.listBytes(list.count)
        }
        let section = OwnedBytes(count: total)     // zeroed: unset bits and the padding codes
        var centroid = [Float](repeating: 0, count: d)
        var residual = [Float](repeating: 0, count: d), rotated = [Float](repeating: 0, count: padded)
        // Rows ascending within each list, as `IVFListLayout` placed them (and their sq8 codes).
        var slot = [Int](repeating: 0, count: nlist)
        try vectors.forEachChunk { rows, chunk in
            for row in rows {
                let l = Int(training.labels[row]), e = slot[l]
                slot[l] += 1
                training.halfCentroids.withUnsafeBufferPointer { rp_f16_to_f32($0.baseAddress! + l * d, &centroid, d) }
                let x = chunk.baseAddress! + (row - rows.lowerBound) * d
                var norm2: Double = 0
                for j in 0..<d {
                    residual[j] = x[j] - centroid[j]
                    norm2 += Double(residual[j]) * Double(residual[j])
                }
                rotation.signs.withUnsafeBufferPointer { rp_rbq_rotate($0.baseAddress!, rotation.rounds, residual, d, padded, &rotated) }
                let bits = (section.base + offsets[l]).assumingMemoryBound(to: UInt64.self) + (e / 8) * words * 8 + e % 8
                var absolute: Double = 0
                for j in 0..<padded {
                    absolute += Double(abs(rotated[j]))
                    if rotated[j] > 0 { bits[(j / 64) * 8] |= 1 << UInt64(j % 64) }
                }
                let norm = norm2.squareRoot()
                // ⟨x̄, r̂⟩ = Σ|r'_j| / (√D ‖r‖); a zero residual (the row is its centroid) has factor 0.
                let xdot = norm > 0 ? absolute / (Double(padded).squareRoot() * norm) : 1
                let factor = norm > 0 && xdot > 0 ? Float(norm / xdot) : 0
                let factors = (section.base + offsets[l] + rotation.factorOffset(lists.lists[l].count)).assumingMemoryBound(to: Float.self)
                factors[e] = factor
            }
        }
        var bits: [UnsafePointer<UInt64>] = [], factors: [UnsafePointer<Float>] = []
        for (l, list) in lists.lists.enumerated() {
            bits.append(UnsafePointer((section.base + offsets[l]).assumingMemoryBound(to: UInt64.self)))
            factors.append(UnsafePointer((section.base + offsets[l] + rotation.factorOffset(list.count)).assumingMemoryBound(to: Float.self)))
        }
        let codes = IVFRaBitQCodes(lists: lists, rotation: rotation, bits: bits, factors: factors)
        return (codes, [(.rabitqParameters, OwnedBytes(rotation.bytes())), (.rabitqCodes, section)])
    }
}
