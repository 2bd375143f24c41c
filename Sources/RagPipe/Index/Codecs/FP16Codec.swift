import RagPipeSupport
import CKernels

/// IEEE binary16 codes (`VF16`), rounded to nearest even: half the bytes, scores within ~1e-3.
package struct FP16Codec: UnparameterizedCodec {
    package static let coding = VectorCoding.fp16
    package static let bytesPerComponent = 2
    package static let flatSection = IndexFormat.SectionKind.vectorsF16
    package let dimension: Int

    package init(dimension: Int) { self.dimension = dimension }

    package func scores(_ query: [Float], codes: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Int32>) {
        query.withUnsafeBufferPointer { q in
            rp_f16_scores(q.baseAddress!, codes.assumingMemoryBound(to: UInt16.self), count, dimension, out)
        }
    }

    package func encode(_ vectors: UnsafePointer<Float>, count: Int, into out: UnsafeMutableRawPointer) {
        rp_f32_to_f16(vectors, out.assumingMemoryBound(to: UInt16.self), count * dimension)
    }

    package func decode(_ code: UnsafeRawPointer, into out: UnsafeMutablePointer<Float>) {
        rp_f16_to_f32(code.assumingMemoryBound(to: UInt16.self), out, dimension)
    }
}
