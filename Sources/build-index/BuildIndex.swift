import ArgumentParser
import RagPipeSupport
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeEvaluation
import RagPipePipeline
import RagPipeCommandLine

@main
struct BuildIndex: ToolCommand {
    static let toolName = "build-index"
    static let configuration = CommandConfiguration(
        commandName: "build-index",
        abstract: "Build one compressed, checksummed index file from an `embed` stream.",
        discussion: """
        Reads embedded records (base64 `vector` or array `embedding`) from files or stdin and writes \
        a single .ragx file (docs/FORMAT.md): metadata, the vectors (flat or IVF lists; fp32, fp16 or \
        sq8 codes), a BM25 index over the chunk \
        texts, and the chunk records in zlib-compressed blocks. The file is written beside the target and renamed into place only \
        when complete: on any error the target is left as it was.

        Example:
          chunk corpus/ | embed | build-index -o index/corpus.ragx
          build-index --kind ivf --codes sq8 --rerank -o big.ragx embedded.jsonl

        IVF: k-means (spherical, seeded) picks --nlist centroids, each vector goes to the list of \
        its nearest centroid, and the default nprobe is tuned at build time: the smallest that reaches \
        --target-recall (recall@10 against exact search) on the tuning queries. Give real or \
        representative questions with --tune-queries (embedded with the index's model: an `embed` \
        stream or a .npy matrix); without them, 1,000 proxy queries are made from the collection's \
        rows, each moved away from its row along the collection's own spread (README, "Tuning \
        nprobe": real questions then measured 0.946 to 0.958 recall@10 where the proxies reached \
        0.95). The summary line prints the recall reached and on which queries, the list balance \
        and the training time.

        Shards (several machines, or Spark partitions): train once on the whole stream or a \
        sample of it with --train-only, which writes a small trained quantizer file (centroids, \
        sq8 ranges, the tuned nprobe; docs/FORMAT.md) and no index; then build each shard with \
        --centroids FILE, which assigns its vectors to those lists and encodes them with those \
        parameters, so the shards add up to the index one build would make. --manifest writes the \
        shard set file that `query` and `evaluate` open (README, "Shards").
          build-index --train-only --kind ivf --codes sq8 -o index/trained.ragq sample.jsonl
          build-index --centroids index/trained.ragq -o index/shard-0.ragx part-0.jsonl
          build-index --manifest -o index/shards.json index/shard-*.ragx
        """)

    @Argument(help: "Embedded record files (default: stdin).")
    var inputs: [String] = []

    @Option(name: [.short, .long], help: "Index file to write (with --train-only: the trained quantizer file; with --manifest: the shard set file).")
    var output: String

    @Flag(help: "Train the IVF centroids and codec parameters (and tune nprobe) on the input, write them to -o for --centroids, and build no index.")
    var trainOnly = false

    @Option(help: ArgumentHelp("Use the centroids, codec parameters and nprobe of this --train-only file instead of training (every shard of a set must use the same file).", valueName: "file"))
    var centroids: String?

    @Flag(help: "The inputs are index files (shards built with the same --centroids): check that they agree and write the shard set file -o names.")
    var manifest = false

    @Option(help: "Uncompressed bytes per text block (a hit inflates one block).")
    var blockSize: Int = 64 * 1024

    @Option(help: "zlib level for text blocks (1 fastest … 9 smallest).")
    var compressionLevel: Int = 6

    @Option(help: "Build from a float32 N×d NumPy .npy matrix instead of a stream: row i gets id i, no text.")
    var npy: String?

    @Option(help: "Model id recorded for --npy vectors (a text query needs an embedder of that name).")
    var modelID = "external"

    @Flag(help: "Accept input that does not end with an end-of-stream line (made by hand or another tool; docs/FORMATS.md).")
    var allowUnterminated = false

    @Flag(help: "Leave out the BM25 sections (dense search only).")
    var noBM25 = false

    @Option(help: "Vector layout: flat (exact scan), ivf (inverted lists), or auto (ivf from \(DenseIndexOptions.autoIVFThreshold) vectors).")
    var kind: KindChoice = .auto

