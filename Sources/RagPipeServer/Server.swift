import Foundation
import Hummingbird
import Logging
import NIOCore
import HTTPTypes
import RagPipeSupport
import RagPipeRecords
import RagPipeEmbedding
import RagPipeAnswering
import RagPipePipeline

/// `serve`: one index behind HTTP. The index is mapped once and the embedder loaded once; each
/// request runs on a worker thread (`Admission`), answers come from the same engine `query`
/// builds (`QueryOptions`) and print the same JSON (`QueryResult.appendJSON`).
public final class Server: Sendable {
    public struct Settings: Sendable {
        public var indexPath: String
        public var host = "127.0.0.1"
        /// 0: any free port (the "listening" line on stderr names it).
        public var port = 8000
        /// Check every checksum of the index at start and of every replacement before serving it.
        public var verify = true
        public var workers = Cores.available
        public var queue = 64
        public var maxBodyBytes = 1 << 20
        public var requestTimeout = 30.0
        /// Seconds a connection may sit idle (no request or body bytes) before it is closed.
        public var idleTimeout = 60.0
        /// The bearer token every `/v1/*` and `/metrics` request must carry; nil: none.
        public var apiKey: String?
        public var cacheEntries = 10_000
        public var cacheBytes = 64 << 20
        /// Cosine at which a cached question answers a new one (L2); nil: exact hits only.
        public var cacheThreshold: Float? = SemanticCache.defaultThreshold
        /// Seconds between checks for a replaced index file; 0: never.
        public var reloadInterval = 1.0
        public var accessLog = true
        /// Vectors of sentences (answer candidates, groundedness checks) remembered across requests.
        public var vectorMemo = 20_000
        /// BLAS for fp32, as `query` runs the encoder: the same vectors to the last bit, so answers
        /// are exactly `query --json`'s.
        public var native = EmbedderRegistry.NativeSettings(threads: 1, use: .interactive)

        public init(indexPath: String) { self.indexPath = indexPath }
    }

    let settings: Settings
    let slot: IndexSlot
    let cache: SemanticCache
    let admission: Admission
    let metrics = Metrics()

