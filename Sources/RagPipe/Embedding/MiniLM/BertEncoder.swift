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
    let weights: SafetensorsFile

    struct Layer {
        var qkvWeight: [Float]              // [3H × H]: query, key, value rows stacked
        var qkvBias: [Float]                // [3H]
        var outWeight: UnsafeBufferPointer<Float>, outBias: UnsafeBufferPointer<Float>
        var norm1Gain: UnsafeBufferPointer<Float>, norm1Bias: UnsafeBufferPointer<Float>
        var ffnInWeight: UnsafeBufferPointer<Float>, ffnInBias: UnsafeBufferPointer<Float>
        var ffnOutWeight: UnsafeBufferPointer<Float>, ffnOutBias: UnsafeBufferPointer<Float>
        var norm2Gain: UnsafeBufferPointer<Float>, norm2Bias: UnsafeBufferPointer<Float>
    }

    let wordEmbeddings: UnsafeBufferPointer<Float>
    let positionEmbeddings: UnsafeBufferPointer<Float>
    let tokenTypeEmbeddings: UnsafeBufferPointer<Float>
    let embeddingNormGain: UnsafeBufferPointer<Float>
    let embeddingNormBias: UnsafeBufferPointer<Float>
    let layers: [Layer]

    public init(config: BertConfig, weights: SafetensorsFile) throws {
        self.config = config
        self.weights = weights
        let h = config.hiddenSize, i = config.intermediateSize
        // Checkpoints saved from BertForX carry a "bert." prefix.
        let prefix = weights.tensors["embeddings.word_embeddings.weight"] == nil
            && weights.tensors["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        func t(_ name: String, _ shape: [Int]) throws -> UnsafeBufferPointer<Float> {
            try weights.floats(prefix + name, shape: shape)
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
                qkvWeight: qkvWeight, qkvBias: qkvBias,
                outWeight: try t(p + "attention.output.dense.weight", [h, h]),
                outBias: try t(p + "attention.output.dense.bias", [h]),
                norm1Gain: try t(p + "attention.output.LayerNorm.weight", [h]),
                norm1Bias: try t(p + "attention.output.LayerNorm.bias", [h]),
                ffnInWeight: try t(p + "intermediate.dense.weight", [i, h]),
                ffnInBias: try t(p + "intermediate.dense.bias", [i]),
                ffnOutWeight: try t(p + "output.dense.weight", [h, i]),
                ffnOutBias: try t(p + "output.dense.bias", [h]),
                norm2Gain: try t(p + "output.LayerNorm.weight", [h]),
                norm2Bias: try t(p + "output.LayerNorm.bias", [h])))
        }
        self.layers = layers
    }

    /// Mean-pooled, L2-normalized embeddings of `sequences` (token ids with special tokens,
    /// each at most `maxPositions` long) into consecutive rows of `output`.
    ///
    /// Each sequence runs through the encoder on its own: BLAS kernels take different paths for
    /// different matrix heights, so stacking sequences would make a vector's last bits depend on
    /// its batch. One at a time, a text's vector is bit-identical in any batch, which is what lets
    /// an embedding cache rebuild an index byte for byte.
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
        layerNorm(x, rows: n, gain: embeddingNormGain, bias: embeddingNormBias)

        for layer in layers {
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
        let scores: UnsafeMutablePointer<Float>       // [T × T]

        init(tokens: Int, config: BertConfig) {
            let h = config.hiddenSize
            hidden = .allocate(capacity: tokens * h)
            qkv = .allocate(capacity: tokens * 3 * h)
            context = .allocate(capacity: tokens * h)
            projected = .allocate(capacity: tokens * h)
            intermediate = .allocate(capacity: tokens * config.intermediateSize)
            scores = .allocate(capacity: max(1, tokens * tokens))
        }

        deinit {
            hidden.deallocate(); qkv.deallocate(); context.deallocate(); projected.deallocate()
            intermediate.deallocate(); scores.deallocate()
        }
    }

    func attention(_ layer: Layer, x: UnsafeMutablePointer<Float>, length: Int, scratch: Scratch) {
        let h = config.hiddenSize, heads = config.heads, d = h / heads
        let total = length
        let qkv = scratch.qkv
        layer.qkvWeight.withUnsafeBufferPointer { w in
            BLAS.gemm(m: total, n: 3 * h, k: h, a: x, lda: h, b: w.baseAddress!, ldb: h, transposeB: true, c: qkv, ldc: 3 * h)
        }
        layer.qkvBias.withUnsafeBufferPointer { b in addBias(qkv, rows: total, columns: 3 * h, bias: b.baseAddress!) }
        let scale = 1 / Float(d).squareRoot()
        let scores = scratch.scores
        for head in 0..<heads {
            let q = qkv + head * d, k = qkv + h + head * d, v = qkv + 2 * h + head * d
            BLAS.gemm(m: length, n: length, k: d, alpha: scale, a: q, lda: 3 * h, b: k, ldb: 3 * h,
                      transposeB: true, c: scores, ldc: length)
            softmaxRows(scores, rows: length, columns: length)
            BLAS.gemm(m: length, n: d, k: length, a: scores, lda: length, b: v, ldb: 3 * h,
                      transposeB: false, c: scratch.context + head * d, ldc: h)
        }
        // Output projection, residual, LayerNorm.
        BLAS.gemm(m: total, n: h, k: h, a: scratch.context, lda: h, b: layer.outWeight.baseAddress!, ldb: h,
                  transposeB: true, c: scratch.projected, ldc: h)
        addBiasAndResidual(scratch.projected, residual: x, rows: total, columns: h, bias: layer.outBias.baseAddress!)
        copyRows(from: scratch.projected, to: x, count: total * h)
        layerNorm(x, rows: total, gain: layer.norm1Gain, bias: layer.norm1Bias)
    }

    func feedForward(_ layer: Layer, x: UnsafeMutablePointer<Float>, rows: Int, scratch: Scratch) {
        let h = config.hiddenSize, i = config.intermediateSize
        BLAS.gemm(m: rows, n: i, k: h, a: x, lda: h, b: layer.ffnInWeight.baseAddress!, ldb: h,
                  transposeB: true, c: scratch.intermediate, ldc: i)
        biasGELU(scratch.intermediate, rows: rows, columns: i, bias: layer.ffnInBias.baseAddress!)
        BLAS.gemm(m: rows, n: h, k: i, a: scratch.intermediate, lda: i, b: layer.ffnOutWeight.baseAddress!, ldb: i,
                  transposeB: true, c: scratch.projected, ldc: h)
        addBiasAndResidual(scratch.projected, residual: x, rows: rows, columns: h, bias: layer.ffnOutBias.baseAddress!)
        copyRows(from: scratch.projected, to: x, count: rows * h)
        layerNorm(x, rows: rows, gain: layer.norm2Gain, bias: layer.norm2Bias)
    }

    // MARK: element-wise kernels

    func addBias(_ m: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = m + r * columns
            for j in 0..<columns { row[j] += bias[j] }
        }
    }

    func addBiasAndResidual(_ m: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>, rows: Int, columns: Int,
                            bias: UnsafePointer<Float>) {
        for r in 0..<rows {
            let row = m + r * columns, res = residual + r * columns
            for j in 0..<columns { row[j] += bias[j] + res[j] }
        }
    }

    func copyRows(from: UnsafePointer<Float>, to: UnsafeMutablePointer<Float>, count: Int) {
        to.update(from: from, count: count)
    }

    /// Exact GELU, `x · Φ(x) = 0.5 · x · (1 + erf(x / √2))`, as BERT's "gelu" (not the tanh form).
    func biasGELU(_ m: UnsafeMutablePointer<Float>, rows: Int, columns: Int, bias: UnsafePointer<Float>) {
        let invSqrt2: Float = 0.707_106_781_186_547_5
        for r in 0..<rows {
            let row = m + r * columns
            for j in 0..<columns {
                let v = row[j] + bias[j]
                row[j] = 0.5 * v * (1 + erff(v * invSqrt2))
            }
        }
    }

    func layerNorm(_ m: UnsafeMutablePointer<Float>, rows: Int, gain: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>) {
        let h = config.hiddenSize
        let eps = config.layerNormEps
        let g = gain.baseAddress!, b = bias.baseAddress!
        for r in 0..<rows {
            let row = m + r * h
            var sum: Float = 0
            for j in 0..<h { sum += row[j] }
            let mean = sum / Float(h)
            var squares: Float = 0
            for j in 0..<h { let c = row[j] - mean; squares += c * c }
            let inv = 1 / (squares / Float(h) + eps).squareRoot()
            for j in 0..<h { row[j] = (row[j] - mean) * inv * g[j] + b[j] }
        }
    }

    func softmaxRows(_ m: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        for r in 0..<rows {
            let row = m + r * columns
            var maximum = -Float.infinity
            for j in 0..<columns { maximum = max(maximum, row[j]) }
            var sum: Float = 0
            for j in 0..<columns { let e = expf(row[j] - maximum); row[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<columns { row[j] *= inv }
        }
    }
}
