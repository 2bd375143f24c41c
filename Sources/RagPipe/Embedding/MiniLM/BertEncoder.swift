import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shape of a BERT encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var vocabSize: Int
    public var typeVocabSize: Int
    public var layerNormEps: Float

    public init(configFile: String) throws {
        let bytes = try readFileBytes(configFile)
        var c = BertConfig(hiddenSize: 0, layers: 0, heads: 0, intermediateSize: 0, maxPositions: 0, vocabSize: 0,
                           typeVocabSize: 2, layerNormEps: 1e-12)
        var activation = "gelu", modelType = "bert", positions = "absolute"
        do {
            try bytes.withUnsafeBytes { raw in
                var s = JSONScanner(raw)
                try s.beginObject()
                while let key = try s.nextKey() {
                    if key.equals("hidden_size") { c.hiddenSize = try s.readInt() }
                    else if key.equals("num_hidden_layers") { c.layers = try s.readInt() }
                    else if key.equals("num_attention_heads") { c.heads = try s.readInt() }
                    else if key.equals("intermediate_size") { c.intermediateSize = try s.readInt() }
                    else if key.equals("max_position_embeddings") { c.maxPositions = try s.readInt() }
                    else if key.equals("vocab_size") { c.vocabSize = try s.readInt() }
                    else if key.equals("type_vocab_size") { c.typeVocabSize = try s.readInt() }
                    else if key.equals("layer_norm_eps") { c.layerNormEps = Float(try s.readDouble()) }
                    else if key.equals("hidden_act") { activation = try s.readString() }
                    else if key.equals("model_type") { modelType = try s.readString() }
                    else if key.equals("position_embedding_type") { positions = try s.readString() }
                    else { try s.skipValue() }
                }
            }
        } catch let error as JSONScanError {
            throw RagPipeError.unavailable("\(configFile): \(error)")
        }
        guard c.hiddenSize > 0, c.layers > 0, c.heads > 0, c.hiddenSize % c.heads == 0, c.intermediateSize > 0,
              c.maxPositions > 0, c.vocabSize > 0, c.typeVocabSize > 0 else {
            throw RagPipeError.unavailable("\(configFile): incomplete BERT configuration")
        }
        guard activation == "gelu" else { throw RagPipeError.unavailable("\(configFile): hidden_act '\(activation)' is not supported (gelu only)") }
        guard modelType == "bert" || modelType == "" else { throw RagPipeError.unavailable("\(configFile): model_type '\(modelType)' is not a BERT model") }
        guard positions == "absolute" else { throw RagPipeError.unavailable("\(configFile): position_embedding_type '\(positions)' is not supported") }
        self = c
    }

    init(hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int, maxPositions: Int, vocabSize: Int,
         typeVocabSize: Int, layerNormEps: Float) {
        self.hiddenSize = hiddenSize; self.layers = layers; self.heads = heads; self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions; self.vocabSize = vocabSize; self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
    }
}

/// The arithmetic of the encoder's linear layers (attention, softmax, GELU and layer norms stay
/// float32 in every precision). Recorded in streams and indexes, so that queries are embedded the
/// same way as the documents they search.
public enum EncoderPrecision: String, Sendable, CaseIterable {
    case fp32, bf16
    /// int8 in the attention projections and the first feed-forward layer (inputs smoothed, see
    /// `BertEncoder.quantizeLayers`), bf16 in the second feed-forward layer.
    case int8

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
    static func preferred() -> MatrixLibrary? {
        guard let value = getenv("RAGPIPE_MATRIX_LIBRARY") else { return nil }
        return MatrixLibrary(rawValue: String(cString: value))
    }
}

/// One linear layer's weight `[n × k]` (y = x · Wᵀ), prepared for the chosen library and precision.
final class LinearWeights: @unchecked Sendable {
    let n: Int, k: Int
    private let plain: UnsafePointer<Float>
    private let prepared: OpaquePointer?
    private let owned: UnsafeMutableBufferPointer<Float>?
    private let library: MatrixLibrary
    /// Keeps a copied weight alive for `quantized` layers made from this one.
    private var source: LinearWeights?