    @Option(help: "Vector codes: fp32 (default), fp16 (2 bytes/component), sq8 (1 byte/component, per-dimension min/max), or rabitq (IVF only: 1 bit/component scanned first, the best candidates re-scored with sq8 codes; faster than sq8 on large indexes, docs/bench/rabitq-study.md); with --centroids, the file's.")
    var codes: VectorCoding?

    @Flag(help: "With fp16/sq8 codes, also store the fp32 vectors and re-rank the best candidates with them.")
    var rerank = false

    @Option(help: "IVF lists (default ~4·√N, at most N/39).")
    var nlist: Int?

    @Option(help: "Store this default nprobe instead of tuning it.")
    var nprobe: Int?

    @Option(help: "Recall@10 against exact search that the tuned default nprobe must reach.")
    var targetRecall: Double = 0.95

    @Option(help: ArgumentHelp("Questions to tune nprobe on, embedded with the index's model: `embed --lines < questions.txt` output, an `embed` stream or a float32 .npy matrix (at most \(TuningQueries.suppliedLimit) are used, evenly spaced).", valueName: "file"))
    var tuneQueries: String?

    @Option(help: "k-means training sample, in points (default 64 per list, within 39…256 per list).")
    var trainPoints: Int?

    @Option(help: "k-means iterations.")
    var iterations: Int = 20

    @Option(help: "Seed for k-means and the tuning sample (same seed, same index).")
    var seed: UInt64 = 1

    enum KindChoice: String, ExpressibleByArgument, CaseIterable { case flat, ivf, auto }

    func denseOptions() throws -> DenseIndexOptions {
        var o = DenseIndexOptions()
        if let tuneQueries {
            let file = try QueryVectorFile(path: tuneQueries, option: "--tune-queries")
            o.tuning = .supplied(vectors: file.vectors, dimension: file.dimension, model: file.model, source: "--tune-queries \(tuneQueries)")
        }
        o.kind = kind == .auto ? nil : IndexKind(rawValue: kind.rawValue)
        o.coding = codes ?? .fp32
        o.rerank = rerank
        o.nlist = nlist
        o.nprobe = nprobe
        o.targetRecall = targetRecall
        o.trainingPoints = trainPoints
        o.iterations = iterations
        o.seed = seed
        return o
    }

    @Option(name: .customLong("bm25-k1"), help: "BM25 term-frequency saturation, stored as the index's default.")
    var bm25K1: Float = 0.9

    @Option(name: .customLong("bm25-b"), help: "BM25 length normalization, stored as the index's default.")
    var bm25B: Float = 0.4

    func validate() throws {
        guard (1...9).contains(compressionLevel) else { throw ValidationError("--compression-level must be in 1...9") }
        if let nlist, nlist < 1 { throw ValidationError("--nlist must be at least 1") }
        if let nprobe, nprobe < 1 { throw ValidationError("--nprobe must be at least 1") }
        guard targetRecall > 0 && targetRecall <= 1 else { throw ValidationError("--target-recall must be in (0, 1]") }
        guard (1...1000).contains(iterations) else { throw ValidationError("--iterations must be in 1...1000") }
        if rerank && (codes ?? .fp32) == .fp32 && centroids == nil { throw ValidationError("--rerank needs --codes fp16 or sq8 (fp32 codes are already exact)") }
        if kind == .flat && codes == .rabitq { throw ValidationError("--codes rabitq needs --kind ivf (or auto)") }
        if codes == .rabitq && trainOnly { throw ValidationError("--codes rabitq is not trained for shards yet: train-only and --centroids take fp32, fp16 or sq8") }
        if kind == .flat && (nlist != nil || nprobe != nil) { throw ValidationError("--nlist and --nprobe apply to --kind ivf") }
        if tuneQueries != nil && nprobe != nil { throw ValidationError("--tune-queries tunes nprobe; with --nprobe there is nothing to tune") }
        if let tuneQueries, tuneQueries == "-" && inputs.isEmpty && npy == nil { throw ValidationError("--tune-queries - and the records would both be stdin") }
        if let problem = BM25Parameters(k1: bm25K1, b: bm25B).problem { throw ValidationError("--bm25-k1/--bm25-b: \(problem)") }
        guard blockSize >= 1024 && blockSize <= 64 << 20 else { throw ValidationError("--block-size must be in 1024...67108864") }
        if trainOnly && (centroids != nil || manifest) { throw ValidationError("--train-only trains: drop --centroids and --manifest") }
        if trainOnly && npy != nil && !inputs.isEmpty { throw ValidationError("--train-only --npy trains on the matrix alone; drop the stream inputs") }
        if manifest && (centroids != nil || npy != nil) { throw ValidationError("--manifest reads index files: drop --centroids and --npy") }
        if manifest && inputs.isEmpty { throw ValidationError("--manifest needs the shard index files as inputs") }
        if centroids != nil && (nlist != nil || nprobe != nil || trainPoints != nil || tuneQueries != nil) {
            throw ValidationError("--centroids fixes the lists and nprobe: drop --nlist, --nprobe, --train-points and --tune-queries")
        }
    }

