import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Row-major single-precision matrix products through the system BLAS (OpenBLAS).
///
/// The library is opened with `dlopen` on first use rather than linked, so tools that never
/// run the encoder start without it (linking it costs every process ~2 ms and an idle thread
/// pool). `OPENBLAS_NUM_THREADS=1` is set before loading unless the user set it: ragpipe
/// parallelizes across sequences itself, and a second pool would only compete for the cores.
package enum BLAS {
    typealias Sgemm = @convention(c) (CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                                      Float, UnsafePointer<Float>?, blasint, UnsafePointer<Float>?, blasint,
                                      Float, UnsafeMutablePointer<Float>?, blasint) -> Void

    static let candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblas.dylib", "libcblas.so.3", "libblas.so.3"]

    /// `cblas_sgemm`, or why it could not be loaded.
    static let sgemm: Result<Sgemm, RagPipeError> = {
        setenv("OPENBLAS_NUM_THREADS", "1", 0)
        let userChoseCore = getenv("OPENBLAS_CORETYPE") != nil
        for name in candidates {
            guard var handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
            // OpenBLAS picks its kernels once, when it loads. Builds that do not know the CPU
            // (0.3.21 on recent Intel Xeons) fall back to SSE3 "Prescott" kernels at a quarter of
            // the speed; load it again told which kernels the CPU can run.
            if !userChoseCore, let picked = coreName(handle),
               let better = OpenBLASCore.override(picked: picked, cpu: .current) {
                dlclose(handle)
                setenv("OPENBLAS_CORETYPE", better, 1)
                guard let again = dlopen(name, RTLD_NOW | RTLD_LOCAL) else { continue }
                handle = again
                note = "OpenBLAS picked \(picked) kernels for this CPU; loaded with OPENBLAS_CORETYPE=\(better)"
            }
            guard let symbol = dlsym(handle, "cblas_sgemm") else { continue }
            loadedCore = coreName(handle)
            return .success(unsafeBitCast(symbol, to: Sgemm.self))
        }
        return .failure(.unavailable("no BLAS library with cblas_sgemm found (tried \(candidates.joined(separator: ", "))): "
            + "install OpenBLAS (apt-get install libopenblas-dev)"))
    }()

    nonisolated(unsafe) private static var loadedCore: String?
    /// Set when the kernels OpenBLAS picked were overridden (for the tools' stderr).
    nonisolated(unsafe) static var note: String?

    /// The kernels OpenBLAS runs ("SkylakeX", "Haswell", …), once loaded; nil for another BLAS.
    package static var coreName: String? {
        _ = sgemm
        return loadedCore
    }

    private static func coreName(_ handle: UnsafeMutableRawPointer) -> String? {
        typealias CoreName = @convention(c) () -> UnsafePointer<CChar>?
        guard let symbol = dlsym(handle, "openblas_get_corename"),
              let name = unsafeBitCast(symbol, to: CoreName.self)() else { return nil }
        return String(cString: name)
    }

    /// Throws when no BLAS can be loaded; call before the first `gemm`.
    package static func ensureLoaded() throws { _ = try sgemm.get() }

    /// `C[m×n] = alpha · A[m×k] · op(B) + beta · C`, all row-major. With `transposeB`, B is stored
    /// as `[n×k]` (a PyTorch `Linear` weight is `[out × in]`, so `X · Wᵀ` is `transposeB`).
    @inline(__always)
    package static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0 && n > 0, case .success(let f) = sgemm else { return }
        f(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
          blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `C[m×n] = A[m×d] · B[n×d]ᵀ` (row-major dot products of every row pair): BLAS when it
    /// loads, else SIMD dot products, so callers work without OpenBLAS, only slower.
    package static func dotProducts(m: Int, n: Int, d: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                            into c: UnsafeMutablePointer<Float>, useBLAS: Bool) {
        if useBLAS {
            gemm(m: m, n: n, k: d, a: a, lda: d, b: b, ldb: d, transposeB: true, c: c, ldc: n)
        } else {
            for i in 0..<m { for j in 0..<n { c[i * n + j] = VectorMath.dot(a + i * d, b + j * d, d) } }
        }
    }
}

/// Which OpenBLAS kernels suit a CPU: the fallback to generic kernels that OpenBLAS 0.3.21 makes
/// on CPUs it does not recognise is detected by comparing its pick with the CPU's features.
enum OpenBLASCore {
    struct CPU: Equatable {
        var level: rp_level
        var bf16: Bool
        static var current: CPU { CPU(level: rp_cpu_level(), bf16: rp_cpu_has_avx512_bf16() != 0) }
    }

    /// Kernel families by the widest instruction set they use (OpenBLAS's `corename` strings).
    static let avx512Cores: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids", "Zen4", "Zen5"]
    static let avx2Cores = Set(["Haswell", "Zen", "Zen2", "Zen3", "Excavator"]).union(avx512Cores)

    /// The OPENBLAS_CORETYPE to reload with, or nil when `picked` already uses what the CPU has.
    static func override(picked: String, cpu: CPU) -> String? {
        switch cpu.level {
        case RP_LEVEL_AVX512 where !avx512Cores.contains(picked): cpu.bf16 ? "Cooperlake" : "SkylakeX"
        case RP_LEVEL_AVX2 where !avx2Cores.contains(picked): "Haswell"
        default: nil
        }
    }
}
