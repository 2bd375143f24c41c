import Foundation
import Testing
import RagPipeEmbedding
import RagPipeIndex
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `serve` as a client sees it: the built executable on a real socket, every endpoint and error.
/// Indexes use the hash embedder (no model) unless a test needs MiniLM's semantics.
@Suite struct ServeTests {
    @Test func queryAnswersWithQueryJSONsObject() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx"], in: dir.path)
        let cases: [(body: [String: Any], flags: String)] = [
            ([:], ""),
            (["k": 2, "mode": "dense"], "-k 2 --mode dense"),
            (["fusion": "rrf", "answer_sentences": 1], "--fusion rrf --answer-sentences 1"),
            (["mode": "bm25", "bm25_k1": 1.2, "bm25_b": 0.75], "--mode bm25 --bm25-k1 1.2 --bm25-b 0.75"),
            (["strict": true, "min_score": 0.1, "weight": 0.3], "--strict --min-score 0.1 --weight 0.3"),
        ]
        for question in ["how many lists does IVF scan at query time?", "banana bread with walnuts"] {
            for c in cases {
                var body = c.body
                body["query"] = question
                let reply = try await server.post("/v1/query", body, headers: ["Cache-Control": "no-cache"])
                #expect(reply.status == 200, "\(reply.text)")
                var served = try reply.json()
                #expect(served["timings_ms"] is [String: Any])
                served["timings_ms"] = nil
                let printed = try queryJSON("a.ragx", question, flags: c.flags, in: dir.path)
                #expect(sameJSON(served, printed), "\(c.flags) \(question): served \(served) printed \(printed)")
                #expect(reply.header("X-RagPipe-Cache") == "miss")
            }
        }
        // The same question again, in other case and spacing: an exact (L1) hit with the same answer.
        let first = try await server.post("/v1/query", ["query": "Which index is exact?"])
        let again = try await server.post("/v1/query", ["query": "  which   INDEX is exact? "])
        #expect(first.header("X-RagPipe-Cache") == "miss" && again.header("X-RagPipe-Cache") == "l1")
        var a = try first.json(), b = try again.json()
        #expect(b["query"] as? String == "which   INDEX is exact?", "a cached answer carries the question asked")
        for key in ["timings_ms", "query"] { a[key] = nil; b[key] = nil }
        #expect(sameJSON(a, b))
        // Other options are another cache entry.
        let otherK = try await server.post("/v1/query", ["query": "Which index is exact?", "k": 1])
        #expect(otherK.header("X-RagPipe-Cache") == "miss")
        #expect(try await server.metric(#"ragpipe_cache_requests_total{level="l1"}"#) == 1)
        #expect(try await server.metric(#"ragpipe_http_requests_total{endpoint="/v1/query",status="200"}"#) == 13)
        #expect(server.stop() == 0)
        #expect(server.stderr.contains("serve: access ts="))
        #expect(server.stderr.contains("method=POST path=/v1/query status=200"))
        #expect(server.stderr.contains("cache=l1"))
    }

    @Test func errorsAreJSONWithTheirStatus() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx", "--max-body", "4096"], in: dir.path)
        func raw(_ body: String, _ path: String = "/v1/query") async throws -> ServeProcess.Reply {
            try await server.request("POST", path, body: Data(body.utf8))
        }
        var r = try await raw(#"{"query": "x""#)
        #expect(r.status == 400 && r.errorCode == "invalid_json", "\(r.text)")
        r = try await raw("not json")
        #expect(r.status == 400 && r.errorCode == "invalid_json", "\(r.text)")
        r = try await raw(#"{"query": "x", "top_k": 3}"#)
        #expect(r.status == 400 && r.errorCode == "unknown_field" && r.text.contains("'top_k'"), "\(r.text)")
        r = try await raw(#"{"query": "x", "k": 0}"#)
        #expect(r.status == 400 && r.errorCode == "invalid_option" && r.text.contains("k must be in 1...10000"), "\(r.text)")
        r = try await raw(#"{"query": "x", "k": "five"}"#)
        #expect(r.status == 400 && r.text.contains("'k' must be a number"), "\(r.text)")
        r = try await raw(#"{"query": "x", "mode": "fast"}"#)
        #expect(r.status == 400 && r.text.contains("'dense', 'bm25', 'hybrid'"), "\(r.text)")
        r = try await raw(#"{"query": "   "}"#)
        #expect(r.status == 400, "\(r.text)")
        r = try await raw(#"{"k": 3}"#)
        #expect(r.status == 400 && r.text.contains("'query' is required"), "\(r.text)")
        r = try await raw(#"{"query": "x", "query": "y"}"#)
        #expect(r.status == 400 && r.text.contains("twice"), "\(r.text)")
        r = try await raw(#"{"query": "\#(String(repeating: "a", count: 5000))"}"#)
        #expect(r.status == 413 && r.errorCode == "body_too_large", "\(r.text)")
        r = try await server.get("/v1/nothing")
        #expect(r.status == 404 && r.errorCode == "not_found", "\(r.text)")
        r = try await raw(#"{"input": "x", "dimensions": 128}"#, "/v1/embeddings")
        #expect(r.status == 400 && r.errorCode == "wrong_dimension", "\(r.text)")
        r = try await raw(#"{"input": "x", "model": "text-embedding-3-small"}"#, "/v1/embeddings")
        #expect(r.status == 404 && r.errorCode == "model_not_found", "\(r.text)")
        r = try await raw(#"{"input": "x", "encoding": "float"}"#, "/v1/embeddings")
        #expect(r.status == 400 && r.errorCode == "unknown_field", "\(r.text)")
        r = try await raw(#"{"input": [[101, 2000, 102]]}"#, "/v1/embeddings")
        #expect(r.status == 400 && r.text.contains("takes text only"), "a hash index cannot take token ids: \(r.text)")
        r = try await raw(#"{"messages": []}"#, "/v1/chat/completions")
        #expect(r.status == 400 && r.text.contains("'messages' is required"), "\(r.text)")
        r = try await raw(#"{"messages": [{"role": "user", "content": "hi"}], "frequency": 1}"#, "/v1/chat/completions")
        #expect(r.status == 400 && r.errorCode == "unknown_field", "\(r.text)")
        // Still serving after all of that.
        r = try await raw(#"{"query": "what does a flat index compare?"}"#)
        #expect(r.status == 200)
        #expect(try await server.metric(#"ragpipe_http_requests_total{endpoint="/v1/query",status="400"}"#) == 9)
        #expect(try await server.metric(#"ragpipe_http_requests_total{endpoint="/v1/query",status="413"}"#) == 1)
        #expect(try await server.metric(#"ragpipe_http_requests_total{endpoint="other",status="404"}"#) == 1)
    }

    @Test func healthMetricsModelsAndPage() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx"], in: dir.path)
        let health = try await server.get("/healthz").json()
        #expect(health["status"] as? String == "ok" && health["generation"] as? Int == 1 && health["model"] as? String == HashEmbedder.modelName)
        let abstained = try await server.post("/v1/query", ["query": "banana bread with walnuts"]).json()
        #expect(abstained["abstained"] as? Bool == true)
        _ = try await server.post("/v1/query", ["query": "how many lists does IVF scan at query time?"])
        let metrics = try await server.get("/metrics")
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
        for series in ["# TYPE ragpipe_http_request_duration_seconds histogram", #"ragpipe_answers_total{outcome="abstained"} 1"#,
                       #"ragpipe_answers_total{outcome="answered"} 1"#, "ragpipe_index_generation 1", #"ragpipe_cache_requests_total{level="miss"} 2"#,
                       #"ragpipe_http_request_duration_seconds_count{endpoint="/v1/query"} 2"#, "ragpipe_answer_groundedness_count 1"] {
            #expect(metrics.text.contains(series + "\n") || metrics.text.contains(series), "missing \(series) in \(metrics.text)")
        }
        // Histogram buckets are cumulative.
        let buckets = metrics.text.split(separator: "\n").filter { $0.hasPrefix(#"ragpipe_http_request_duration_seconds_bucket{endpoint="/v1/query""#) }
            .map { Double($0.split(separator: " ").last!)! }
        #expect(buckets.count == 15 && buckets == buckets.sorted() && buckets.last == 2)
        let models = try await server.get("/v1/models").json()
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "ragpipe-a")
        let page = try await server.get("/")
        #expect(page.status == 200 && page.header("Content-Type")?.hasPrefix("text/html") == true)
        #expect(page.text.contains("/v1/query") && page.text.contains("<form"))
        #expect(!page.text.contains("src=\"http") && !page.text.contains("href=\"http"), "the page loads nothing from elsewhere")
    }

    @Test func bearerToken() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx", "--api-key-env", "SERVE_TEST_KEY"], in: dir.path, environment: ["SERVE_TEST_KEY": "s3cret"])
        #expect(try await server.post("/v1/query", ["query": "flat index"]).status == 401)
        #expect(try await server.post("/v1/query", ["query": "flat index"], headers: ["Authorization": "Bearer s3cre"]).status == 401)
        #expect(try await server.get("/metrics").status == 401)
        #expect(try await server.post("/v1/query", ["query": "flat index"], headers: ["Authorization": "Bearer s3cret"]).status == 200)
        #expect(try await server.get("/healthz").status == 200)
        #expect(try await server.get("/healthz").json()["auth"] as? Bool == true)
        #expect(!server.stderr.contains("s3cret"), "the key is never logged")
        let unset = try shell("serve a.ragx --api-key-env SERVE_TEST_UNSET --port 0", in: dir.path)
        #expect(unset.status == 64 && unset.stderr.contains("SERVE_TEST_UNSET"), "\(unset.stderr)")
    }

    @Test func chatCompletionsAnswerWithCitationsAndStream() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx"], in: dir.path)
        let question = "how many lists does IVF scan at query time?"
        let messages: [[String: Any]] = [["role": "system", "content": "Answer briefly."], ["role": "user", "content": "hello"],
                                         ["role": "assistant", "content": "Hi."], ["role": "user", "content": question]]
        let reply = try await server.post("/v1/chat/completions", ["model": "anything", "messages": messages, "temperature": 0.2, "max_tokens": 100])
        #expect(reply.status == 200, "\(reply.text)")
        let o = try reply.json()
        #expect(o["object"] as? String == "chat.completion")
        let choice = (o["choices"] as! [[String: Any]])[0]
        let content = (choice["message"] as! [String: Any])["content"] as! String
        #expect(choice["finish_reason"] as? String == "stop")
        let printed = try queryJSON("a.ragx", question, in: dir.path)
        let answer = printed["answer"] as! String
        #expect(content.hasPrefix(answer), "the last user message is the question: \(content)")
        #expect(content.contains("\n\nSources:\n[1] indexes.md:"), "\(content)")
        var embedded = o["ragpipe"] as! [String: Any]
        embedded["timings_ms"] = nil
        #expect(sameJSON(embedded, printed))

        // stream: true as server-sent events whose pieces make the same content.
        let stream = try await server.post("/v1/chat/completions", ["messages": messages, "stream": true])
        #expect(stream.status == 200 && stream.header("Content-Type") == "text/event-stream")
        let events = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        #expect(events.last == "data: [DONE]")
        var streamed = ""
        var finish: String?
        for event in events.dropLast() {
            #expect(event.hasPrefix("data: "))
            let chunk = try JSONSerialization.jsonObject(with: Data(event.dropFirst(6).utf8)) as! [String: Any]
            #expect(chunk["object"] as? String == "chat.completion.chunk")
            let c = (chunk["choices"] as! [[String: Any]])[0]
            streamed += ((c["delta"] as? [String: Any])?["content"] as? String) ?? ""
            if let f = c["finish_reason"] as? String { finish = f }
        }
        #expect(streamed == content && finish == "stop" && events.count > 3)
    }

    /// A shard manifest is served as the one index of all its shards: every answer is what
    /// `query --json` prints from one index of the same stream, and replacing the manifest (by
    /// rename, as build-index --manifest writes it) reloads the set.
    @Test func aShardSetIsServedAsOneIndex() async throws {
        let dir = try TempDir()
        ServeCorpus.write(dir, "a")
        let made = try shell("""
            chunk --counter upper-bound corpus-a | embed --embedder hash > all.jsonl && build-index -o one.ragx all.jsonl \
            && grep -v end_of_stream all.jsonl > rows && head -n 3 rows > p0.jsonl && tail -n +4 rows > p1.jsonl \
            && build-index --allow-unterminated -o s0.ragx p0.jsonl && build-index --allow-unterminated -o s1.ragx p1.jsonl \
            && build-index --manifest -o set.json s0.ragx s1.ragx && build-index --manifest -o half.json s0.ragx
            """, in: dir.path)
        #expect(made.status == 0, "\(made.stderr)")
        let server = try ServeProcess(["set.json", "--reload-interval", "0.2"], in: dir.path)
        let health = try await server.get("/healthz").json()
        let one = try IndexReader(path: dir.path + "/one.ragx")
        #expect(health["chunks"] as? Int == one.count, "\(health)")
        for question in ["how many lists does IVF scan at query time?", "why memory-map an index?", "banana bread with walnuts"] {
            for (body, flags) in [([String: Any](), ""), (["mode": "bm25"], "--mode bm25"), (["k": 3, "fusion": "rrf"], "-k 3 --fusion rrf")] {
                var request = body
                request["query"] = question
                let reply = try await server.post("/v1/query", request, headers: ["Cache-Control": "no-cache"])
                #expect(reply.status == 200, "\(reply.text)")
                var served = try reply.json()
                served["timings_ms"] = nil
                let printed = try queryJSON("one.ragx", question, flags: flags, in: dir.path)
                #expect(sameJSON(served, printed), "\(flags) \(question): served \(served) printed \(printed)")
            }
        }
        // The manifest renamed over by one that names fewer shards: the set is mapped again.
        let swapped = try shell("cp half.json next.json && mv next.json set.json", in: dir.path)
        #expect(swapped.status == 0)
        #expect(await server.waitForLog("reloaded", timeout: 60), "\(server.stderr)")
        let after = try await server.get("/healthz").json()
        #expect(after["chunks"] as? Int == (try IndexReader(path: dir.path + "/s0.ragx")).count, "\(after)")
        _ = server.stop()
    }

    @Test func reloadSwapsTheIndexAndRefusesADamagedOne() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        try ServeCorpus.hashIndex(dir, "b", "b.ragx")
        try FileManager.default.copyItem(atPath: dir.path + "/a.ragx", toPath: dir.path + "/live.ragx")
        let server = try ServeProcess(["live.ragx", "--reload-interval", "0.1"], in: dir.path)
        let question = ["query": "when are apple orchards pruned?"]
        let before = try await server.post("/v1/query", question)
        #expect(before.header("X-RagPipe-Index-Generation") == "1")
        #expect(try before.json()["abstained"] as? Bool == true, "corpus a knows nothing of orchards")
        #expect(try await server.post("/v1/query", question).header("X-RagPipe-Cache") == "l1")

        // Requests keep going while the file is replaced (a damaged file, then index b), until
        // some were answered by the new index: none may fail.
        let stop = LogBuffer()
        let load = Task { () -> (byGeneration: [String: Int], failed: [String]) in
            var byGeneration: [String: Int] = [:], failed: [String] = []
            var i = 0
            let start = Date()
            while stop.text.isEmpty && Date().timeIntervalSince(start) < 300 {
                i += 1
                do {
                    let r = try await server.post("/v1/query", ["query": "what does a flat index compare? \(i)"])
                    if r.status == 200 { byGeneration[r.header("X-RagPipe-Index-Generation") ?? "?", default: 0] += 1 } else { failed.append("\(r.status) \(r.text)") }
                } catch { failed.append("\(error)") }
            }
            return (byGeneration, failed)
        }
        // The load must have been answered by the first file before any swap (the task may start late).
        let started = Date().addingTimeInterval(120)
        while server.stderr.components(separatedBy: "generation=1").count < 4 && Date() < started { try await Task.sleep(nanoseconds: 20_000_000) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/b.ragx"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir.path + "/damaged.tmp"))
        #expect(rename(dir.path + "/damaged.tmp", dir.path + "/live.ragx") == 0)
        #expect(await server.waitForLog("cannot be served, still serving generation 1", timeout: 120), "\(server.stderr)")
        #expect(try await server.get("/healthz").json()["generation"] as? Int == 1)
        try FileManager.default.copyItem(atPath: dir.path + "/b.ragx", toPath: dir.path + "/b.tmp")
        #expect(rename(dir.path + "/b.tmp", dir.path + "/live.ragx") == 0)
        #expect(await server.waitForLog("reloaded", timeout: 120), "\(server.stderr)")
        // A few more requests on the new index, then stop the load.
        let deadline = Date().addingTimeInterval(120)
        while server.stderr.components(separatedBy: "generation=2").count < 4 && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        stop.append(Data("stop".utf8))
        let (byGeneration, failed) = await load.value
        #expect(failed.isEmpty, "requests failed during the swaps: \(failed.prefix(3))")
        #expect((byGeneration["1"] ?? 0) > 0 && (byGeneration["2"] ?? 0) > 0, "requests were answered by both files: \(byGeneration)")

        let after = try await server.post("/v1/query", question)
        #expect(after.header("X-RagPipe-Index-Generation") == "2")
        #expect(after.header("X-RagPipe-Cache") == "miss", "the cache was emptied on reload")
        let answer = try after.json()
        #expect(answer["abstained"] as? Bool == false && (answer["answer"] as? String)?.contains("late winter") == true, "\(answer)")
        #expect(try await server.metric(#"ragpipe_index_reloads_total{result="refused"}"#) == 1)
        #expect(try await server.metric(#"ragpipe_index_reloads_total{result="reloaded"}"#) == 1)
        #expect(try await server.metric("ragpipe_index_generation") == 2)
    }

    @Test func aRequestOverItsTimeLimitIs503() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        dir.write("hold", "")
        let server = try ServeProcess(["a.ragx", "--request-timeout", "0.5", "--hold-while-exists", dir.path + "/hold"], in: dir.path)
        // The computation is held past its limit, however fast or loaded the machine is.
        let r = try await server.post("/v1/embeddings", ["input": ["memory mapped index"]])
        #expect(r.status == 503 && r.errorCode == "timeout" && r.header("Retry-After") == "1", "\(r.status) \(r.text.prefix(200))")
        #expect(try await server.get("/healthz").status == 200, "still serving")
        try FileManager.default.removeItem(atPath: dir.path + "/hold")
        let after = try await server.post("/v1/embeddings", ["input": ["memory mapped index"]])
        #expect(after.status == 200, "a request within its limit is answered: \(after.status) \(after.text.prefix(200))")
    }

    @Test func saturationIsRefusedWith429AndSIGTERMDrains() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let hold = dir.path + "/hold"
        dir.write("hold", "")
        let server = try ServeProcess(["a.ragx", "--workers", "1", "--queue", "0", "--request-timeout", "600", "--hold-while-exists", hold], in: dir.path)
        let texts = ["memory mapped index", "an inverted file"]
        // The one worker stays busy with this request until the hold file is removed.
        let running = try server.send("/v1/embeddings", ["input": texts])
        let busy = try await server.eventually(timeout: 120, { try await server.metric("ragpipe_busy_requests") }, until: { $0 == 1 })
        #expect(busy == 1, "the held request is running: \(server.stderr.suffix(2000))")

        // One worker and no queue: every other computation is refused at once; health still answers.
        let refused = await withTaskGroup(of: (Int, String?, String?).self) { group in
            for i in 0..<4 {
                group.addTask {
                    let r = i % 2 == 0 ? try? await server.post("/v1/embeddings", ["input": texts])
                                       : try? await server.post("/v1/query", ["query": "what is an inverted file?"])
                    return (r?.status ?? -1, r?.header("Retry-After"), r?.errorCode)
                }
            }
            var all: [(Int, String?, String?)] = []
            for await r in group { all.append(r) }
            return all
        }
        #expect(refused.count == 4 && refused.allSatisfy { $0.0 == 429 && $0.1 == "1" }, "\(refused)")
        #expect(try await server.get("/healthz").status == 200)

        // SIGTERM while the request runs: new connections are refused, the running request is
        // answered, then the process exits 0.
        kill(server.process.processIdentifier, SIGTERM)
        let accepting = await server.eventually(timeout: 60, { await server.acceptsConnections() }, until: { !$0 })
        #expect(!accepting, "no new connection is accepted after SIGTERM")
        #expect(server.process.isRunning, "the process waits for the running request")
        try FileManager.default.removeItem(atPath: hold)
        let reply = try await running.value
        #expect(reply.status == 200, "\(reply.status) \(reply.text.prefix(200))")
        #expect((try reply.json()["data"] as? [Any])?.count == 2)
        #expect(server.stop() == 0)
        #expect(server.stderr.contains("serve: stopped"))
    }
}

/// The endpoints whose point is MiniLM: OpenAI-compatible embeddings that `embed --embedder openai`
/// and `query --embed-url` use, and the semantic (L2) cache.
@Suite(.enabled(if: modelAvailable, "needs the model: run `make model`"))
struct ServeMiniLMTests {
    @Test func embeddingsServeTheNativeVectorsToOpenAIClients() async throws {
        let dir = try TempDir()
        try ServeCorpus.miniLMIndex(dir, "a", "m.ragx")
        let server = try ServeProcess(["m.ragx", "--model", modelDirectory], in: dir.path)
        let texts = ["what does a flat index compare?", "Tokenizers split words into word pieces.", "é 東京 ok"]
        dir.write("texts.txt", texts.joined(separator: "\n") + "\n")
        let native = try shell("embed --model '\(modelDirectory)' --lines --format jsonl < texts.txt", in: dir.path)
        #expect(native.status == 0, "\(native.stderr)")
        let nativeVectors = native.stdout.split(separator: "\n").compactMap { line -> [Double]? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["embedding"] as? [Double]
        }
        #expect(nativeVectors.count == 3)

        let reply = try await server.post("/v1/embeddings", ["input": texts, "model": "all-MiniLM-L6-v2", "encoding_format": "float"])
        #expect(reply.status == 200, "\(reply.text)")
        let data = try reply.json()["data"] as! [[String: Any]]
        for (i, item) in data.enumerated() {
            let v = item["embedding"] as! [Double]
            #expect(item["index"] as? Int == i && v.count == 384)
            #expect(zip(v, nativeVectors[i]).allSatisfy { abs($0 - $1) < 1e-6 }, "text \(i)")
        }
        // base64: the same float32 bytes, little-endian.
        let b64 = try await server.post("/v1/embeddings", ["input": texts[0], "encoding_format": "base64"]).json()
        let raw = Data(base64Encoded: (b64["data"] as! [[String: Any]])[0]["embedding"] as! String)!
        let floats = raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(floats.count == 384 && zip(floats, nativeVectors[0]).allSatisfy { abs(Double($0) - $1) < 1e-6 })

        // The repo's own OpenAI client against it: embed --embedder openai, as text and as token ids.
        let url = "http://127.0.0.1:\(server.port)"
        for extra in ["", "--tokenizer '\(modelDirectory)'"] {
            let remote = try shell("embed --embedder openai --url \(url) \(extra) --lines --format jsonl < texts.txt", in: dir.path)
            #expect(remote.status == 0, "\(remote.stderr)")
            let remoteVectors = remote.stdout.split(separator: "\n").compactMap { line -> [Double]? in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["embedding"] as? [Double]
            }
            #expect(remoteVectors.count == 3)
            for (a, b) in zip(remoteVectors, nativeVectors) { #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 }, "\(extra)") }
        }
        // query --embed-url: the same hits, in the same order, as the native query.
        let question = "why memory-map an index file?"
        let viaServer = try queryJSON("m.ragx", question, flags: "--embed-url \(url)", in: dir.path)
        let local = try queryJSON("m.ragx", question, in: dir.path, model: true)
        let ids = { (o: [String: Any]) in (o["hits"] as! [[String: Any]]).map { $0["id"] as! String } }
        #expect(ids(viaServer) == ids(local) && !ids(local).isEmpty)
        #expect(viaServer["answer"] as? String == local["answer"] as? String)

        // The native answer is query --json's, to the last digit.
        var served = try await server.post("/v1/query", ["query": question]).json()
        served["timings_ms"] = nil
        #expect(sameJSON(served, local), "served \(served)\nprinted \(local)")
    }

    @Test func semanticCacheHitsParaphrasesAndNotOtherQuestions() async throws {
        let dir = try TempDir()
        try ServeCorpus.miniLMIndex(dir, "a", "m.ragx")
        let server = try ServeProcess(["m.ragx", "--model", modelDirectory], in: dir.path)
        let first = try await server.post("/v1/query", ["query": "why memory-map an index file?"])
        #expect(first.header("X-RagPipe-Cache") == "miss")
        // cosine 0.95+ to the first under MiniLM (docs/calibration/cache-paraphrases.tsv)
        let paraphrase = try await server.post("/v1/query", ["query": "why should an index file be memory-mapped?"])
        #expect(paraphrase.header("X-RagPipe-Cache") == "l2", "\(paraphrase.headers)")
        var a = try first.json(), b = try paraphrase.json()
        #expect(b["query"] as? String == "why should an index file be memory-mapped?")
        #expect((b["timings_ms"] as? [String: Any])?["search"] as? Double == 0)
        for key in ["timings_ms", "query"] { a[key] = nil; b[key] = nil }
        #expect(sameJSON(a, b), "an L2 hit serves the cached answer")
        let other = try await server.post("/v1/query", ["query": "how are text blocks compressed?"])
        #expect(other.header("X-RagPipe-Cache") == "miss")
        #expect(try await server.metric(#"ragpipe_cache_requests_total{level="l2"}"#) == 1)
        #expect(try await server.metric(#"ragpipe_cache_requests_total{level="miss"}"#) == 2)
        #expect(try await server.metric("ragpipe_cache_entries") == 2)
        // Exact repeats only: the paraphrase is computed.
        let strict = try ServeProcess(["m.ragx", "--model", modelDirectory, "--cache-threshold", "2"], in: dir.path)
        _ = try await strict.post("/v1/query", ["query": "why memory-map an index file?"])
        #expect(try await strict.post("/v1/query", ["query": "why should an index file be memory-mapped?"]).header("X-RagPipe-Cache") == "miss")
    }
}

/// Chromium's binary when installed (scripts/install-deps.sh test installs it).
let chromiumPath: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// The search page in a real browser: headless Chromium loads `/?q=…` (the page submits its form
/// with the question), and the rendered DOM must hold the answer, its [n] links and the sources.
@Suite(.enabled(if: chromiumPath != nil, "chromium not installed: apt-get install chromium (scripts/install-deps.sh test)"))
struct ServePageBrowserTests {
    func render(_ url: String, screenshot: String? = nil) throws -> String {
        let flags = "--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --window-size=1000,1300 --virtual-time-budget=20000"
        let what = screenshot.map { "--screenshot='\($0)'" } ?? "--dump-dom"
        let r = try shell("timeout 120 '\(chromiumPath!)' \(flags) \(what) '\(url)' 2>/dev/null")
        guard r.status == 0 else { throw ServeTestError("chromium exited with \(r.status)") }
        return r.stdout
    }

    @Test func pageShowsTheAnswerWithLinkedCitations() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx"], in: dir.path)
        let question = "how many lists does IVF scan at query time?"
        let printed = try queryJSON("a.ragx", question, in: dir.path)
        let url = "http://127.0.0.1:\(server.port)/?q=" + question.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let dom = try render(url)
        #expect(dom.contains(#"data-state="answered""#), "\(dom.suffix(2000))")
        let citations = printed["citations"] as! [[String: Any]]
        #expect(!citations.isEmpty)
        for c in citations {
            let n = c["n"] as! Int
            #expect(dom.contains(##"<a class="cite" href="#source-\##(n)">[\##(n)]</a>"##), "marker [\(n)] links to its source")
            #expect(dom.contains(##"<li id="source-\##(n)""##))
            #expect(dom.contains("\(c["source"] as! String):\(c["start"] as! Int)-\(c["end"] as! Int)"))
        }
        let answer = printed["answer"] as! String
        let firstSentence = String(answer[..<answer.range(of: " [")!.lowerBound])
        #expect(dom.contains(firstSentence), "the answer is rendered: \(firstSentence)")
        #expect(dom.contains("§ Vector indexes › IVF"), "the heading path of the cited hit")
        #expect(server.stderr.contains("method=POST path=/v1/query status=200"), "the page asked /v1/query")

        // The screenshot is kept as an artifact of the run.
        let artifacts = (productsDirectory as NSString).deletingLastPathComponent + "/artifacts"
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let png = artifacts + "/serve-page.png"
        try? FileManager.default.removeItem(atPath: png)
        _ = try render(url, screenshot: png)
        let size = (try FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot at \(png)")

        // An abstention is said plainly.
        let off = try render("http://127.0.0.1:\(server.port)/?q=banana%20bread%20with%20walnuts")
        #expect(off.contains("No answer: the index does not seem to hold one (abstained)"))
        #expect(off.contains("Closest sources"))
    }
}

/// The official OpenAI Python client (scripts/openai-client.sh: pinned, in a venv under .build),
/// when `make test` made it (it exports RAGPIPE_OPENAI_PYTHON) or it is in its usual place.
let openAIPython: String? = {
    if let p = ProcessInfo.processInfo.environment["RAGPIPE_OPENAI_PYTHON"], FileManager.default.isExecutableFile(atPath: p) { return p }
    var dir = productsDirectory
    while dir != "/" && !dir.hasSuffix("/.build") { dir = (dir as NSString).deletingLastPathComponent }
    let p = dir + "/openai-venv/bin/python"
    return FileManager.default.isExecutableFile(atPath: p) ? p : nil
}()

@Suite(.enabled(if: openAIPython != nil, "no OpenAI client venv: run scripts/openai-client.sh (make test does)"))
struct ServeOpenAIClientTests {
    @Test func theOfficialClientChatsAndEmbeds() async throws {
        let dir = try TempDir()
        try ServeCorpus.hashIndex(dir, "a", "a.ragx")
        let server = try ServeProcess(["a.ragx"], in: dir.path)
        let question = "how many lists does IVF scan at query time?"
        let script = try Fixtures.path("serve/openai_client.py")
        let r = try shell("timeout 120 '\(openAIPython!)' '\(script)' http://127.0.0.1:\(server.port) '\(question)'", in: dir.path)
        #expect(r.status == 0, "\(r.stderr)")
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let printed = try queryJSON("a.ragx", question, in: dir.path)
        let content = o["content"] as! String
        #expect(content.hasPrefix(printed["answer"] as! String), "\(content)")
        #expect(content.contains("Sources:\n[1] "))
        #expect(o["streamed"] as? String == content && o["stream_finish"] as? String == "stop" && o["finish_reason"] as? String == "stop")
        #expect(o["models"] as? [String] == ["ragpipe-a", HashEmbedder.modelName])
        #expect(o["embedding_count"] as? Int == 2 && o["embedding_dimension"] as? Int == 384 && o["embedding_model"] as? String == HashEmbedder.modelName)
        #expect(server.stderr.contains("path=/v1/chat/completions status=200"))
    }
}