    /// `weight` must outlive this (a mapped safetensors tensor), unless `copying` is used.
    convenience init(_ weight: UnsafePointer<Float>, n: Int, k: Int, library: MatrixLibrary, precision: EncoderPrecision) throws {
        try self.init(weight, owned: nil, n: n, k: k, library: library, precision: precision)
    }

    convenience init(copying weight: [Float], n: Int, k: Int, library: MatrixLibrary, precision: EncoderPrecision) throws {
        let copy = UnsafeMutableBufferPointer<Float>.allocate(capacity: weight.count)
        _ = copy.initialize(from: weight)
        try self.init(UnsafePointer(copy.baseAddress!), owned: copy, n: n, k: k, library: library, precision: precision)
    }

    private init(_ weight: UnsafePointer<Float>, owned: UnsafeMutableBufferPointer<Float>?, n: Int, k: Int,
                 library: MatrixLibrary, precision: EncoderPrecision, smoothing: [Float]? = nil) throws {
        self.n = n; self.k = k; plain = weight; self.owned = owned; self.library = library
        switch library {
        case .blas:
            precondition(precision == .fp32, "BLAS runs fp32 only")
            prepared = nil
        case .onednn:
            var error = [CChar](repeating: 0, count: 256)
            guard let linear = rp_linear_create(precision.kernel, weight, n, k, smoothing, &error, error.count) else {
                throw RagPipeError.unavailable(cString(error))
            }
            prepared = linear
        }
    }

    /// The same weights in int8, smoothed for inputs whose column maxima are `inputMaxima`.
    /// The same weights in another precision, without smoothing.
    func converted(to precision: EncoderPrecision) throws -> LinearWeights {
        let q = try LinearWeights(plain, owned: nil, n: n, k: k, library: library, precision: precision)
        q.source = self
        return q
    }

    func quantized(inputMaxima: [Float]) throws -> LinearWeights {
        var weightMaxima = [Float](repeating: 0, count: k)
        for r in 0..<n { for j in 0..<k { weightMaxima[j] = max(weightMaxima[j], abs(plain[r * k + j])) } }
        let smoothing = (0..<k).map { j -> Float in
            guard inputMaxima[j] > 0, weightMaxima[j] > 0 else { return 1 }
            // α = ½ measured best on the golden texts (0.3: 0.985, 0.65: 0.993, 0.8: 0.942).
            return min(max((inputMaxima[j] / weightMaxima[j]).squareRoot(), 1e-2), 1e2)
        }
        let q = try LinearWeights(plain, owned: nil, n: n, k: k, library: library, precision: .int8, smoothing: smoothing)
        q.source = self
        return q
    }

    deinit {
        if let prepared { rp_linear_destroy(prepared) }
        owned?.deallocate()
    }

    /// `y[m × n] = x[m × k] · Wᵀ`, rows contiguous.
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>) {
        if let prepared {
            let status = rp_linear_apply(prepared, x, m, k, y, n)
            precondition(status == 0, "oneDNN matmul failed on \(m) × \(k) · \(k) × \(n)")
        } else {
            BLAS.gemm(m: m, n: n, k: k, a: x, lda: k, b: plain, ldb: k, transposeB: true, c: y, ldc: n)
        }
    }
}

/// A BERT encoder with mean pooling, the architecture of sentence-transformers' MiniLM models.
///
/// Sequences are not padded: each runs through the layers at its own length, so no work is spent
/// on padding and a text's vector does not depend on its batch, to the last bit.
public final class BertEncoder: @unchecked Sendable {
    public let config: BertConfig
    public let precision: EncoderPrecision
    public let library: MatrixLibrary
    let weights: SafetensorsFile

    struct Layer {
        var qkvBias: [Float]                // [3H]
        var qkv: LinearWeights              // [3H × H]: query, key, value rows stacked
        var out: LinearWeights, ffnIn: LinearWeights, ffnOut: LinearWeights
        var outBias: UnsafeBufferPointer<Float>
        var norm1Gain: UnsafeBufferPointer<Float>, norm1Bias: UnsafeBufferPointer<Float>
        var ffnInBias: UnsafeBufferPointer<Float>
        var ffnOutBias: UnsafeBufferPointer<Float>
        var norm2Gain: UnsafeBufferPointer<Float>, norm2Bias: UnsafeBufferPointer<Float>
    }

