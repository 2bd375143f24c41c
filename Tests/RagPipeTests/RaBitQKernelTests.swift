import CKernels
import Foundation
import Testing
@testable import RagPipeSupport

/// The 1-bit code kernels (Sources/CKernels/rabitq.c) at every instruction-set level this CPU
/// has, against plain Swift oracles, including word counts and run lengths that are not whole
/// blocks.
@Suite struct RaBitQKernelTests {
    var levels: [rp_level] { [RP_LEVEL_SCALAR] + (0...Int(rp_cpu_level().rawValue)).map { rp_level(Int32($0)) } }

    @Test func dotsArePopcountsOfPlanesAtEveryLevel() {
        var rng = SplitMix64(seed: 21)
        for words in [1, 2, 3, 6, 7] {
            for count in [1, 7, 8, 9, 37, 64] {
                let blocks = (count + 7) / 8
                // Blocked, word-major: word w of code v of block b at (b·words + w)·8 + v.
                let codes = (0..<(blocks * words * 8)).map { _ in rng.next() }
                let planes = (0..<(4 * words)).map { _ in rng.next() }
                var oracleDots = [Int32](repeating: 0, count: count), oraclePops = oracleDots
                for i in 0..<count {
                    for w in 0..<words {
                        let x = codes[((i / 8) * words + w) * 8 + i % 8]
                        oraclePops[i] += Int32(x.nonzeroBitCount)
                        for k in 0..<4 { oracleDots[i] += Int32((x & planes[k * words + w]).nonzeroBitCount) << k }
                    }
                }
                for level in levels {
                    // One sentinel past the run: the padding codes of the last block are not written.
                    var dots = [Int32](repeating: -7, count: count + 1), pops = dots
                    rp_rbq_dots_at(level, planes, codes, count, words, &dots, &pops)
                    #expect(Array(dots[..<count]) == oracleDots && Array(pops[..<count]) == oraclePops,
                            "level \(level.rawValue), words \(words), count \(count)")
                    #expect(dots[count] == -7 && pops[count] == -7, "level \(level.rawValue): wrote past the run")
                }
                var dots = [Int32](repeating: 0, count: count), pops = dots
                rp_rbq_dots(planes, codes, count, words, &dots, &pops)
                #expect(dots == oracleDots && pops == oraclePops)
            }
        }
    }

    @Test func rotationKeepsNormsAndDotProducts() {
        var rng = SplitMix64(seed: 22)
        for d in [1, 5, 63, 64, 100, 384, 385] {
            let padded = (d + 63) / 64 * 64
            var signs = [Float](repeating: 0, count: 4 * padded)
            rp_rbq_signs(99, 4, padded, &signs)
            #expect(signs.allSatisfy { $0 == 1 || $0 == -1 } && signs.contains(1) && signs.contains(-1) || padded * 4 < 8)
            let x = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            let y = (0..<d).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
            var rx = [Float](repeating: .nan, count: padded), ry = rx
            rp_rbq_rotate(signs, 4, x, d, padded, &rx)
            rp_rbq_rotate(signs, 4, y, d, padded, &ry)
            func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
            #expect(abs(dot(rx, rx) - dot(x, x)) < 1e-4 * max(1, dot(x, x)), "d \(d): norm")
            #expect(abs(dot(rx, ry) - dot(x, y)) < 1e-4 * Double(d), "d \(d): dot product")
            // It mixes: a unit basis vector is spread over many components.
            if padded >= 64 {
                var e = [Float](repeating: 0, count: d); e[d - 1] = 1
                var re = [Float](repeating: 0, count: padded)
                rp_rbq_rotate(signs, 4, e, d, padded, &re)
                #expect(re.map(abs).max()! < 0.5, "d \(d): the rotation leaves e_\(d - 1) nearly in place")
            }
        }
        // The same seed gives the same signs; another seed others.
        var a = [Float](repeating: 0, count: 256), b = a, c = a
        rp_rbq_signs(1, 1, 256, &a); rp_rbq_signs(1, 1, 256, &b); rp_rbq_signs(2, 1, 256, &c)
        #expect(a == b && a != c)
    }

    @Test func queryQuantizationIsWithinHalfAStep() {
        var rng = SplitMix64(seed: 23)
        for padded in [64, 128, 384, 448] {
            let q = (0..<padded).map { _ in Float(Int(rng.next() % 20001) - 10000) / 10000 }
            let words = padded / 64
            var planes = [UInt64](repeating: 0, count: 4 * words)
            var lo: Float = 0, delta: Float = 0, usum: Int32 = 0
            rp_rbq_quantize_query(q, padded, &planes, &lo, &delta, &usum)
            var total: Int32 = 0
            for j in 0..<padded {
                var u = 0
                for k in 0..<4 where planes[k * words + j / 64] >> UInt64(j % 64) & 1 == 1 { u |= 1 << k }
                total += Int32(u)
                #expect(abs(lo + delta * Float(u) - q[j]) <= delta / 2 + 1e-6, "padded \(padded), component \(j)")
            }
            #expect(total == usum && lo == q.min()! && abs(delta - (q.max()! - q.min()!) / 15) < 1e-6)
        }
        // A constant query: step 1, every component at level 0.
        var planes = [UInt64](repeating: 7, count: 4)
        var lo: Float = 0, delta: Float = 0, usum: Int32 = 9
        rp_rbq_quantize_query([Float](repeating: 0.25, count: 64), 64, &planes, &lo, &delta, &usum)
        #expect(lo == 0.25 && delta == 1 && usum == 0 && planes.allSatisfy { $0 == 0 })
    }

    /// The estimator the study measures: ⟨o, q⟩ ≈ ⟨c, q⟩ + ‖r‖/⟨x̄, r̂⟩ · ⟨x̄, Rq⟩ with x̄ the code's
    /// ±1/√D signs. On random residuals its error stays within a few times its 1/√D scale.
    @Test func estimatesTrackExactResidualDots() {
        var rng = SplitMix64(seed: 24)
        let d = 384, padded = 384, words = 6, n = 64
        var signs = [Float](repeating: 0, count: 4 * padded)
        rp_rbq_signs(5, 4, padded, &signs)
        func gaussian() -> Float {
            let u1 = Double(rng.next() >> 11 + 1) * 0x1p-53, u2 = Double(rng.next() >> 11) * 0x1p-53
            return Float((-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
        }
        let q = (0..<d).map { _ in gaussian() / Float(d).squareRoot() }
        var rq = [Float](repeating: 0, count: padded)
        rp_rbq_rotate(signs, 4, q, d, padded, &rq)
        var planes = [UInt64](repeating: 0, count: 4 * words)
        var lo: Float = 0, delta: Float = 0, usum: Int32 = 0
        rp_rbq_quantize_query(rq, padded, &planes, &lo, &delta, &usum)
        var codes = [UInt64](repeating: 0, count: n * words)
        var scale = [Float](repeating: 0, count: n), exact = scale
        for i in 0..<n {
            let r = (0..<d).map { _ in gaussian() * 0.02 }
            var rr = [Float](repeating: 0, count: padded)
            rp_rbq_rotate(signs, 4, r, d, padded, &rr)
            let norm = rr.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let xdot = rr.reduce(0) { $0 + abs($1) } / (Float(padded).squareRoot() * norm)
            scale[i] = norm / xdot
            for j in 0..<padded where rr[j] > 0 { codes[((i / 8) * words + j / 64) * 8 + i % 8] |= 1 << UInt64(j % 64) }
            exact[i] = zip(r, q).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var dots = [Int32](repeating: 0, count: n), pops = dots
        rp_rbq_dots(planes, codes, n, words, &dots, &pops)
        let s = Float(padded).squareRoot(), qsum = lo * Float(padded) + delta * Float(usum)
        var worst: Float = 0
        for i in 0..<n {
            let masked = lo * Float(pops[i]) + delta * Float(dots[i])
            let estimate = scale[i] * (2 * masked - qsum) / s
            worst = max(worst, abs(estimate - exact[i]))
        }
        // ‖r‖ ≈ 0.02·√384 ≈ 0.39, ‖q‖ ≈ 1: the error scale is ‖r‖‖q‖/√D ≈ 0.02.
        #expect(worst < 0.08, "worst estimate error \(worst)")
        #expect(worst > 0, "estimates are exact: the test would not see a broken estimator")
    }
}
