import RagPipeSupport
import RagPipeChunking
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The arithmetic of the encoder's linear layers; in the reduced precisions attention's products
/// are bf16 too, while softmax, GELU and layer norms stay float32. Recorded in streams and indexes
/// (the model id), so that queries are embedded the same way as the documents they search.
public enum EncoderPrecision: String, Sendable, CaseIterable {
    case fp32, bf16
    /// int8 weights in every linear layer, inputs int8 per token (uint8 with a zero point after
    /// GELU), smoothed as `BertEncoder.quantizeLayers` says; attention in bf16.
    case int8

    /// Bumped whenever this precision's arithmetic changes what vectors come out (quantization
    /// scheme, calibration texts, which layers run in it): embedding caches are filed by it.
    /// fp32 is the reference sentence-transformers defines, so it has none.
    public var arithmeticRevision: Int? {
        switch self {
        case .fp32: nil
        case .bf16: 1
        case .int8: 1
        }
    }

    var kernel: rp_precision {
        switch self {
        case .fp32: RP_PRECISION_FP32
        case .bf16: RP_PRECISION_BF16
        case .int8: RP_PRECISION_INT8
        }
    }
}

/// What an encoder is loaded for, which decides where fp32 products run.
public enum EncoderUse: Sendable {
    /// Many texts (embed, evaluate): oneDNN, whose weights are repacked once at load.
    case batch
    /// A few short queries per process (query): BLAS for fp32, which uses the mapped weights as
    /// they are (oneDNN's repacking would add ~30 ms to every query process); oneDNN otherwise.
    case interactive
}

/// Where the linear layers' matrix products run.
public enum MatrixLibrary: String, Sendable, CaseIterable {
    /// oneDNN's matmul, JIT-compiled for the CPU found at run time (fp32, bf16, int8).
    case onednn
    /// The system BLAS's `cblas_sgemm` (fp32 only).
    case blas

    /// `RAGPIPE_MATRIX_LIBRARY=blas|onednn` pins one for comparisons; by default oneDNN when it
    /// loads, else BLAS.
    static func preferred() throws -> MatrixLibrary? {
        guard let value = getenv("RAGPIPE_MATRIX_LIBRARY").map({ String(cString: $0) }) else { return nil }
        guard let library = MatrixLibrary(rawValue: value) else {
            throw RagPipeError.usage("RAGPIPE_MATRIX_LIBRARY=\(value): use blas or onednn")
        }
        return library
    }
}

/// What the encoder's products run on, for benchmarks and `--help`-level diagnostics.
public enum EncoderKernels {
    /// oneDNN's instruction set after loading it ("avx512_core_bf16", …), or why it did not load.
    public static var oneDNNISA: String {
        var error = [CChar](repeating: 0, count: 256)
        return rp_dnnl_load(&error, error.count) == 0 ? String(cString: rp_dnnl_isa()) : "unavailable: " + cString(error)
    }

    /// The kernels OpenBLAS runs ("Cooperlake", "Haswell", …).
    public static var blasCore: String { BLAS.coreName ?? "unknown" }
}
