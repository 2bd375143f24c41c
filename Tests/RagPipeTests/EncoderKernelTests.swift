import CKernels
import Foundation
import Testing
@testable import RagPipeSupport
@testable import RagPipeEmbedding

/// The encoder's element-wise and attention kernels at every level this CPU has, against the
/// scalar libm oracle (RP_LEVEL_SCALAR).
@Suite struct EncoderKernelTests {
    var levels: [rp_level] { (0...Int(rp_cpu_level().rawValue)).map { rp_level(Int32($0)) } }

    func random(_ count: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<count).map { _ in (Float(rng.next() % 2_000_001) / 1_000_000 - 1) * scale }
    }

    func maxRelativeError(_ a: [Float], _ b: [Float], floor: Float = 1e-6) -> Float {
        zip(a, b).map { abs($0 - $1) / max(abs($1), floor) }.max() ?? 0
    }

    @Test func softmaxRowsSumToOneAndMatchLibm() {
        var rng = SplitMix64(seed: 11)
        for columns in [1, 3, 4, 15, 16, 17, 100, 256] {
            let rows = 5, stride = columns + 3
            let input = random(rows * stride, &rng, scale: 30)
            var oracle = input
            rp_softmax_rows_at(RP_LEVEL_SCALAR, &oracle, rows, columns, stride)
            for level in levels {
                var out = input
                rp_softmax_rows_at(level, &out, rows, columns, stride)
                for r in 0..<rows {
                    let row = Array(out[(r * stride)..<(r * stride + columns)]), want = Array(oracle[(r * stride)..<(r * stride + columns)])
                    #expect(maxRelativeError(row, want, floor: 1e-30) < 2e-6, "level \(level.rawValue), \(columns) columns, row \(r)")
                    #expect(Array(out[(r * stride + columns)..<((r + 1) * stride)]) == Array(input[(r * stride + columns)..<((r + 1) * stride)]),
                            "the padding between rows is untouched")
                }
            }
        }
    }

    @Test func exactGELUMatchesErfWithinTheRelativeErrorOfOnePlusErf() {
        var rng = SplitMix64(seed: 12)
        for columns in [1, 7, 16, 33, 1536] {
            let rows = 3
            let input = random(rows * columns, &rng, scale: 8), bias = random(columns, &rng)
            var oracle = input
            rp_bias_gelu_at(RP_LEVEL_SCALAR, &oracle, rows, columns, bias)
            for level in levels {
                var out = input
                rp_bias_gelu_at(level, &out, rows, columns, bias)
                // |Δ(1 + erf)| ≤ 1.5e-7 (A&S 7.1.26) scaled by |x|/2, plus float rounding.
                for j in out.indices {
                    let x = abs(input[j] + bias[j % columns])
                    #expect(abs(out[j] - oracle[j]) <= 1.5e-7 * x + 4e-7 * abs(oracle[j]) + 1e-7,
                            "level \(level.rawValue), x \(input[j] + bias[j % columns]): \(out[j]) vs \(oracle[j])")
                }
            }
        }
    }

    @Test func residualLayerNormMatchesTheOracle() {
        var rng = SplitMix64(seed: 13)
        for width in [1, 5, 16, 31, 384] {
            let rows = 4
            let x = random(rows * width, &rng, scale: 4), y = random(rows * width, &rng), bias = random(width, &rng)
            let gamma = random(width, &rng), beta = random(width, &rng)
            for (withY, withBias) in [(true, true), (false, false), (true, false)] {
                var oracle = x
                rp_residual_layer_norm_at(RP_LEVEL_SCALAR, &oracle, withY ? y : nil, withBias ? bias : nil, rows, width, gamma, beta, 1e-12)
                for level in levels {
                    var out = x
                    rp_residual_layer_norm_at(level, &out, withY ? y : nil, withBias ? bias : nil, rows, width, gamma, beta, 1e-12)
                    let worst = zip(out, oracle).map { abs($0 - $1) }.max()!
                    #expect(worst < 1e-5, "level \(level.rawValue), width \(width): max |Δ| \(worst)")
                }
            }
        }
    }

    @Test func attentionMatchesTheOracleForEveryLengthAndHeadSize() {
        var rng = SplitMix64(seed: 14)
        for (heads, d) in [(12, 32), (2, 16), (3, 8), (1, 4), (2, 5), (1, 64)] {
            for length in [1, 2, 3, 4, 5, 15, 16, 17, 33, 64] {
                let width = heads * d, stride = 3 * width + 7
                let qkv = random(length * stride, &rng, scale: 2)
                var scratch = [Float](repeating: .nan, count: rp_attention_scratch_floats(length, d))
                var oracle = [Float](repeating: .nan, count: length * width)
                let scale = 1 / Float(d).squareRoot()
                rp_attention_at(RP_LEVEL_SCALAR, qkv, length, heads, d, stride, scale, &oracle, &scratch)
                for level in levels {
                    var out = [Float](repeating: .nan, count: length * width)
                    rp_attention_at(level, qkv, length, heads, d, stride, scale, &out, &scratch)
                    let worst = zip(out, oracle).map { abs($0 - $1) }.max()!
                    #expect(worst < 2e-5, "level \(level.rawValue), \(heads)×\(d), length \(length): max |Δ| \(worst)")
                }
            }
        }
    }

    @Test func bf16AttentionStaysWithinBF16RoundingOfTheOracle() {
        var rng = SplitMix64(seed: 15)
        for (heads, d) in [(12, 32), (2, 16), (1, 64)] {
            for length in [1, 2, 3, 17, 64, 100] {
                let width = heads * d, stride = 3 * width
                let qkv = random(length * stride, &rng, scale: 2)
                var scratch = [Float](repeating: .nan, count: rp_attention_scratch_floats(length, d))
                var oracle = [Float](repeating: .nan, count: length * width), out = oracle
                let scale = 1 / Float(d).squareRoot()
                rp_attention_at(RP_LEVEL_SCALAR, qkv, length, heads, d, stride, scale, &oracle, &scratch)
                rp_attention_bf16(qkv, length, heads, d, stride, scale, &out, &scratch)
                let worst = zip(out, oracle).map { abs($0 - $1) }.max()!
                // bf16 keeps 8 significant bits: values of size ~1 move by up to ~2^-8 per operand.
                #expect(worst < 0.03, "\(heads)×\(d), length \(length): max |Δ| \(worst)")
                if rp_attention_bf16_available() != 0 && length > 1 { #expect(worst > 0, "bf16 really ran") }
            }
        }
    }

    @Test func vectorBF16AndInt8ConversionsMatchTheirScalarOracles() {
        var rng = SplitMix64(seed: 16)
        var bits = (0..<4099).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
        bits += [0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0x7F7F_FFFF, 0x0000_0001, 0x8000_0000, 0x3F80_8000]
        let values = bits.map { Float(bitPattern: $0) }
        var fast = [UInt16](repeating: 0, count: values.count), slow = fast
        rp_f32_to_bf16(values, &fast, values.count)
        rp_f32_to_bf16_scalar(values, &slow, values.count)
        #expect(fast == slow)
        for columns in [1, 15, 16, 17, 384, 1536] {
            let rows = 3
            let x = random(rows * columns, &rng, scale: 5), smoothing = random(columns, &rng).map { 0.5 + abs($0) }
            for inverse in [nil, smoothing] {
                var oracleQ = [Int8](repeating: 0, count: rows * columns), oracleS = [Float](repeating: 0, count: rows)
                rp_quantize_rows_smoothed_at(RP_LEVEL_SCALAR, x, rows, columns, inverse, &oracleQ, &oracleS)
                for level in levels {
                    var q = oracleQ.map { _ in Int8(0) }, s = oracleS.map { _ in Float(0) }
                    rp_quantize_rows_smoothed_at(level, x, rows, columns, inverse, &q, &s)
                    #expect(s == oracleS, "level \(level.rawValue), \(columns) columns: scales")
                    // Products may round differently in the last bit, moving a value across .5.
                    #expect(zip(q, oracleQ).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "level \(level.rawValue), \(columns) columns")
                    #expect(zip(q, oracleQ).filter { $0 != $1 }.count <= max(1, q.count / 500))
                }
            }
        }
        let sums: [Int32] = [1, -2, 3, 100_000, 0, -7]
        var y = [Float](repeating: 0, count: 6)
        rp_dequantize(sums, 2, 3, [0.5, 2], [1, 0.25, 4], nil, nil, &y)
        #expect(y == [0.5, -0.25, 6, 200_000, 0, -56])
        // With zero points: (sum − zero · Σ weights) · steps.
        rp_dequantize(sums, 2, 3, [0.5, 2], [1, 0.25, 4], [10, -1], [1, 2, 3], &y)
        #expect(y == [-4.5, -2.75, -54, 200_002, 1, -32])
        for columns in [1, 15, 16, 17, 384, 1536] {
            let rows = 3
            // One-sided rows (GELU outputs: ≥ -0.17), and one all-zero row.
            var x = random(rows * columns, &rng, scale: 3).map { max($0, -0.17) }
            for j in 0..<columns { x[2 * columns + j] = 0 }
            var oracleQ = [UInt8](repeating: 0, count: rows * columns), oracleS = [Float](repeating: 0, count: rows)
            var oracleZ = [Int32](repeating: 0, count: rows)
            rp_quantize_rows_u8_at(RP_LEVEL_SCALAR, x, rows, columns, nil, &oracleQ, &oracleS, &oracleZ)
            for r in 0..<rows {
                for j in 0..<columns {   // the oracle itself: within half a step of the input
                    let back = (Float(oracleQ[r * columns + j]) - Float(oracleZ[r])) * oracleS[r]
                    #expect(abs(back - x[r * columns + j]) <= 0.5001 * oracleS[r] + 1e-7)
                }
            }
            for level in levels {
                var q = oracleQ.map { _ in UInt8(0) }, s = oracleS.map { _ in Float(0) }, z = oracleZ.map { _ in Int32(0) }
                rp_quantize_rows_u8_at(level, x, rows, columns, nil, &q, &s, &z)
                #expect(s == oracleS && z == oracleZ, "level \(level.rawValue), \(columns) columns")
                #expect(zip(q, oracleQ).allSatisfy { abs(Int($0) - Int($1)) <= 1 }, "level \(level.rawValue), \(columns) columns")
            }
        }
    }

    @Test func bf16RoundsToNearestEven() {
        let cases: [(Float, UInt16)] = [(1, 0x3F80), (-2, 0xC000), (Float(bitPattern: 0x3F80_8000), 0x3F80),   // tie, even stays
                                        (Float(bitPattern: 0x3F81_8000), 0x3F82), (Float(bitPattern: 0x3F80_8001), 0x3F81),
                                        (.infinity, 0x7F80), (Float.greatestFiniteMagnitude, 0x7F80)]
        for (value, bits) in cases {
            var out: UInt16 = 0
            var v = value
            rp_f32_to_bf16(&v, &out, 1)
            #expect(out == bits, "\(value): \(String(out, radix: 16))")
        }
        var nan = Float.nan, out: UInt16 = 0
        rp_f32_to_bf16(&nan, &out, 1)
        #expect(out & 0x7F80 == 0x7F80 && out & 0x7F != 0, "NaN stays NaN")
    }

    @Test func int8RowQuantizationIsSymmetricPerRow() {
        let x: [Float] = [0.5, -1, 0.25, 0, 127, -63.5, 1, 2, 0, 0, 0, 0]
        var q = [Int8](repeating: 0, count: 12), scales = [Float](repeating: 0, count: 3)
        rp_quantize_rows_s8(x, 3, 4, 4, &q, &scales)
        #expect(scales == [1 / 127, 1, 1])
        #expect(q == [64, -127, 32, 0, 127, -64, 1, 2, 0, 0, 0, 0])
    }
}

