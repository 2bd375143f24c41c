import ArgumentParser
import RagPipe

@main
struct BuildIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-index",
        abstract: "Build one compressed, checksummed index file from an `embed` stream.",
        discussion: """
        Reads embedded records (base64 `vector` or array `embedding`) from files or stdin and writes \
        a single .ragx file (docs/FORMAT.md): metadata, fp32 vectors, a BM25 index over the chunk \
        texts, and the chunk records in zlib-compressed blocks. The file is written beside the target and renamed into place only \
        when complete: on any error the target is left as it was.

        Example:
          chunk corpus/ | embed | build-index -o index/corpus.ragx
        """)

    @Argument(help: "Embedded record files (default: stdin).")
    var inputs: [String] = []

    @Option(name: [.short, .long], help: "Index file to write.")
    var output: String

    @Option(help: "Uncompressed bytes per text block (a hit inflates one block).")
    var blockSize: Int = 64 * 1024

    @Option(help: "zlib level for text blocks (1 fastest … 9 smallest).")
    var compressionLevel: Int = 6

    @Option(help: "Build from a float32 N×d NumPy .npy matrix instead of a stream: row i gets id i, no text.")
    var npy: String?

    @Option(help: "Model id recorded for --npy vectors (a text query needs an embedder of that name).")
    var modelID = "external"

    @Flag(help: "Leave out the BM25 sections (dense search only).")
    var noBM25 = false

    @Option(name: .customLong("bm25-k1"), help: "BM25 term-frequency saturation, stored as the index's default.")
    var bm25K1: Float = 0.9

    @Option(name: .customLong("bm25-b"), help: "BM25 length normalization, stored as the index's default.")
    var bm25B: Float = 0.4

    func validate() throws {
        guard (1...9).contains(compressionLevel) else { throw ValidationError("--compression-level must be in 1...9") }
        guard blockSize >= 1024 && blockSize <= 64 << 20 else { throw ValidationError("--block-size must be in 1024...67108864") }
    }

    func run() throws {
        let status = ToolErrors.run("build-index") {
            let progress = Progress(tool: "build-index")
            let s: BuildIndexStage.Summary
            if let npy {
                guard inputs.isEmpty else { throw RagPipeError.usage("--npy builds from the matrix alone; drop the stream inputs") }
                s = try BuildIndexStage.runNumpy(path: npy, output: output, modelID: modelID, blockSize: blockSize,
                                                 compressionLevel: Int32(compressionLevel), progress: progress)
            } else {
                s = try BuildIndexStage.run(inputs: inputs, output: output, blockSize: blockSize,
                                            compressionLevel: Int32(compressionLevel),
                                            bm25: noBM25 ? nil : BM25Parameters(k1: bm25K1, b: bm25B), progress: progress)
            }
            var summary = "\(grouped(s.index.count)) records, \(s.index.dimension)-d \(s.index.modelID) → \(output) "
                + "(\(String(format1: Double(s.index.fileSize) / 1e6)) MB; texts \(String(format1: Double(s.index.textBytes) / 1e6)) MB → "
                + "\(String(format1: Double(s.index.compressedTextBytes) / 1e6)) MB in \(s.index.blocks) blocks); "
                + "ingest \(rate(Double(s.index.count), s.ingestSeconds)) records/s, write \(String(format1: s.writeSeconds * 1000)) ms"
            if s.renormalized > 0 { summary += "; \(grouped(s.renormalized)) vectors were not unit length and were normalized" }
            progress.finish(summary)
        }
        if status != 0 { throw ExitCode(status) }
    }
}
