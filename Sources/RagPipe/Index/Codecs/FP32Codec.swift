import RagPipeSupport

/// Codes that are the fp32 vectors themselves (`VF32`): exact scores, SIMD dot products.
package struct FP32Codec: UnparameterizedCodec {
    package static let coding = VectorCoding.fp32
    package static let bytesPerComponent = 4
    package static let flatSection = IndexFormat.SectionKind.vectorsF32
    package static let isExact = true
    package let dimension: Int

    package init(dimension: Int) { self.dimension = dimension }

    package func scores(_ query: [Float], codes: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Int32>) {
        let base = codes.assumingMemoryBound(to: Float.self), d = dimension
        query.withUnsafeBufferPointer { q in
            for i in 0..<count { out[i] = VectorMath.dot(base + i * d, q.baseAddress!, d) }
        }
    }

    package func encode(_ vectors: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        out.copyMemory(from: vectors, byteCount: count * codeSize)
    }

    package func decode(_ code: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(out).copyMemory(from: code, byteCount: codeSize)
    }
}
