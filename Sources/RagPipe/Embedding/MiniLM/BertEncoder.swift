import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
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
              c.maxPositions > 0, c.vocabSize > 0, c.typeVocabSize > 0, c.layerNormEps.isFinite, c.layerNormEps > 0 else {
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
    var layers: [Layer]

    /// `library` nil picks oneDNN when it loads, else BLAS; reduced precisions need oneDNN.
    /// int8 measures its layers' inputs on `calibration` (token id sequences) first.
    public init(config: BertConfig, weights: SafetensorsFile, precision: EncoderPrecision = .fp32,
                library: MatrixLibrary? = nil, use: EncoderUse = .batch, calibration: [[Int32]] = []) throws {
        self.config = config
        self.weights = weights
        self.precision = precision
        let chosen: MatrixLibrary
        if let library = try library ?? MatrixLibrary.preferred() {
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
