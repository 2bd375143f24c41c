import ArgumentParser
import RagPipeSupport
import RagPipeEmbedding
import RagPipeRecords
import RagPipePipeline
import RagPipeCommandLine
import RagPipeServer

@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve an index over HTTP: /v1/query, OpenAI-compatible embeddings and chat, metrics, a search page.",
        discussion: """
        Maps the index once and loads its embedder once, then answers on all cores. Endpoints \
        (docs/FORMATS.md, "serve"):
          POST /v1/query             {"query": "…", "k": 5, …}: the object `query --json` prints
          POST /v1/embeddings        OpenAI-compatible (embed --embedder openai, query --embed-url)
          POST /v1/chat/completions  OpenAI-compatible: the last user message is the question; stream: true as SSE
          GET  /v1/models, /healthz, /metrics (Prometheus text), /  (a search page)

        Answers are cached: exact repeats (L1) and questions whose embedding's cosine to a cached \
        one reaches --cache-threshold (L2); the cache is emptied when the index file is replaced, \
        which is noticed within --reload-interval and mapped while running requests finish on the \
        old file (a damaged file is refused and logged; the old one keeps serving). SIGTERM stops \
        accepting connections and lets running requests finish. A shard manifest is served as one \
        index over all its shards (README, "Shards"); replacing the manifest reloads the set.

        Examples:
          serve index/corpus.ragx --port 8000
          curl -s localhost:8000/v1/query -d '{"query": "why memory-map an index?"}'
          RAGPIPE_KEY=secret serve index/corpus.ragx --host 0.0.0.0 --api-key-env RAGPIPE_KEY
          serve out/manifest.json --llm http://127.0.0.1:8080
        """)

    @Argument(help: "Index file, or a shard manifest (build-index --manifest) whose shards are served as one index.")
    var index: String

    @Option(help: "Address to bind (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port, named on stderr).")
    var port = 8000

    @Option(help: "Requests computed at once (default: the cores online).")
    var workers: Int?

    @Option(help: "Requests waiting for a worker before more are refused with 429.")
    var queue = 64

    @Option(help: "Largest request body in bytes (413 past it).")
    var maxBody = 1 << 20

    @Option(help: "Seconds a request may take before it is answered 503.")
    var requestTimeout = 30.0

    @Option(help: "Seconds a connection may stay idle before it is closed.")
    var idleTimeout = 60.0

    @Option(help: "Environment variable holding a bearer token that /v1/* and /metrics require (default: none required).")
    var apiKeyEnv: String?

    @Option(help: "Answers the cache holds at most (0: no cache).")
    var cacheEntries = 10_000

    @Option(help: "Megabytes the cache holds at most.")
    var cacheMegabytes = 64

    @Option(help: "Cosine between two questions' embeddings at which a cached answer is reused (above 1: exact repeats only; README, \"Semantic cache\").")
    var cacheThreshold: Float = SemanticCache.defaultThreshold

    @Option(help: "Sentence vectors remembered across requests (answer candidates and groundedness checks; 0: none).")
    var vectorMemo = 20_000

    @Option(help: "Seconds between checks for a replaced index file (0: never reload).")
    var reloadInterval = 1.0

    @Flag(help: "Do not check every checksum of the index (and of replacements) before serving it.")
    var noVerify = false

    @Flag(help: "No access log lines on stderr.")
    var quiet = false

    @OptionGroup var model: ModelFolderOption

    // For tests of saturation, timeouts and draining, which need a request that provably stays running.
    @Option(help: ArgumentHelp("Test hook: admitted computations wait while this file exists.", visibility: .hidden))
    var holdWhileExists: String?

    // Generation runs inside --request-timeout: give it room.
    @OptionGroup(title: "Generated answers")
    var generation: LLMOptions

    @Option(help: "Environment variable holding the --llm server's API key (sent as a bearer token; never printed or logged).")
    var llmApiKeyEnv = "OPENAI_API_KEY"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        if let workers, !(1...256).contains(workers) { throw ValidationError("--workers must be in 1...256") }
        guard queue >= 0, maxBody >= 1024, cacheEntries >= 0, cacheMegabytes >= 0, vectorMemo >= 0 else {
            throw ValidationError("--queue, --cache-entries and --cache-megabytes must be ≥ 0, --max-body ≥ 1024")
        }
        guard requestTimeout > 0, requestTimeout.isFinite, idleTimeout > 0, idleTimeout.isFinite, reloadInterval >= 0, reloadInterval.isFinite else {
            throw ValidationError("--request-timeout and --idle-timeout must be above 0, --reload-interval 0 or more")
        }
        guard cacheThreshold.isFinite, cacheThreshold >= -1 else { throw ValidationError("--cache-threshold must be a cosine (above 1: exact repeats only)") }
    }

    func run() async throws {
        var settings = Server.Settings(indexPath: index)
        settings.host = host
        settings.port = port
        settings.workers = workers ?? Cores.available
        settings.queue = queue
        settings.maxBodyBytes = maxBody
        settings.requestTimeout = requestTimeout
        settings.idleTimeout = idleTimeout
        settings.cacheEntries = cacheEntries
        settings.cacheBytes = cacheMegabytes << 20
        settings.cacheThreshold = cacheThreshold <= 1 ? cacheThreshold : nil
        settings.reloadInterval = reloadInterval
        settings.vectorMemo = vectorMemo
        settings.verify = !noVerify
        settings.accessLog = !quiet
        settings.holdWhileExists = holdWhileExists
        settings.native = EmbedderRegistry.NativeSettings(modelDirectory: model.model, threads: 1, use: .interactive)
        let server: Server
        do {
            settings.apiKey = try apiKeyEnv.map { name in
                guard let value = ProcessEnvironment.value(name), !value.isEmpty else {
                    throw RagPipeError.usage("--api-key-env \(name): the variable is not set or empty")
                }
                return value
            }
            settings.llm = try generation.backend { url in
                HTTPEndpoint(url: url, timeout: requestTimeout, retries: 1, apiKeyEnvironment: llmApiKeyEnv)
            }
            server = try Server(settings: settings)
        } catch {
            let status = ToolErrors.run("serve") { throw error }
            throw ExitCode(status)
        }
        do {
            try await server.run()
        } catch {
            Log.error("serve", "cannot serve on \(host):\(port): \(error)")
            throw ExitCode(74)
        }
    }
}
