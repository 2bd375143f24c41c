import RagPipeSupport
import RagPipeChunking
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One linear layer's weight `[n × k]` (y = x · Wᵀ), prepared for the chosen library and precision.
final class LinearWeights: @unchecked Sendable {
    let n: Int, k: Int
    private let plain: UnsafePointer<Float>
    private let prepared: OpaquePointer?
    /// The copy `plain` points into, when this layer (or the one it was converted from) made one;
    /// shared so that a converted layer keeps the floats but not the original's packed weights.
    private let owned: OwnedFloats?
    private let library: MatrixLibrary

    final class OwnedFloats: @unchecked Sendable {
        let buffer: UnsafeMutableBufferPointer<Float>
        init(_ values: [Float]) {
            buffer = .allocate(capacity: values.count)
            _ = buffer.initialize(from: values)
        }
        deinit { buffer.deallocate() }
    }

    /// `weight` must outlive this (a mapped safetensors tensor), unless `copying` is used.
    convenience init(_ weight: UnsafePointer<Float>, n: Int, k: Int, library: MatrixLibrary, precision: EncoderPrecision) throws {
        try self.init(weight, owned: nil, n: n, k: k, library: library, precision: precision)
    }

    convenience init(copying weight: [Float], n: Int, k: Int, library: MatrixLibrary, precision: EncoderPrecision) throws {
        let copy = OwnedFloats(weight)
        try self.init(UnsafePointer(copy.buffer.baseAddress!), owned: copy, n: n, k: k, library: library, precision: precision)
    }

    private convenience init(_ weight: UnsafePointer<Float>, owned: OwnedFloats?, n: Int, k: Int,
                             library: MatrixLibrary, precision: EncoderPrecision) throws {
        try self.init(weight, owned: owned, n: n, k: k, library: library, arithmetic: precision.kernel)
    }

    private init(_ weight: UnsafePointer<Float>, owned: OwnedFloats?, n: Int, k: Int,
                 library: MatrixLibrary, arithmetic: rp_precision, smoothing: [Float]? = nil) throws {
        self.n = n; self.k = k; plain = weight; self.owned = owned; self.library = library
        switch library {
        case .blas:
            precondition(arithmetic == RP_PRECISION_FP32, "BLAS runs fp32 only")
            prepared = nil
        case .onednn:
            var error = [CChar](repeating: 0, count: 256)
            guard let linear = rp_linear_create(arithmetic, weight, n, k, smoothing, &error, error.count) else {
                throw RagPipeError.unavailable(cString(error))
            }
            prepared = linear
        }
    }

    /// The same weights in another precision, without smoothing.
    func converted(to precision: EncoderPrecision) throws -> LinearWeights {
        try LinearWeights(plain, owned: owned, n: n, k: k, library: library, precision: precision)
    }

    /// The same weights in int8, smoothed for inputs whose column maxima are `inputMaxima`; with
    /// `oneSided`, inputs are uint8 with a zero point per row (for inputs that are mostly ≥ 0).
    func quantized(inputMaxima: [Float], oneSided: Bool = false) throws -> LinearWeights {
        var weightMaxima = [Float](repeating: 0, count: k)
        for r in 0..<n { for j in 0..<k { weightMaxima[j] = max(weightMaxima[j], abs(plain[r * k + j])) } }
        let smoothing = (0..<k).map { j -> Float in
            guard inputMaxima[j] > 0, weightMaxima[j] > 0 else { return 1 }
            // α = ½ measured best on the golden texts (0.3: 0.985, 0.65: 0.993, 0.8: 0.942).
            return min(max((inputMaxima[j] / weightMaxima[j]).squareRoot(), 1e-2), 1e2)
        }
        return try LinearWeights(plain, owned: owned, n: n, k: k, library: library,
                                 arithmetic: oneSided ? RP_PRECISION_UINT8 : RP_PRECISION_INT8, smoothing: smoothing)
    }

    deinit {
        if let prepared { rp_linear_destroy(prepared) }
    }

    /// `y[m × n] = x[m × k] · Wᵀ`, rows contiguous.
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>) {
        if let prepared {
            // Shapes were checked when the layer was made, and the primitive was created once for
            // them; what is left to fail is an allocation, where Swift itself would trap too.
            let status = rp_linear_apply(prepared, x, m, k, y, n)
            precondition(status == 0, "oneDNN matmul failed on \(m) × \(k) · \(k) × \(n)")
        } else {
            BLAS.gemm(m: m, n: n, k: k, a: x, lda: k, b: plain, ldb: k, transposeB: true, c: y, ldc: n)
        }
    }
}

