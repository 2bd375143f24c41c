import RagPipeSupport
import CKernels

/// One byte a component (`VSQ8`), per-dimension min/max scalar quantization (`SQ8P`), scored
/// in integers: a quarter of fp32's bytes.
package struct SQ8Codec: VectorCodec {
    package static let coding = VectorCoding.sq8
    package static let bytesPerComponent = 1
    package static let flatSection = IndexFormat.SectionKind.vectorsSQ8
    package let quantizer: SQ8Quantizer
    package var dimension: Int { quantizer.dimension }

    package init(quantizer: SQ8Quantizer) { self.quantizer = quantizer }

    package static func train(_ vectors: UnsafeBufferPointer<Float>, dimension: Int) -> SQ8Codec {
        SQ8Codec(quantizer: SQ8Quantizer.train(vectors, dimension: dimension))
    }

    package static func train(_ vectors: BuildVectors) throws -> SQ8Codec {
        let d = vectors.dimension
        var lo = [Float](repeating: .infinity, count: d), hi = [Float](repeating: -.infinity, count: d)
        try vectors.forEachChunk { _, chunk in
            let part = SQ8Quantizer.range(chunk, dimension: d)
            for j in 0..<d { lo[j] = min(lo[j], part.lo[j]); hi[j] = max(hi[j], part.hi[j]) }
        }
        if vectors.count == 0 { lo = [Float](repeating: 0, count: d); hi = lo }
        return SQ8Codec(quantizer: SQ8Quantizer(minimum: lo, step: (0..<d).map { (hi[$0] - lo[$0]) / 255 }))
    }

    package static func open(dimension d: Int, section: (IndexFormat.SectionKind) -> UnsafeRawBufferPointer?) throws(IndexFileError) -> SQ8Codec {
        guard let raw = section(.sq8Parameters) else { throw .corrupt("missing SQ8P section") }
        guard let quantizer = SQ8Quantizer.parse(raw, dimension: d) else {
            throw .corrupt("SQ8P section is not \(d) finite minimums and \(d) non-negative steps")
        }
        return SQ8Codec(quantizer: quantizer)
    }

    package var parameterSections: [(IndexFormat.SectionKind, [UInt8])] { [(.sq8Parameters, quantizer.bytes())] }

    /// A query as integer weights, so that a code's score is `offset + scale · Σ weights[j]·code[j]`
    /// (exact 32-bit integer sums in the kernel).
    package struct Query {
        var weights: [Int16]
        var offset: Float
        var scale: Float
    }

    package func prepare(_ q: [Float]) -> Query {
        let d = q.count
        var w = [Float](repeating: 0, count: d)
        var offset: Double = 0, largest: Float = 0, total: Float = 0
        for j in 0..<d {
            offset += Double(q[j]) * Double(quantizer.minimum[j])
            w[j] = q[j] * quantizer.step[j]
            largest = max(largest, abs(w[j])); total += abs(w[j])
        }
        // 16-bit weights, bounded so that Σ |weight|·255 stays below 2^31 in the kernel.
        var s: Float = largest > 0 ? 32_767 / largest : 1
        if total > 0 { s = min(s, 2_000_000_000 / 255 / total) }
        let weights = w.map { w in
            let x = (w * s).rounded()
            return x.isFinite ? Int16(max(-32_767, min(32_767, x))) : 0
        }
        return Query(weights: weights, offset: Float(offset), scale: 1 / s)
    }

    package func scores(_ query: Query, codes: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Int32>) {
        query.weights.withUnsafeBufferPointer { w in
            rp_sq8_scores(w.baseAddress!, codes.assumingMemoryBound(to: UInt8.self), count, dimension, scratch)
        }
        let offset = query.offset, scale = query.scale
        for i in 0..<count { out[i] = offset + scale * Float(scratch[i]) }
    }

    package func encode(_ vectors: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        let codes = out.assumingMemoryBound(to: UInt8.self), d = dimension
        for i in 0..<count { quantizer.encode(vectors + i * d, into: codes + i * d) }
    }

    package func decode(_ code: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        quantizer.decode(code.assumingMemoryBound(to: UInt8.self), into: out)
    }
}

/// Per-dimension scalar quantizer: component j is stored as `round((x - minimum[j]) / step[j])`
/// in 0...255 and read back as `minimum[j] + code · step[j]`, so the error is at most step/2.
public struct SQ8Quantizer: Equatable, Sendable {
    public var minimum: [Float]
    public var step: [Float]
    public var dimension: Int { minimum.count }

    public init(minimum: [Float], step: [Float]) {
        precondition(minimum.count == step.count)
        self.minimum = minimum; self.step = step
    }

    /// The range of every dimension over `count` rows of `vectors`.
    public static func train(_ vectors: UnsafeBufferPointer<Float>, dimension d: Int) -> SQ8Quantizer {
        var (lo, hi) = range(vectors, dimension: d)
        if vectors.count / d == 0 { lo = [Float](repeating: 0, count: d); hi = lo }
        return SQ8Quantizer(minimum: lo, step: (0..<d).map { (hi[$0] - lo[$0]) / 255 })
    }

    /// Per-dimension minimum and maximum of the rows (±infinity for none).
    static func range(_ vectors: UnsafeBufferPointer<Float>, dimension d: Int) -> (lo: [Float], hi: [Float]) {
        var lo = [Float](repeating: .infinity, count: d), hi = [Float](repeating: -.infinity, count: d)
        for i in 0..<(vectors.count / d) {
            for j in 0..<d {
                let x = vectors[i * d + j]
                lo[j] = min(lo[j], x); hi[j] = max(hi[j], x)
            }
        }
        return (lo, hi)
    }

    public func encode(_ x: UnsafePointer<Float>, into code: UnsafeMutablePointer<UInt8>) {
        for j in 0..<dimension {
            let q = step[j] > 0 ? ((x[j] - minimum[j]) / step[j]).rounded() : 0
            code[j] = UInt8(max(0, min(255, q)))
        }
    }

    public func decode(_ code: UnsafePointer<UInt8>, into x: UnsafeMutablePointer<Float>) {
        for j in 0..<dimension { x[j] = minimum[j] + Float(code[j]) * step[j] }
    }

    /// Parameters section `SQ8P`: d float32 minimums, then d float32 steps.
    func bytes() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(8 * dimension)
        for v in minimum + step { appendLE(v.bitPattern, to: &out) }
        return out
    }

    package static func parse(_ raw: UnsafeRawBufferPointer, dimension d: Int) -> SQ8Quantizer? {
        guard raw.count == 8 * d else { return nil }
        let values = (0..<(2 * d)).map { Float(bitPattern: raw.u32(at: 4 * $0)) }
        // Stored vectors are unit length, so every component, each minimum and each range lie
        // within [-1, 1]: larger parameters are damage, and would overflow the query's weights.
        guard values[..<d].allSatisfy({ $0 >= -1.001 && $0 <= 1.001 }),
              values[d...].allSatisfy({ $0 >= 0 && $0 <= 2.002 / 255 }) else { return nil }
        return SQ8Quantizer(minimum: Array(values[..<d]), step: Array(values[d...]))
    }
}
