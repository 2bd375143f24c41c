import CBLAS

/// Row-major single-precision matrix products through the system BLAS (OpenBLAS).
enum BLAS {
    /// `C[m×n] = alpha · A[m×k] · op(B) + beta · C`, all row-major. With `transposeB`, B is stored
    /// as `[n×k]` (a PyTorch `Linear` weight is `[out × in]`, so `X · Wᵀ` is `transposeB`).
    @inline(__always)
    static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0 else { return }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Threads OpenBLAS may use inside one product.
    static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
}
