import RagPipeRecords
import RagPipeChunking
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

