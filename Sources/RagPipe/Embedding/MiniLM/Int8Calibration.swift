import RagPipeChunking
import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BertEncoder {
    /// Replaces the fp32 layers by int8 ones whose input columns are smoothed by
    /// `s_j = √(max|x_j| / max|W_j|)` (SmoothQuant with α = ½), the input maxima measured by
    /// running `calibration` through the fp32 encoder. Without smoothing, the few hidden
    /// dimensions BERT keeps large would set every row's int8 step (golden texts: cosine 0.986).
    func quantizeLayers(calibration: [[Int32]]) throws {
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
            // GELU's outputs are ≥ -0.17: symmetric int8 would spend half its steps on values
            // that never occur (golden texts' worst cosine to fp32 0.9936; uint8 with a zero point
            // 0.9969; bf16 for this layer 0.9982, but 17% slower overall).
            quantized.ffnOut = try layer.ffnOut.quantized(inputMaxima: probe.maxima[l][.ffnOut], oneSided: true)
            layers[l] = quantized
        }
    }
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