    let wordEmbeddings: UnsafeBufferPointer<Float>
    let positionEmbeddings: UnsafeBufferPointer<Float>
    let tokenTypeEmbeddings: UnsafeBufferPointer<Float>
    let embeddingNormGain: UnsafeBufferPointer<Float>
    let embeddingNormBias: UnsafeBufferPointer<Float>
    private(set) var layers: [Layer]

    /// `library` nil picks oneDNN when it loads, else BLAS; reduced precisions need oneDNN.
    /// int8 measures its layers' inputs on `calibration` (token id sequences) first.
    public init(config: BertConfig, weights: SafetensorsFile, precision: EncoderPrecision = .fp32,
                library: MatrixLibrary? = nil, use: EncoderUse = .batch, calibration: [[Int32]] = []) throws {
        self.config = config
        self.weights = weights
        self.precision = precision
        let chosen: MatrixLibrary
        if let library = library ?? MatrixLibrary.preferred() {
            chosen = library
        } else if use == .interactive && precision == .fp32, (try? BLAS.ensureLoaded()) != nil {
            chosen = .blas
        } else {
            var error = [CChar](repeating: 0, count: 256)
            chosen = rp_dnnl_load(&error, error.count) == 0 ? .onednn : .blas
            if chosen == .blas && precision != .fp32 {
                throw RagPipeError.unavailable("--precision \(precision.rawValue) needs oneDNN: \(cString(error))")
            }
        }
        if chosen == .blas && precision != .fp32 {
            throw RagPipeError.unavailable("--precision \(precision.rawValue) needs oneDNN, not BLAS")
        }
        if chosen == .blas { try BLAS.ensureLoaded() }
        self.library = chosen
        let h = config.hiddenSize, i = config.intermediateSize
        // Checkpoints saved from BertForX carry a "bert." prefix.
        let prefix = weights.tensors["embeddings.word_embeddings.weight"] == nil
            && weights.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func t(_ name: String, _ shape: [Int]) throws -> UnsafeBufferPointer<Float> {
            try weights.floats(prefix + name, shape: shape)
        }
        // int8 layers are made from fp32 ones after a calibration pass has measured their inputs.
        let firstPrecision: EncoderPrecision = precision == .int8 ? .fp32 : precision
        func linear(_ w: UnsafeBufferPointer<Float>, _ n: Int, _ k: Int) throws -> LinearWeights {
            try LinearWeights(w.baseAddress!, n: n, k: k, library: chosen, precision: firstPrecision)
        }
        wordEmbeddings = try t("embeddings.word_embeddings.weight", [config.vocabSize, h])
        positionEmbeddings = try t("embeddings.position_embeddings.weight", [config.maxPositions, h])
        tokenTypeEmbeddings = try t("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        embeddingNormGain = try t("embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try t("embeddings.LayerNorm.bias", [h])
        var layers: [Layer] = []
        for l in 0..<config.layers {
            let p = "encoder.layer.\(l)."
            var qkvWeight: [Float] = [], qkvBias: [Float] = []
            for part in ["query", "key", "value"] {
                qkvWeight.append(contentsOf: try t(p + "attention.self.\(part).weight", [h, h]))
                qkvBias.append(contentsOf: try t(p + "attention.self.\(part).bias", [h]))
            }
            layers.append(Layer(
                qkvBias: qkvBias,
                qkv: try LinearWeights(copying: qkvWeight, n: 3 * h, k: h, library: chosen, precision: firstPrecision),
                out: try linear(try t(p + "attention.output.dense.weight", [h, h]), h, h),
                ffnIn: try linear(try t(p + "intermediate.dense.weight", [i, h]), i, h),
                ffnOut: try linear(try t(p + "output.dense.weight", [h, i]), h, i),
                outBias: try t(p + "attention.output.dense.bias", [h]),
                norm1Gain: try t(p + "attention.output.LayerNorm.weight", [h]),
                norm1Bias: try t(p + "attention.output.LayerNorm.bias", [h]),
                ffnInBias: try t(p + "intermediate.dense.bias", [i]),
                ffnOutBias: try t(p + "output.dense.bias", [h]),
                norm2Gain: try t(p + "output.LayerNorm.weight", [h]),
                norm2Bias: try t(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
        if precision == .int8 { try quantizeLayers(calibration: calibration) }
    }

    /// Replaces the fp32 layers by int8 ones whose input columns are smoothed by
    /// `s_j = √(max|x_j| / max|W_j|)` (SmoothQuant with α = ½), the input maxima measured by
    /// running `calibration` through the fp32 encoder. Without smoothing, the few hidden
    /// dimensions BERT keeps large would set every row's int8 step (golden texts: cosine 0.986).
    private func quantizeLayers(calibration: [[Int32]]) throws {
        let probe = ActivationProbe(layers: layers.count)
        let longest = calibration.map(\.count).max() ?? 0
        if longest > 0 {
            let scratch = Scratch(tokens: longest, config: config)
            scratch.probe = probe
            var sink = [Float](repeating: 0, count: config.hiddenSize)
            for ids in calibration { sink.withUnsafeMutableBufferPointer { forward(ids, scratch: scratch, into: $0) } }
        }
        for (l, layer) in layers.enumerated() {
            var quantized = layer
            quantized.qkv = try layer.qkv.quantized(inputMaxima: probe.maxima[l][.qkv])
            quantized.out = try layer.out.quantized(inputMaxima: probe.maxima[l][.out])
            quantized.ffnIn = try layer.ffnIn.quantized(inputMaxima: probe.maxima[l][.ffnIn])
            // GELU's outputs (heavy-tailed, one-sided) lose too much in int8 even smoothed:
            // golden texts' cosine to fp32 0.9936 with it, 0.9982 with this layer in bf16.
            quantized.ffnOut = try layer.ffnOut.converted(to: .bf16)
            layers[l] = quantized
        }
    }

    /// What runs the encoder, for the tools' stderr: "onednn avx512_core_bf16, bf16" or
    /// "blas Haswell, fp32".
    public var kernelDescription: String {
        switch library {
        case .onednn:
            "oneDNN \(String(cString: rp_dnnl_isa())), \(precision.rawValue) matmul"
                + (precision == .int8 && rp_dnnl_native_int8() == 0 ? " (int8 layers as exact fp32 products: no VNNI)" : "")
                + (precision != .fp32 && rp_dnnl_native_bf16() == 0 ? " (bf16 layers as fp32 of bf16-rounded values: no AVX512_BF16)" : "")
        case .blas: "BLAS \(BLAS.coreName ?? "?"), fp32 sgemm"
        }
    }

    /// Mean-pooled, L2-normalized embeddings of `sequences` (token ids with special tokens,
    /// each at most `maxPositions` long) into consecutive rows of `output`.
    ///
    /// Each sequence runs through the encoder on its own: stacking sequences would let a
    /// vector's last bits depend on its batch through the products' blocking. One at a time, a
    /// text's vector is bit-identical in any batch, which is what lets an embedding cache rebuild
    /// an index byte for byte.
    public func embed(_ sequences: [[Int32]], into output: UnsafeMutableBufferPointer<Float>) {
        let h = config.hiddenSize
        precondition(output.count >= sequences.count * h)
        let longest = sequences.map(\.count).max() ?? 0
        guard longest > 0 else { return }
        let scratch = Scratch(tokens: longest, config: config)
        for (s, ids) in sequences.enumerated() {
            forward(ids, scratch: scratch, into: UnsafeMutableBufferPointer(rebasing: output[(s * h)..<((s + 1) * h)]))
        }
    }

    /// One sequence through the encoder, mean-pooled and normalized into `output` (H floats).
    func forward(_ ids: [Int32], scratch: Scratch, into output: UnsafeMutableBufferPointer<Float>) {
        let h = config.hiddenSize
        let n = ids.count
        for j in 0..<h { output[j] = 0 }
        guard n > 0 else { return }
        let x = scratch.hidden

        // Embeddings: word + position + token type 0, then LayerNorm.
        for (p, id) in ids.enumerated() {
            let row = x + p * h
            let word = wordEmbeddings.baseAddress! + Int(id) * h
            let position = positionEmbeddings.baseAddress! + p * h
            let type = tokenTypeEmbeddings.baseAddress!
            for j in 0..<h { row[j] = word[j] + position[j] + type[j] }
        }
        rp_residual_layer_norm(x, nil, nil, n, h, embeddingNormGain.baseAddress!, embeddingNormBias.baseAddress!,
                               config.layerNormEps)

        for (l, layer) in layers.enumerated() {
            scratch.layer = l
            attention(layer, x: x, length: n, scratch: scratch)
            feedForward(layer, x: x, rows: n, scratch: scratch)
        }

        // Mean pooling over every token, then L2 normalization.
        for t in 0..<n {
            let row = x + t * h
            for j in 0..<h { output[j] += row[j] }
        }
        let inv = 1 / Float(n)
        for j in 0..<h { output[j] *= inv }
        normalize(output)
    }

    /// Buffers for forward passes of sequences up to `tokens` (T) long, reused across a batch.
    final class Scratch {
        let hidden: UnsafeMutablePointer<Float>       // [T × H]
        let qkv: UnsafeMutablePointer<Float>          // [T × 3H]
        let context: UnsafeMutablePointer<Float>      // [T × H]
        let projected: UnsafeMutablePointer<Float>    // [T × H]
        let intermediate: UnsafeMutablePointer<Float> // [T × I]
        let attention: UnsafeMutablePointer<Float>    // the attention kernel's
        /// Set only for calibration: sees every linear layer's input.
        var probe: ActivationProbe?
        var layer = 0

        init(tokens: Int, config: BertConfig) {
            let h = config.hiddenSize
            hidden = .allocate(capacity: tokens * h)
            qkv = .allocate(capacity: tokens * 3 * h)
            context = .allocate(capacity: tokens * h)
            projected = .allocate(capacity: tokens * h)
            intermediate = .allocate(capacity: tokens * config.intermediateSize)
            attention = .allocate(capacity: rp_attention_scratch_floats(tokens, h / config.heads))
        }

        deinit {
            hidden.deallocate(); qkv.deallocate(); context.deallocate(); projected.deallocate()
            intermediate.deallocate(); attention.deallocate()
        }
    }

    func attention(_ layer: Layer, x: UnsafeMutablePointer<Float>, length: Int, scratch: Scratch) {
        let h = config.hiddenSize, heads = config.heads, d = h / heads
        let qkv = scratch.qkv
        scratch.probe?.record(scratch.layer, .qkv, x, rows: length, columns: h)
        layer.qkv.apply(x, rows: length, into: qkv)
        layer.qkvBias.withUnsafeBufferPointer { b in addBias(qkv, rows: length, columns: 3 * h, bias: b.baseAddress!) }
        if precision == .fp32 {
            rp_attention(qkv, length, heads, d, 3 * h, 1 / Float(d).squareRoot(), scratch.context, scratch.attention)
        } else {
            rp_attention_bf16(qkv, length, heads, d, 3 * h, 1 / Float(d).squareRoot(), scratch.context, scratch.attention)
        }
        // Output projection, then residual and LayerNorm in one pass.
        scratch.probe?.record(scratch.layer, .out, scratch.context, rows: length, columns: h)
        layer.out.apply(scratch.context, rows: length, into: scratch.projected)
        rp_residual_layer_norm(x, scratch.projected, layer.outBias.baseAddress!, length, h,
                               layer.norm1Gain.baseAddress!, layer.norm1Bias.baseAddress!, config.layerNormEps)
    }

    func feedForward(_ layer: Layer, x: UnsafeMutablePointer<Float>, rows: Int, scratch: Scratch) {
        let h = config.hiddenSize, i = config.intermediateSize
        scratch.probe?.record(scratch.layer, .ffnIn, x, rows: rows, columns: h)
        layer.ffnIn.apply(x, rows: rows, into: scratch.intermediate)
        rp_bias_gelu(scratch.intermediate, rows, i, layer.ffnInBias.baseAddress!)
        scratch.probe?.record(scratch.layer, .ffnOut, scratch.intermediate, rows: rows, columns: i)
        layer.ffnOut.apply(scratch.intermediate, rows: rows, into: scratch.projected)
        rp_residual_layer_norm(x, scratch.projected, layer.ffnOutBias.baseAddress!, rows, h,
                               layer.norm2Gain.baseAddress!, layer.norm2Bias.baseAddress!, config.layerNormEps)
    }

    func addBias(_ m: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = m + r * columns
            for j in 0..<columns { row[j] += bias[j] }
        }
    }
}

/// The text of a NUL-terminated C buffer.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The largest magnitude per input column of every linear layer, seen over calibration passes.
final class ActivationProbe {
    enum Site: Int, CaseIterable { case qkv, out, ffnIn, ffnOut }
    struct LayerMaxima {
        var columns: [[Float]] = Array(repeating: [], count: Site.allCases.count)
        subscript(site: Site) -> [Float] { columns[site.rawValue] }
    }
    var maxima: [LayerMaxima]

    init(layers: Int) { maxima = Array(repeating: LayerMaxima(), count: layers) }

    func record(_ layer: Int, _ site: Site, _ x: UnsafePointer<Float>, rows: Int, columns: Int) {
        var m = maxima[layer].columns[site.rawValue]
        if m.isEmpty { m = [Float](repeating: 0, count: columns) }
        for r in 0..<rows { for j in 0..<columns { m[j] = max(m[j], abs(x[r * columns + j])) } }
        maxima[layer].columns[site.rawValue] = m
    }
}

/// A one-thread matrix-product microbenchmark at the encoder's own shapes, for reporting how close
/// `embed` runs to what this CPU's matrix units deliver.
public enum MatmulRate {
    /// Billions of multiply-adds × 2 per second of one thread: `rows × 1536 × 384` products
    /// (the first feed-forward layer's shape), repeated for about `seconds`.
    public static func measure(precision: EncoderPrecision, library: MatrixLibrary, rows: Int = 256,
                               seconds: Double = 0.5) throws -> Double {
        let n = 1536, k = 384
        var weight = [Float](repeating: 0, count: n * k)
        var x = [Float](repeating: 0, count: rows * k)
        var y = [Float](repeating: 0, count: rows * n)
        var state: UInt32 = 12345
        func next() -> Float { state = state &* 1_664_525 &+ 1_013_904_223; return Float(state >> 8) / Float(1 << 24) - 0.5 }
        for i in weight.indices { weight[i] = next() }
        for i in x.indices { x[i] = next() }
        let linear = try LinearWeights(copying: weight, n: n, k: k, library: library, precision: precision)
        return x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                linear.apply(xs.baseAddress!, rows: rows, into: ys.baseAddress!)   // warm up (JIT, buffers)
                var repeats = 0
                let start = threadCPUSeconds()
                var elapsed = 0.0
                while elapsed < seconds {
                    for _ in 0..<8 { linear.apply(xs.baseAddress!, rows: rows, into: ys.baseAddress!) }
                    repeats += 8
                    elapsed = threadCPUSeconds() - start
                }
                return 2 * Double(rows * n * k) * Double(repeats) / elapsed / 1e9
            }
        }
    }

    /// CPU time of the calling thread: other processes on the machine do not count against it.
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

extension BertConfig {
    /// Multiply-adds × 2 per token of a sequence of `length` tokens: the linear layers, plus
    /// attention's scores and weighted sum (which grow with the length).
    public func flopsPerToken(length: Int) -> Double {
        let h = Double(hiddenSize), i = Double(intermediateSize)
        let linear = 2 * (3 * h * h + h * h + 2 * h * i)
        let attention = 4 * Double(length) * h
        return Double(layers) * (linear + attention)
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
