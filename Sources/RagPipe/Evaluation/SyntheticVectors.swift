import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Clustered unit vectors for benchmarks and tests: `clusters` random unit centers, each point
/// a center plus Gaussian noise of standard deviation `noise` per component, normalized.
/// Real text embeddings are clustered too; uniform random vectors would make IVF look worse
/// (no structure) and exact search look harder than either is in practice.
public enum SyntheticVectors {
    public static func clustered(count n: Int, dimension d: Int, clusters: Int, noise: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        func gaussian() -> Float {
            // Box–Muller; u1 in (0, 1] keeps the logarithm finite.
            let u1 = Float(rng.next() >> 40 + 1) / Float(1 << 24), u2 = Float(rng.next() >> 40) / Float(1 << 24)
            return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
        }
        var centers = [Float](repeating: 0, count: clusters * d)
        for i in centers.indices { centers[i] = gaussian() }
        centers.withUnsafeMutableBufferPointer { all in
            for c in 0..<clusters { normalize(UnsafeMutableBufferPointer(rebasing: all[(c * d)..<((c + 1) * d)])) }
        }
        var out = [Float](repeating: 0, count: n * d)
        out.withUnsafeMutableBufferPointer { all in
            for i in 0..<n {
                let c = Int(rng.next() % UInt64(clusters))
                for j in 0..<d { all[i * d + j] = centers[c * d + j] + noise * gaussian() }
                normalize(UnsafeMutableBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)]))
            }
        }
        return out
    }
}

extension SyntheticVectors {
    /// Clusters on a low-dimensional subspace, as text embeddings are: cluster means and points
    /// live in `latent` dimensions, mapped into `dimension` by a fixed random matrix, plus a little
    /// isotropic noise, then normalized. Neighbours cross cluster (and IVF list) boundaries as
    /// they do in real data, unlike well-separated isotropic clusters where one list suffices.
    public static func subspaceClusters(count n: Int, dimension d: Int, latent r: Int = 24, clusters: Int,
                                        spread: Float = 1.0, noise: Float = 0.02, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        func gaussian() -> Float {
            let u1 = Float(rng.next() >> 40 + 1) / Float(1 << 24), u2 = Float(rng.next() >> 40) / Float(1 << 24)
            return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
        }
        let projection = (0..<(d * r)).map { _ in gaussian() / Float(r).squareRoot() }
        let means = (0..<(clusters * r)).map { _ in gaussian() }
        var out = [Float](repeating: 0, count: n * d)
        var z = [Float](repeating: 0, count: r)
        out.withUnsafeMutableBufferPointer { all in
            for i in 0..<n {
                let c = Int(rng.next() % UInt64(clusters))
                for k in 0..<r { z[k] = means[c * r + k] + spread * gaussian() }
                for j in 0..<d {
                    var x: Float = 0
                    for k in 0..<r { x += projection[j * r + k] * z[k] }
                    all[i * d + j] = x + noise * gaussian()
                }
                normalize(UnsafeMutableBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)]))
            }
        }
        return out
    }
}
