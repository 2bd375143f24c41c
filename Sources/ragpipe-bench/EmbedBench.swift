import ArgumentParser
import Foundation
import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeAnswering

/// `embed` against sentence-transformers and ONNX Runtime: the same texts, the same threads, in
/// the same run, rounds interleaved so that load from elsewhere falls on every embedder alike.
extension Bench {
    struct EmbedVariant {
        var precision: EncoderPrecision
        var library: MatrixLibrary
        var threads: Int
        var label: String { "ragpipe \(precision.rawValue) \(library == .onednn ? "oneDNN" : "BLAS"), \(threads) thread\(threads > 1 ? "s" : "")" }
    }

    struct PeerResult {
        var name: String, description: String
        var seconds: [Double] = []
        var minCos = 0.0, meanCos = 0.0
    }

    func embeddingSideBySide(model: String, documents: Int, rounds: Int, peerPython: String?) throws {
        let texts = try sciFactTexts(documents: documents)
        let lines = try String(contentsOfFile: texts, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        let embedder = try MiniLMEmbedder(directory: model)
        let lengths = lines.map { embedder.tokenizer.encode(String($0), maxLength: embedder.maxTokens).ids.count }
        let tokens = lengths.reduce(0, +)
        let flops = lengths.reduce(0.0) { $0 + Double($1) * embedder.encoder.config.flopsPerToken(length: $1) }
        let what = "\(lines.count) SciFact docs (title + text, \(grouped(tokens)) tokens after truncation at \(embedder.maxTokens))"

        // The matrix units' rate on one thread, measured now: the ceiling each precision is held to.
        var ceiling: [String: Double] = [:]
        for precision in EncoderPrecision.allCases {
            ceiling[precision.rawValue] = try MatmulRate.measure(precision: precision, library: .onednn)
            record("matmul \(precision.rawValue), oneDNN \(EncoderKernels.oneDNNISA), 1 thread, 256 × 1536 × 384",
                   String(format: "%.1f GFLOP/s", ceiling[precision.rawValue]!), "this CPU's rate for the encoder's largest product")
        }
        let blasRate = try MatmulRate.measure(precision: .fp32, library: .blas)
        record("matmul fp32, OpenBLAS \(EncoderKernels.blasCore), 1 thread, 256 × 1536 × 384", String(format: "%.1f GFLOP/s", blasRate),
               "for comparison with oneDNN fp32")

        let variants = [EmbedVariant(precision: .fp32, library: .onednn, threads: 2), EmbedVariant(precision: .bf16, library: .onednn, threads: 2),
                        EmbedVariant(precision: .int8, library: .onednn, threads: 2), EmbedVariant(precision: .fp32, library: .blas, threads: 2),
                        EmbedVariant(precision: .fp32, library: .onednn, threads: 1), EmbedVariant(precision: .int8, library: .onednn, threads: 1)]
        var seconds = [[Double]](repeating: [], count: variants.count)
        var peers: [String: PeerResult] = [:]
        var peerOrder: [String] = []
        var peerNote: String?
        for round in 0..<rounds {
            for (v, variant) in variants.enumerated() {
                let out = work + "/embed-\(variant.precision.rawValue)-\(variant.library.rawValue).jsonl"
                let run = try sh("RAGPIPE_MATRIX_LIBRARY=\(variant.library.rawValue) embed --lines --format jsonl --threads \(variant.threads) "
                    + "--precision \(variant.precision.rawValue) --model '\(model)' '\(texts)' > '\(out)'")
                guard let s = Self.embedSeconds(run.stderr) else { throw ValidationError("no timing in embed's summary: \(run.stderr)") }
                seconds[v].append(s)
                note("round \(round + 1): \(variant.label): \(String(format: "%.2f", s)) s")
            }
            guard let peerPython else { peerNote = "no peer Python (make bench-venv): sentence-transformers and ONNX Runtime not run"; continue }
            let report = work + "/embed-peers.json"
            try sh("'\(peerPython)' bench/embed_peers.py --model '\(model)' --texts '\(texts)' --threads 2 --repeats 1 "
                + "--work '\(work)/onnx' --vectors-out '\(work)/peer-vectors' > '\(report)'")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
            for p in (json?["peers"] as? [[String: Any]]) ?? [] {
                guard let name = p["name"] as? String, let s = p["seconds_best"] as? Double else { continue }
                if peers[name] == nil { peers[name] = PeerResult(name: name, description: p["description"] as? String ?? name); peerOrder.append(name) }
                peers[name]!.seconds.append(s)
                peers[name]!.minCos = p["min_cos_vs_st"] as? Double ?? 0
                peers[name]!.meanCos = p["mean_cos_vs_st"] as? Double ?? 0
            }
        }

        let reference = peers["st"] == nil ? nil : try NumpyMatrix(path: work + "/peer-vectors/st.npy")
        let stBest = peers["st"]?.seconds.min()
        let ortBest = peers["ort-fp32"]?.seconds.min()
        let ort8Best = peers["ort-int8"]?.seconds.min()
        for name in peerOrder {
            let p = peers[name]!, best = p.seconds.min()!
            record("embed \(what): \(p.description), 2 threads", String(format: "%.2f s (best of %d), %.0f tokens/s, min / mean cos vs sentence-transformers %.4f / %.4f",
                   best, p.seconds.count, Double(tokens) / best, p.minCos, p.meanCos), "peer, same run")
        }
        for (v, variant) in variants.enumerated() {
            let best = seconds[v].min()!
            var cosines = ""
            if let reference {
                let (minCos, meanCos) = try Self.cosines(jsonl: work + "/embed-\(variant.precision.rawValue)-\(variant.library.rawValue).jsonl", reference)
                cosines = String(format: ", min / mean cos vs sentence-transformers %.4f / %.4f", minCos, meanCos)
            }
            let rate = variant.library == .blas ? blasRate : ceiling[variant.precision.rawValue]!
            let efficiency = flops / best / 1e9 / (rate * Double(variant.threads))
            var ratios: [String] = []
            if variant.threads == 2 {
                if let stBest { ratios.append(String(format: "%.2f× sentence-transformers", stBest / best)) }
                if let ortBest { ratios.append(String(format: "%.2f× ORT fp32", ortBest / best)) }
                if let ort8Best, variant.precision != .fp32 { ratios.append(String(format: "%.2f× ORT int8", ort8Best / best)) }
            }
            if variant.threads == 1, let two = variants.firstIndex(where: { $0.precision == variant.precision && $0.library == variant.library && $0.threads == 2 }) {
                ratios.append(String(format: "2 threads are %.2f× 1", best / seconds[two].min()!))
            }
            record("embed \(what): \(variant.label)",
                   String(format: "%.2f s (best of %d), %.0f tokens/s, %.0f%% of the matmul rate × threads%@", best, seconds[v].count,
                          Double(tokens) / best, 100 * efficiency, cosines),
                   ratios.isEmpty ? (peerNote ?? "") : ratios.joined(separator: ", ") + " (same run)")
        }
    }

    /// The first `documents` SciFact documents, title + " " + text, one a line: the peers' script
    /// writes them, so both sides read the same bytes.
    func sciFactTexts(documents: Int) throws -> String {
        let path = work + "/scifact-\(documents).txt"
        if !FileManager.default.fileExists(atPath: path) {
            try sh("python3 bench/scifact_texts.py '\(data)/scifact/corpus.jsonl.gz' \(documents) > '\(path).partial' && mv '\(path).partial' '\(path)'")
        }
        return path
    }

    /// Seconds from embed's summary line ("embed: 400 records, …, 12.3 s (…").
    static func embedSeconds(_ stderr: String) -> Double? {
        guard let line = stderr.split(separator: "\n").last(where: { $0.hasPrefix("embed: ") }) else { return nil }
        for part in line.split(separator: ",") {
            let words = part.split(separator: " ")
            if words.count >= 2, words[1] == "s", let s = Double(words[0]) { return s }
        }
        return nil
    }

    static func cosines(jsonl: String, _ reference: NumpyMatrix) throws -> (Double, Double) {
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        guard lines.count == reference.rows else { throw ValidationError("\(jsonl): \(lines.count) vectors, the reference has \(reference.rows)") }
        var minCos = 1.0, sum = 0.0
        for (i, line) in lines.enumerated() {
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let v = object["embedding"] as? [Double], v.count == reference.columns else { throw ValidationError("\(jsonl): line \(i + 1) has no embedding") }
            var dot = 0.0, a = 0.0, b = 0.0
            for j in 0..<v.count {
                let r = Double(reference.values[i * reference.columns + j])
                dot += v[j] * r; a += v[j] * v[j]; b += r * r
            }
            let c = dot / (a.squareRoot() * b.squareRoot())
            minCos = min(minCos, c); sum += c
        }
        return (minCos, sum / Double(lines.count))
    }
}