/// oneDNN's products against BLAS on the encoder's shapes, for every precision and row count.
@Suite(.enabled(if: rp_dnnl_load(nil, 0) == 0, "needs oneDNN (libdnnl2)"))
struct LinearLayerTests {
    @Test(arguments: EncoderPrecision.allCases)
    func productsAgreeWithBLAS(precision: EncoderPrecision) throws {
        var rng = SplitMix64(seed: 21)
        let n = 96, k = 64
        let weight = (0..<(n * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        let onednn = try LinearWeights(copying: weight, n: n, k: k, library: .onednn, precision: precision)
        let blas = try LinearWeights(copying: weight, n: n, k: k, library: .blas, precision: .fp32)
        let tolerance: Float = precision == .fp32 ? 1e-4 : precision == .bf16 ? 0.05 : 0.15
        for m in [1, 2, 7, 64, 257] {
            let x = (0..<(m * k)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            var a = [Float](repeating: .nan, count: m * n), b = a
            onednn.apply(x, rows: m, into: &a)
            blas.apply(x, rows: m, into: &b)
            let worst = zip(a, b).map { abs($0 - $1) }.max()!
            #expect(worst < tolerance, "\(precision), \(m) rows: max |Δ| \(worst)")
            if precision != .fp32 { #expect(worst > 0, "\(precision) products differ from fp32 somewhere") }
        }
    }
}

/// `embed --precision` through the real tools: the model id carries it, build-index keeps the
/// index to one precision, and query embeds questions the same way (or refuses a server).
@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct PrecisionPipelineTests {
    @Test func anInt8IndexIsQueriedInInt8() throws {
        let dir = try TempDir()
        dir.write("corpus/ivf.md", "# IVF\n\nAn inverted file index scans only nprobe of its lists at query time.\n")
        dir.write("corpus/zlib.md", "# Compression\n\nText blocks are compressed with zlib, sixty-four kibibytes at a time.\n")
        let model = "--model '\(modelDirectory)'"
        let build = try shell("chunk \(model) corpus | embed \(model) --precision int8 | build-index -o int8.ragx", in: dir.path)
        #expect(build.status == 0, "\(build.stderr)")
        #expect(build.stderr.contains("all-MiniLM-L6-v2@int8"))
        #expect(build.stderr.contains("int8 matmul"), "embed names the kernels it ran: \(build.stderr)")
        let q = try shell("query --json \(model) int8.ragx 'how many lists does IVF scan?'", in: dir.path)
        #expect(q.status == 0, "\(q.stderr)")
        let result = try JSONSerialization.jsonObject(with: Data(q.stdout.utf8)) as! [String: Any]
        let hits = result["hits"] as! [[String: Any]]
        #expect(hits.first?["source"] as? String == "ivf.md")
        // The query vector is the int8 one: its similarity to the top chunk equals what the
        // library computes with an int8 embedder, not an fp32 one.
        let int8 = try MiniLMEmbedder(directory: modelDirectory, precision: .int8)
        let fp32 = try MiniLMEmbedder(directory: modelDirectory)
        let chunkText = hits.first?["text"] as! String
        let expected = zip(try int8.embed("how many lists does IVF scan?"), try int8.embed(chunkText)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        let fp32Similarity = zip(try fp32.embed("how many lists does IVF scan?"), try int8.embed(chunkText)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
        let reported = Float(hits.first?["similarity"] as! Double)
        #expect(abs(reported - expected) < 1e-5, "reported \(reported), int8 query \(expected), fp32 query \(fp32Similarity)")
        #expect(abs(expected - fp32Similarity) > 1e-5, "the two precisions are distinguishable here")

        let remote = try shell("query --embed-url http://127.0.0.1:9 int8.ragx 'how many lists?'", in: dir.path)
        #expect(remote.status != 0 && remote.status < 128)
        #expect(remote.stderr.contains("int8 vectors"), "\(remote.stderr)")

        let mixed = try shell("(chunk \(model) corpus | embed \(model); chunk \(model) corpus | embed \(model) --precision bf16) | build-index -o mixed.ragx", in: dir.path)
        #expect(mixed.status == 82, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("all-MiniLM-L6-v2@bf16"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/mixed.ragx"))
    }
}

@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct PrecisionCacheTests {
    /// The cache files reduced-precision vectors under their arithmetic revision, fp32 under the
    /// model id alone (as before precisions existed).
    @Test func eachPrecisionHasItsOwnCacheFolder() throws {
        let dir = try TempDir()
        dir.write("texts.txt", "how many lists does IVF scan?\nzlib blocks\n")
        let model = "--model '\(modelDirectory)'"
        for precision in ["fp32", "int8"] {
            let r = try shell("embed --lines \(model) --precision \(precision) --cache cache texts.txt > /dev/null", in: dir.path)
            #expect(r.status == 0, "\(r.stderr)")
        }
        let folders = try FileManager.default.contentsOfDirectory(atPath: dir.path + "/cache").sorted()
        #expect(folders == ["all-MiniLM-L6-v2-384", "all-MiniLM-L6-v2@int8.r\(EncoderPrecision.int8.arithmeticRevision!)-384"])
    }
}
