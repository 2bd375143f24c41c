import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import CKernels

/// How vectors are stored for search: full fp32, IEEE half (2 bytes a component), or SQ8 (one
/// byte a component, per-dimension min/max scalar quantization).
public enum VectorCoding: String, CaseIterable, Sendable {
    case fp32, fp16, sq8

    public var bytesPerComponent: Int {
        switch self {
        case .fp32: return 4
        case .fp16: return 2
        case .sq8: return 1
        }
    }

    /// The section that holds row-ordered codes of a flat index.
    var flatSection: IndexFormat.SectionKind {
        switch self {
        case .fp32: return .vectorsF32
        case .fp16: return .vectorsF16
        case .sq8: return .vectorsSQ8
        }
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
        var lo = [Float](repeating: .infinity, count: d), hi = [Float](repeating: -.infinity, count: d)
        let n = vectors.count / d
        for i in 0..<n {
            for j in 0..<d {
                let x = vectors[i * d + j]
                lo[j] = min(lo[j], x); hi[j] = max(hi[j], x)
            }
        }
        if n == 0 { lo = [Float](repeating: 0, count: d); hi = lo }
        return SQ8Quantizer(minimum: lo, step: (0..<d).map { (hi[$0] - lo[$0]) / 255 })
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

/// A query prepared for one coding: for SQ8, integer weights so that a code's score is
/// `offset + scale · Σ weights[j]·code[j]` (exact 32-bit integer sums in the kernel).
struct PreparedQuery {
    var values: [Float]
    var weights: [Int16] = []
    var offset: Float = 0
    var scale: Float = 1

    init(_ q: [Float], coding: VectorCoding, quantizer: SQ8Quantizer?) {
        values = q
        guard coding == .sq8, let quantizer else { return }
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
        weights = w.map { w in
            let x = (w * s).rounded()
            return x.isFinite ? Int16(max(-32_767, min(32_767, x))) : 0
        }
        self.offset = Float(offset)
        self.scale = 1 / s
    }
}

/// The kernels over a run of `count` consecutive codes, one score per code.
enum CodeScanner {
    static func scores(_ query: PreparedQuery, coding: VectorCoding, codes: UnsafeRawPointer, count: Int, dimension: Int,
                       into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Int32>) {
        switch coding {
        case .fp32:
            let base = codes.assumingMemoryBound(to: Float.self)
            query.values.withUnsafeBufferPointer { q in
                for i in 0..<count { out[i] = VectorMath.dot(base + i * dimension, q.baseAddress!, dimension) }
            }
        case .fp16:
            query.values.withUnsafeBufferPointer { q in
                rp_f16_scores(q.baseAddress!, codes.assumingMemoryBound(to: UInt16.self), count, dimension, out)
            }
        case .sq8:
            query.weights.withUnsafeBufferPointer { w in
                rp_sq8_scores(w.baseAddress!, codes.assumingMemoryBound(to: UInt8.self), count, dimension, scratch)
            }
            let offset = query.offset, scale = query.scale
            for i in 0..<count { out[i] = offset + scale * Float(scratch[i]) }
        }
    }

    /// Writes the codes of `count` rows of fp32 `vectors` to `out` (count × d × bytesPerComponent bytes).
    static func encode(_ vectors: UnsafePointer<Float>, count: Int, dimension d: Int, coding: VectorCoding,
                       quantizer: SQ8Quantizer?, into out: UnsafeMutableRawPointer) {
        switch coding {
        case .fp32: out.copyMemory(from: vectors, byteCount: count * d * 4)
        case .fp16: rp_f32_to_f16(vectors, out.assumingMemoryBound(to: UInt16.self), count * d)
        case .sq8:
            let codes = out.assumingMemoryBound(to: UInt8.self)
            for i in 0..<count { quantizer!.encode(vectors + i * d, into: codes + i * d) }
        }
    }

    /// The fp32 vector a code stands for.
    static func decode(_ code: UnsafeRawPointer, dimension d: Int, coding: VectorCoding, quantizer: SQ8Quantizer?) -> [Float] {
        [Float](unsafeUninitializedCapacity: d) { buffer, n in
            switch coding {
            case .fp32: UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: code, byteCount: 4 * d)
            case .fp16: rp_f16_to_f32(code.assumingMemoryBound(to: UInt16.self), buffer.baseAddress!, d)
            case .sq8: quantizer!.decode(code.assumingMemoryBound(to: UInt8.self), into: buffer.baseAddress!)
            }
            n = d
        }
    }
}