    /// The options of a build with `--centroids`: the file's kind, codes, lists and nprobe;
    /// a --kind or --codes that disagrees with the file is refused, naming it.
    func trainedOptions(_ dense: DenseIndexOptions, file: String) throws -> DenseIndexOptions {
        let trained = try TrainedQuantizer(path: file)
        if kind != .auto && kind.rawValue != trained.kind.rawValue {
            throw RagPipeError.usage("\(file) trained a \(trained.kind.rawValue) index, --kind \(kind.rawValue) was asked")
        }
        if let codes, codes != trained.coding {
            throw RagPipeError.usage("\(file) trained \(trained.coding.rawValue) codes, --codes \(codes.rawValue) was asked")
        }
        if rerank && trained.coding == .fp32 { throw RagPipeError.usage("--rerank needs fp16 or sq8 codes; \(file) trained fp32") }
        return dense.using(trained)
    }

    func execute() throws {
        var dense = try denseOptions()
        let progress = Progress(tool: "build-index")
        if manifest {
            try OutputTarget.checkNotAnInput(output, inputs: inputs)
            let set = try ShardManifest.write(shards: inputs, to: output)
            progress.finish("\(set.shards.count) shards, \(grouped(set.count)) records, \(set.dimension)-d \(set.metadata.modelID), "
                + "\(set.metadata.kind.rawValue) \(set.metadata.codes.rawValue)" + (set.metadata.quantizer.map { ", quantizer \($0)" } ?? "") + " → \(output)")
            return
        }
        if trainOnly {
            let (trained, seconds) = try BuildIndexStage.train(inputs: inputs, output: output, dense: dense,
                                                               allowUnterminated: allowUnterminated, npy: npy.map { ($0, modelID) }, progress: progress)
            for warning in trained.report.warnings { Log.warning("build-index", warning) }
            progress.finish(trained.line(output: output, seconds: seconds))
            return
        }
        if let centroids { dense = try trainedOptions(dense, file: centroids) }
        let s: BuildIndexStage.Summary
        if let npy {
            guard inputs.isEmpty else { throw RagPipeError.usage("--npy builds from the matrix alone; drop the stream inputs") }
            s = try BuildIndexStage.runNumpy(path: npy, output: output, modelID: modelID, blockSize: blockSize,
                                             compressionLevel: Int32(compressionLevel), dense: dense, progress: progress)
        } else {
            s = try BuildIndexStage.run(inputs: inputs, output: output, blockSize: blockSize,
                                        compressionLevel: Int32(compressionLevel),
                                        bm25: noBM25 ? nil : BM25Parameters(k1: bm25K1, b: bm25B), dense: dense,
                                        allowUnterminated: allowUnterminated, progress: progress)
        }
        for warning in s.index.dense.warnings { Log.warning("build-index", warning) }
        progress.finish(s.line(output: output))
    }
}
