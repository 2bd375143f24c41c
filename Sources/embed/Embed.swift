import ArgumentParser
import RagPipeSupport
import RagPipeRecords
import RagPipeChunking
import RagPipeEmbedding
import RagPipeAnswering
import RagPipePipeline
import RagPipeCommandLine

@main
struct Embed: ToolCommand {
    static let toolName = "embed"
    static let configuration = CommandConfiguration(
        abstract: "Embed chunk records in batches (JSON Lines in, the same records with vectors out).",
        discussion: """
        Reads `chunk` output from files or stdin and writes each record with `model`, `dim` and its \
        vector: base64 of little-endian float32 in `vector` (default), or a JSON number array in \
        `embedding` with --format jsonl. With --lines, each input line is a raw text instead.

        The default embedder is a native port of sentence-transformers/all-MiniLM-L6-v2 (fetch it \
        with `make model`); `--embedder hash` needs no model.

        Examples:
          chunk corpus/ | embed > embedded.jsonl
          echo "how do I pick nprobe?" | embed --lines --format jsonl
        """)

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        /// base64 float32 in "vector": compact, what build-index reads fastest.
        case stream
        /// JSON number array in "embedding": readable by anything.
        case jsonl
    }

    enum EmbedderKind: String, ExpressibleByArgument, CaseIterable {
        /// The native sentence-transformers model (default: all-MiniLM-L6-v2 from `make model`).
        case minilm
        /// Feature hashing: no model needed.
        case hash
        /// An OpenAI-compatible `/v1/embeddings` server (`--url`).
        case openai
    }

    @Argument(help: "Chunk record files (default: stdin).")
    var inputs: [String] = []

    @Option(help: "Embedding backend.")
    var embedder: EmbedderKind = .minilm

    @OptionGroup var model: ModelOptions

    @Option(help: "minilm: arithmetic of the linear layers; bf16 and int8 are faster, recorded in the model id (`all-MiniLM-L6-v2@int8`) so queries embed the same way (README, \"Embedding precision\").")
    var precision: EncoderPrecision = .fp32

    @Option(help: "Vector dimension (hash embedder).")
    var dim: Int = 384

    @Option(help: "Records embedded together; memory stays bounded by one batch.")
    var batchSize: Int = 64

    @Option(help: "Output form.")
    var format: OutputFormat = .stream

    @Option(help: "openai: the server's base URL (http://host:port, …/v1, or the full /v1/embeddings URL).")
    var url: String?

    @Option(help: "openai: model name sent to the server and recorded in the stream (name it as the native embedder does to mix the two).")
    var modelName = "all-MiniLM-L6-v2"

    @Option(help: "openai: requests in flight at once.")
    var concurrency = 4

    @OptionGroup var http: HTTPOptions

    @Option(help: "openai: tokenize here with this model folder's WordPiece vocabulary and send token ids, truncated as sentence-transformers does (for a BERT model served by llama.cpp; README).")
    var tokenizer: String?

    @Flag(help: "Read raw texts, one per line, instead of chunk records.")
    var lines = false

    @Flag(help: "Accept chunk record input that does not end with an end-of-stream line (made by hand or another tool; docs/FORMATS.md).")
    var allowUnterminated = false

    @Option(help: "Embedding cache folder: texts seen before (same model) are not embedded again.")
    var cache: String?

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard dim >= 1 && dim <= 65_536 else { throw ValidationError("--dim must be in 1...65536") }
        guard tokenizer == nil || embedder == .openai else { throw ValidationError("--tokenizer applies to --embedder openai") }
        guard precision == .fp32 || embedder == .minilm else { throw ValidationError("--precision applies to --embedder minilm") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be in 1...64, not \(concurrency)") }
    }

    /// The embedder the options name.
    var choice: EmbedderRegistry.Choice {
        get throws {
            switch embedder {
            case .minilm: return .native(precision: precision)
            case .hash: return .hash(dimension: dim)
            case .openai:
                guard let url else { throw RagPipeError.usage("--embedder openai needs --url") }
                var settings = RemoteEmbedder.Settings(endpoint: http.endpoint(url))
                settings.model = modelName
                settings.batchSize = batchSize
                settings.concurrency = concurrency
                try settings.tokenize(withModelIn: tokenizer)
                return .remote(settings)
            }
        }
    }

    func execute() throws {
        let model = try EmbedderRegistry.embedder(try choice, native: self.model.native(use: .batch))
        let progress = Progress(tool: "embed")
        let store = try cache.map { try EmbeddingCache(directory: $0, modelID: model.cacheIdentity, dimension: model.dimension) }
        let s = try EmbedStage.run(inputs: inputs, embedder: model, batchSize: batchSize,
                                   encoding: format == .stream ? .base64 : .array, lines: lines, cache: store,
                                   allowUnterminated: allowUnterminated, sink: OutputSink(), progress: progress)
        progress.finish(s.line(embedder: model, cached: store != nil))
    }
}