    /// Maps the index, loads its embedder and checks that the default query runs on it.
    public init(settings: Settings) throws {
        self.settings = settings
        slot = try IndexSlot(path: settings.indexPath, verify: settings.verify, native: settings.native, memo: settings.vectorMemo)
        cache = SemanticCache(settings: .init(maxEntries: settings.cacheEntries, maxBytes: settings.cacheBytes, threshold: settings.cacheThreshold))
        admission = Admission(workers: settings.workers, queue: settings.queue)
        declareMetrics()
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting and lets running requests finish.
    public func run() async throws {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: FrontDoor(server: self))
        router.get("/") { _, _ in self.page() }
        router.get("/healthz") { _, _ in self.health() }
        router.get("/metrics") { _, _ in self.metricsResponse() }
        router.get("/v1/models") { _, _ in self.models() }
        router.post("/v1/query") { request, _ in try await self.query(request) }
        router.post("/v1/embeddings") { request, _ in try await self.embeddings(request) }
        router.post("/v1/chat/completions") { request, _ in try await self.chat(request) }

        var logger = Logger(label: "serve", factory: { StreamLogHandler.standardError(label: $0) })
        logger.logLevel = .error
        let served = slot.current
        let settings = settings
        let app = Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: .nanoseconds(Int64(settings.idleTimeout * 1e9)))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "ragpipe"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                Log.line("serve: listening on http://\(settings.host):\(port) (\(served.reader.path): \(served.reader.count) chunks, "
                         + "\(served.reader.metadata.modelID) \(served.reader.dimension)-d; \(settings.workers) workers, queue \(settings.queue)"
                         + (settings.apiKey != nil ? "; bearer token required" : "") + ")")
            },
            logger: logger)
        let watcher = settings.reloadInterval > 0 ? Task.detached { await self.watch() } : nil
        try await app.runService()
        watcher?.cancel()
        Log.line("serve: stopped (every request answered)")
    }

    /// Polls the index file; a replacement is mapped and the cache emptied, or refused and logged.
    private func watch() async {
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(settings.reloadInterval * 1e9))
            if Task.isCancelled { return }
            let slot = slot
            let outcome = await withCheckedContinuation { c in DispatchQueue.global().async { c.resume(returning: slot.reloadIfChanged()) } }
            switch outcome {
            case .unchanged: break
            case .reloaded(let generation):
                cache.clear()
                metrics.increment("ragpipe_index_reloads_total", ["result": "reloaded"])
                let r = slot.current.reader
                Log.line("serve: reloaded \(r.path): generation \(generation), \(r.count) chunks; cache emptied")
            case .refused(let why):
                metrics.increment("ragpipe_index_reloads_total", ["result": "refused"])
                Log.warning("serve", "\(settings.indexPath) was replaced by a file that cannot be served, still serving generation \(slot.current.generation): \(why)")
            }
        }
    }

    // MARK: endpoints

    /// The body, at most `maxBodyBytes` (413 past it, read or announced).
    private func body(of request: Request) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > settings.maxBodyBytes {
            throw APIError.tooLarge(limit: settings.maxBodyBytes)
        }
        do {
            let buffer = try await request.body.collect(upTo: settings.maxBodyBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: settings.maxBodyBytes)
        }
    }

    private static let cacheHeader = HTTPField.Name("X-RagPipe-Cache")!
    private static let generationHeader = HTTPField.Name("X-RagPipe-Index-Generation")!

    /// An answer to `text` with `options`: from the cache (L1 before any work, L2 after embedding)
    /// or computed and cached. A cached answer carries this request's question and timings.
    func answer(_ text: String, options: QueryOptions, served: ServedIndex, useCache: Bool) async throws -> (QueryResult, SemanticCache.Level) {
        let clock = Stopwatch()
        if useCache, let hit = cache.exactHit(text, options: options, generation: served.generation) {
            var result = hit.result
            result.query = text
            result.timings = QueryResult.Timings()
            record(result, level: .l1, seconds: clock.seconds)
            return (result, .l1)
        }
        let cache = cache
        let (result, level) = try await admission.run(timeout: settings.requestTimeout) { () throws -> (QueryResult, SemanticCache.Level) in
            let embedClock = Stopwatch()
            let vector = try served.embedder.embed(text)
            let embedMs = embedClock.milliseconds
            if useCache, let hit = cache.semanticHit(vector, options: options, generation: served.generation) {
                var result = hit.result
                result.query = text
                result.timings = QueryResult.Timings(embedMs: embedMs)
                return (result, .l2)
            }
            let result = try options.engine(index: served.reader, embedder: served.embedder).run(text, vector: vector, embedMs: embedMs)
            if useCache {
                var bytes: [UInt8] = []
                result.appendJSON(to: &bytes)
                cache.insert(text, vector: vector, options: options, generation: served.generation, result: result, responseBytes: bytes.count)
            }
            return (result, .miss)
        }
        record(result, level: level, seconds: clock.seconds)
        return (result, level)
    }

    private func useCache(_ request: Request) -> Bool {
        !(request.headers[.cacheControl]?.lowercased().contains("no-cache") ?? false)
    }

    func query(_ request: Request) async throws -> Response {
        let q = try QueryRequest(JSONValue.parseBody(try await body(of: request)))
        let served = slot.current
        let (result, level) = try await answer(q.query, options: q.options, served: served, useCache: useCache(request))
        var out: [UInt8] = []
        result.appendJSON(to: &out)
        return json(out, headers: [Self.cacheHeader: level.rawValue, Self.generationHeader: String(served.generation)])
    }

    func embeddings(_ request: Request) async throws -> Response {
        let e = try EmbeddingsRequest(JSONValue.parseBody(try await body(of: request)))
        let served = slot.current
        // The embedder itself: bulk inputs would only push answer sentences out of the memo.
        let embedder = (served.embedder as? VectorMemo)?.base ?? served.embedder
        let modelID = served.reader.metadata.modelID
        if let model = e.model, model != modelID {
            throw APIError.notFound("model '\(model)' is not served here: this server embeds with '\(modelID)' (\(embedder.dimension)-d)",
                                    code: "model_not_found")
        }
        if let d = e.dimensions, d != embedder.dimension {
            throw APIError.badRequest("'dimensions' \(d): '\(modelID)' makes \(embedder.dimension)-d vectors only", code: "wrong_dimension")
        }
        let native = embedder as? MiniLMEmbedder
        if case .tokenIDs = e.inputs, native == nil {
            throw APIError.badRequest("'\(modelID)' takes text only: send strings as 'input'")
        }
        let count = e.count, dimension = embedder.dimension
        let (vectors, tokens) = try await admission.run(timeout: settings.requestTimeout) { () throws -> ([Float], Int) in
            var vectors = [Float](repeating: 0, count: count * dimension)
            var tokens = 0
            try vectors.withUnsafeMutableBufferPointer { out in
                switch e.inputs {
                case .texts(let texts):
                    _ = try embedder.embed(texts, into: out)
                    if let native { tokens = texts.reduce(0) { $0 + native.tokenizer.encode($1, maxLength: native.maxTokens).ids.count } }
                case .tokenIDs(let ids):
                    try native!.embed(tokenIDs: ids, into: out)
                    tokens = ids.reduce(0) { $0 + $1.count }
                }
            }
            return (vectors, tokens)
        }
        var out = JSONObjectWriter.bytes { o in
            o.field("object", "list")
            o.array("data") { a in
                for i in 0..<count {
                    a.object { o in
                        o.field("object", "embedding")
                        o.field("index", i)
                        vectors.withUnsafeBufferPointer { all in
                            let row = UnsafeBufferPointer(rebasing: all[(i * dimension)..<((i + 1) * dimension)])
                            if e.base64 {
                                o.field("embedding", writtenBy: { out in
                                    out.append(0x22); VectorBase64.append(row, to: &out); out.append(0x22)
                                })
                            } else {
                                o.array("embedding") { a in for x in row { a.element(x) } }
                            }
                        }
                    }
                }
            }
            o.field("model", modelID)
            o.object("usage") { u in u.field("prompt_tokens", tokens); u.field("total_tokens", tokens) }
        }
        out.append(0x0A)
        metrics.increment("ragpipe_embedded_inputs_total", by: Double(count))
        return json(out, headers: [Self.generationHeader: String(served.generation)])
    }

    /// The model name `/v1/models` lists and chat answers carry: the index file's name.
    var modelName: String {
        var name = lastComponent(settings.indexPath)
        if name.hasSuffix(".ragx") { name.removeLast(5) }
        return "ragpipe-" + name
    }

    func chat(_ request: Request) async throws -> Response {
        let c = try ChatRequest(JSONValue.parseBody(try await body(of: request)))
        let served = slot.current
        let (result, level) = try await answer(c.question, options: c.options, served: served, useCache: useCache(request))
        let content = ChatAnswer.content(of: result)
        let id = "chatcmpl-\(UInt64.random(in: 0...UInt64.max) >> 16)"
        let created = Int(Date().timeIntervalSince1970)
        let model = modelName
        let headers: HTTPFields = [Self.cacheHeader: level.rawValue, Self.generationHeader: String(served.generation)]
        guard c.stream else {
            var out = ChatAnswer.completion(id: id, created: created, model: model, content: content, result: result)
            out.append(0x0A)
            return json(out, headers: headers)
        }
        let events = ChatAnswer.events(id: id, created: created, model: model, content: content, result: result)
        var h = headers
        h[.contentType] = "text/event-stream"
        h[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: h, body: ResponseBody { writer in
            for event in events { try await writer.write(ByteBuffer(bytes: event)) }
            try await writer.finish(nil)
        })
    }

    func models() -> Response {
        var out = JSONObjectWriter.bytes { o in
            o.field("object", "list")
            o.array("data") { a in
                a.object { o in
                    o.field("id", modelName)
                    o.field("object", "model")
                    o.field("created", 0)
                    o.field("owned_by", "ragpipe")
                }
                a.object { o in
                    o.field("id", slot.current.reader.metadata.modelID)
                    o.field("object", "model")
                    o.field("created", 0)
                    o.field("owned_by", "ragpipe")
                }
            }
        }
        out.append(0x0A)
        return json(out)
    }

    func health() -> Response {
        let served = slot.current
        var out = JSONObjectWriter.bytes { o in
            o.field("status", "ok")
            o.field("index", served.reader.path)
            o.field("generation", served.generation)
            o.field("chunks", served.reader.count)
            o.field("model", served.reader.metadata.modelID)
            o.field("dimension", served.reader.dimension)
            o.field("auth", settings.apiKey != nil)
        }
        out.append(0x0A)
        return json(out)
    }

    func metricsResponse() -> Response {
        metrics.set("ragpipe_index_generation", Double(slot.current.generation))
        metrics.set("ragpipe_index_chunks", Double(slot.current.reader.count))
        metrics.set("ragpipe_cache_entries", Double(cache.count))
        metrics.set("ragpipe_cache_bytes", Double(cache.byteCount))
        metrics.set("ragpipe_busy_requests", Double(admission.busy))
        metrics.set("ragpipe_vector_memo_entries", Double((slot.current.embedder as? VectorMemo)?.count ?? 0))
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.render())))
    }

    func page() -> Response {
        Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: SearchPage.html)))
    }

    func json(_ bytes: [UInt8], status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func errorResponse(_ error: APIError) -> Response {
        var headers: HTTPFields = [:]
        if let s = error.retryAfterSeconds { headers[.retryAfter] = String(s) }
        if error.status == 401 { headers[.wwwAuthenticate] = "Bearer" }
        return json(error.json, status: HTTPResponse.Status(code: error.status), headers: headers)
    }

    // MARK: metrics

    private func declareMetrics() {
        metrics.declare("ragpipe_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.")
        metrics.declare("ragpipe_http_request_duration_seconds", "histogram", "Time from request to response head, by endpoint.")
        metrics.declare("ragpipe_cache_requests_total", "counter", "Questions answered, by cache level: l1 (exact), l2 (semantic), miss (computed).")
        metrics.declare("ragpipe_cache_level_duration_seconds", "histogram", "Time to answer a question, by cache level.")
        metrics.declare("ragpipe_cache_entries", "gauge", "Answers held in the semantic cache.")
        metrics.declare("ragpipe_cache_bytes", "gauge", "Bytes the semantic cache holds (estimated).")
        metrics.declare("ragpipe_answers_total", "counter", "Answers served, by outcome: answered, abstained, escalated (not grounded under strict).")
        metrics.declare("ragpipe_answer_groundedness", "histogram", "Groundedness of the answers served (share of supported sentences; abstentions excluded).")
        metrics.declare("ragpipe_embedded_inputs_total", "counter", "Inputs embedded by /v1/embeddings.")
        metrics.declare("ragpipe_index_generation", "gauge", "The index file's generation: 1 at start, one more per reload.")
        metrics.declare("ragpipe_index_chunks", "gauge", "Chunks in the index served.")
        metrics.declare("ragpipe_index_reloads_total", "counter", "Replacements of the index file, by result: reloaded, refused.")
        metrics.declare("ragpipe_busy_requests", "gauge", "Computations running or waiting for a worker.")
        metrics.declare("ragpipe_vector_memo_entries", "gauge", "Sentence vectors remembered across requests (answer candidates, groundedness checks).")
        for level in ["l1", "l2", "miss"] { metrics.increment("ragpipe_cache_requests_total", ["level": level], by: 0) }
        for outcome in ["answered", "abstained", "escalated"] { metrics.increment("ragpipe_answers_total", ["outcome": outcome], by: 0) }
        for result in ["reloaded", "refused"] { metrics.increment("ragpipe_index_reloads_total", ["result": result], by: 0) }
    }

    private func record(_ result: QueryResult, level: SemanticCache.Level, seconds: Double) {
        metrics.increment("ragpipe_cache_requests_total", ["level": level.rawValue])
        metrics.observe("ragpipe_cache_level_duration_seconds", seconds, labels: ["level": level.rawValue])
        let outcome = result.answer.escalated ? "escalated" : result.answer.abstained ? "abstained" : "answered"
        metrics.increment("ragpipe_answers_total", ["outcome": outcome])
        if let g = result.answer.groundedness {
            metrics.observe("ragpipe_answer_groundedness", Double(g.groundedness), buckets: Metrics.shareBuckets)
        }
    }

    /// Endpoints open without the bearer token: the page (it asks for the token itself) and the health check.
    func needsToken(_ path: String) -> Bool { settings.apiKey != nil && path != "/" && path != "/healthz" }

    func authorized(_ header: String?) -> Bool {
        guard let key = settings.apiKey else { return true }
        guard let header, header.hasPrefix("Bearer ") else { return false }
        // Compared in time independent of where the first difference is.
        let given = Array(header.utf8.dropFirst(7)), expected = Array(key.utf8)
        var difference = given.count ^ expected.count
        for i in 0..<max(given.count, expected.count) {
            difference |= Int((i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0))
        }
        return difference == 0
    }

    /// The endpoint label of a path: the known ones, else "other" (so unknown paths cannot grow the series).
    static func endpoint(_ path: String) -> String {
        ["/", "/healthz", "/metrics", "/v1/models", "/v1/query", "/v1/embeddings", "/v1/chat/completions"].contains(path) ? path : "other"
    }

    func finished(_ request: Request, response: Response, seconds: Double) {
        let endpoint = Self.endpoint(request.uri.path)
        let status = String(response.status.code)
        metrics.increment("ragpipe_http_requests_total", ["endpoint": endpoint, "status": status])
        metrics.observe("ragpipe_http_request_duration_seconds", seconds, labels: ["endpoint": endpoint])
        guard settings.accessLog else { return }
        var line = "serve: access ts=\(Self.timestamp()) method=\(request.method.rawValue) path=\(Self.logValue(request.uri.path)) status=\(status)"
        line += " ms=\(String(format: "%.3f", seconds * 1000))"
        if let n = request.headers[.contentLength] { line += " in=\(n)" }
        if let n = response.body.contentLength { line += " out=\(n)" }
        if let c = response.headers[Self.cacheHeader] { line += " cache=\(c)" }
        if let g = response.headers[Self.generationHeader] { line += " generation=\(g)" }
        Log.line(line)
    }

    /// A value safe in a space-separated log line: quoted when it holds spaces, quotes or controls.
    static func logValue(_ s: String) -> String {
        let clipped = s.count > 200 ? String(s.prefix(200)) + "…" : s
        guard clipped.contains(where: { $0 == " " || $0 == "\"" || $0.isNewline || $0 == "=" }) else { return clipped }
        return "\"" + clipped.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(t.tm_year) + 1900, Int(t.tm_mon) + 1, Int(t.tm_mday),
                      Int(t.tm_hour), Int(t.tm_min), Int(t.tm_sec), Int(ts.tv_nsec / 1_000_000))
    }
}

/// Every request passes here: the bearer token, errors turned into JSON, metrics and the access log.
struct FrontDoor: RouterMiddleware {
    typealias Context = BasicRequestContext
    let server: Server

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let clock = Stopwatch()
        let response: Response
        if server.needsToken(request.uri.path) && !server.authorized(request.headers[.authorization]) {
            response = server.errorResponse(.unauthorized)
        } else {
            do {
                response = try await next(request, context)
            } catch let error as APIError {
                response = server.errorResponse(error)
            } catch let error as any HTTPResponseError {
                let status = Int(error.status.code)
                let message = status == 404 ? "no endpoint \(request.method.rawValue) \(request.uri.path)" : "\(error.status.reasonPhrase)"
                response = server.errorResponse(APIError(status: status, message: message, type: "invalid_request_error",
                                                         code: status == 404 ? "not_found" : nil))
            } catch {
                response = server.errorResponse(APIError.from(error))
            }
        }
        server.finished(request, response: response, seconds: clock.seconds)
        return response
    }
}
