import CKernels
import Testing
@testable import RagPipeSupport
@testable import RagPipeIndex
@testable import RagPipeEvaluation

/// The fp16 and sq8 kernels at every instruction-set level this CPU has, against scalar oracles.
@Suite struct KernelTests {
    var levels: [rp_level] { (0...Int(rp_cpu_level().rawValue)).map { rp_level(Int32($0)) } }

    @Test func sq8ScoresAreExactIntegerSumsAtEveryLevel() {
        var rng = SplitMix64(seed: 5)
        for d in [1, 15, 16, 17, 63, 64, 384, 385] {
            let n = 37
            let codes = (0..<(n * d)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let query: [Int16] = (0..<d).map { _ in
                let r = Int(rng.next() % 65_535) - 32_767
                return Int16(r / 4)
            }
            var oracle = [Int64](repeating: 0, count: n)
            for i in 0..<n {
                for j in 0..<d { oracle[i] += Int64(codes[i * d + j]) * Int64(query[j]) }
            }
            for level in levels {
                var scores = [Int32](repeating: 0, count: n)
                rp_sq8_scores_at(level, query, codes, n, d, &scores)
                #expect(scores.map(Int64.init) == oracle, "level \(level.rawValue), d \(d)")
            }
        }
    }

    @Test func f16ScoresMatchAFloatOracleAtEveryLevel() {
        var rng = SplitMix64(seed: 6)
        for d in [1, 15, 16, 33, 384, 385] {
            let n = 29
            let values = (0..<(n * d)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            var codes = [UInt16](repeating: 0, count: values.count)
            rp_f32_to_f16(values, &codes, values.count)
            var decoded = [Float](repeating: 0, count: values.count)
            rp_f16_to_f32(codes, &decoded, codes.count)
            let query = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            var oracle = [Double](repeating: 0, count: n)
            for i in 0..<n {
                for j in 0..<d { oracle[i] += Double(decoded[i * d + j]) * Double(query[j]) }
            }
            for level in levels {
                var scores = [Float](repeating: 0, count: n)
                rp_f16_scores_at(level, query, codes, n, d, &scores)
                for i in 0..<n { #expect(abs(Double(scores[i]) - oracle[i]) < 1e-4 * Double(d), "level \(level.rawValue), d \(d)") }
            }
        }
    }

    @Test func argmaxFindsTheFirstLargest() {
        var rng = SplitMix64(seed: 8)
        for n in [1, 2, 15, 16, 17, 100, 4000] {
            for _ in 0..<20 {
                var v = (0..<n).map { _ in Float(Int(rng.next() % 1000)) / 7 }
                if n > 3 && rng.next() % 2 == 0 { v[n - 1] = v.max()!; v[n / 2] = v.max()! }   // ties: the first wins
                var best: Float = 0
                let i = rp_argmax(v, n, &best)
                #expect(best == v.max()! && i == v.firstIndex(of: v.max()!)!, "n \(n)")
            }
        }
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func halfConversionsAgreeWithSwiftFloat16() {
        // Every half bit pattern decodes to what Swift's Float16 says (NaNs stay NaN).
        var all = (0...UInt16.max).map { $0 }
        var decoded = [Float](repeating: 0, count: all.count)
        rp_f16_to_f32(all, &decoded, all.count)
        for (bits, value) in zip(all, decoded) {
            let reference = Float(Float16(bitPattern: bits))
            #expect(reference.isNaN ? value.isNaN : value.bitPattern == reference.bitPattern, "half \(bits)")
        }
        // Encoding rounds to nearest even, including subnormals, overflow and halfway cases.
        var rng = SplitMix64(seed: 7)
        var inputs: [Float] = [0, -0, 1, -1, 65504, 65519, 65520, 1e9, -1e9, .infinity, -.infinity, 5.96e-8, 2.98e-8, 2.99e-8,
                               6.1e-5, 1.0009766, 1.00048828125, 1.00146484375]
        for _ in 0..<100_000 { inputs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7fff_ffff) * (rng.next() & 1 == 0 ? 1 : -1)) }
        inputs = inputs.filter { !$0.isNaN }
        all = [UInt16](repeating: 0, count: inputs.count)
        rp_f32_to_f16(inputs, &all, inputs.count)
        for (x, h) in zip(inputs, all) { #expect(h == Float16(x).bitPattern, "float \(x)") }
        rp_f32_to_f16([Float.nan], &all, 1)
        #expect(Float16(bitPattern: all[0]).isNaN)
    }
    #endif

    @Test func sq8QuantizerErrorIsAtMostHalfAStep() {
        let d = 48
        let vectors = SyntheticVectors.clustered(count: 500, dimension: d, clusters: 7, noise: 0.2, seed: 3)
        let quantizer = vectors.withUnsafeBufferPointer { SQ8Quantizer.train($0, dimension: d) }
        var code = [UInt8](repeating: 0, count: d), back = [Float](repeating: 0, count: d)
        for i in 0..<500 {
            vectors.withUnsafeBufferPointer { quantizer.encode($0.baseAddress! + i * d, into: &code) }
            quantizer.decode(code, into: &back)
            for j in 0..<d { #expect(abs(back[j] - vectors[i * d + j]) <= quantizer.step[j] / 2 * 1.0001 + 1e-7) }
        }
    }

    @Test func preparedSQ8QueryScoresMatchDecodedDotProducts() {
        let d = 384, n = 300
        let vectors = SyntheticVectors.clustered(count: n, dimension: d, clusters: 5, noise: 0.05, seed: 4)
        let codec = vectors.withUnsafeBufferPointer { SQ8Codec.train($0, dimension: d) }
        var codes = [UInt8](repeating: 0, count: n * d)
        vectors.withUnsafeBufferPointer { v in
            codes.withUnsafeMutableBytes { codec.encode(v.baseAddress!, count: n, into: $0.baseAddress!) }
        }
        let q = Array(vectors[0..<d])
        let prepared = codec.prepare(q)
        var scores = [Float](repeating: 0, count: n), scratch = [Int32](repeating: 0, count: n)
        codes.withUnsafeBytes { codec.scores(prepared, codes: $0.baseAddress!, count: n, into: &scores, scratch: &scratch) }
        for i in 0..<n {
            let decoded = codes.withUnsafeBytes { codec.decode($0.baseAddress! + i * d) }
            let oracle = zip(q, decoded).reduce(Double(0)) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(scores[i]) - oracle) < 2e-4, "row \(i): \(scores[i]) vs \(oracle)")
        }
    }

    /// The contract every codec keeps, whatever its storage: the score of a code is the dot
    /// product with the vector it decodes to, and `VectorCoding` names the type that says so.
    @Test(arguments: VectorCoding.allCases) func everyCodecScoresWhatItDecodes(_ coding: VectorCoding) {
        // rabitq's codec is the sq8 codec of its lists; its 1-bit scan is a storage (IVFRaBitQCodes).
        #expect(coding.codec.coding == (coding == .rabitq ? .sq8 : coding) && coding.codec.bytesPerComponent == coding.bytesPerComponent)
        check(coding.codec)
    }

    func check<Codec: VectorCodec>(_: Codec.Type) {
        let d = 40, n = 50
        let vectors = SyntheticVectors.clustered(count: n, dimension: d, clusters: 4, noise: 0.1, seed: 8)
        let codec = vectors.withUnsafeBufferPointer { Codec.train($0, dimension: d) }
        var codes = [UInt8](repeating: 0, count: n * codec.codeSize)
        vectors.withUnsafeBufferPointer { v in codes.withUnsafeMutableBytes { codec.encode(v.baseAddress!, count: n, into: $0.baseAddress!) } }
        let q = Array(vectors[(7 * d)..<(8 * d)])
        var scores = [Float](repeating: 0, count: n), scratch = [Int32](repeating: 0, count: n)
        codes.withUnsafeBytes { codec.scores(codec.prepare(q), codes: $0.baseAddress!, count: n, into: &scores, scratch: &scratch) }
        for i in 0..<n {
            let decoded = codes.withUnsafeBytes { codec.decode($0.baseAddress! + i * codec.codeSize) }
            let oracle = zip(q, decoded).reduce(Double(0)) { $0 + Double($1.0) * Double($1.1) }
            #expect(abs(Double(scores[i]) - oracle) < 2e-4, "\(Codec.coding) row \(i): \(scores[i]) vs \(oracle)")
            if Codec.isExact { #expect(decoded == Array(vectors[(i * d)..<((i + 1) * d)])) }
        }
    }
}
