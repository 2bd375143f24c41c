import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `serve` process of the built executables on a port the kernel picked (`--port 0`; the port
/// is read from its "listening on" line, so no two tests race for one). Stopped (SIGTERM, then
/// SIGKILL after 15 s) by `stop()` or when the value goes away, so no test leaves one running.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    private(set) var port = 0
    private let log = LogBuffer()
    let session: URLSession

    /// Starts `serve ARGS --port 0` in `directory` and waits (at most `startTimeout` s) until it listens.
    init(_ arguments: [String], in directory: String, environment: [String: String] = [:], startTimeout: Double = 120) throws {
        let executable = commandDirectory + "/serve"
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ServeTestError("no serve executable at \(executable): run `swift build` (make test does) first")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments + ["--port", "0"]
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.timeoutIntervalForResource = 120
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
        try process.run()
        let handle = err.fileHandleForReading, log = log
        DispatchQueue.global().async {
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                log.append(data)
            }
        }
        let deadline = Date().addingTimeInterval(startTimeout)
        while Date() < deadline {
            if let range = log.text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(log.text[range].split(separator: ":").last!)!
                return
            }
            guard process.isRunning else { throw ServeTestError("serve exited with status \(process.terminationStatus) before listening: \(log.text)") }
            usleep(20_000)
        }
        _ = stop()
        throw ServeTestError("serve did not listen within \(startTimeout) s: \(log.text)")
    }

    deinit { _ = stop() }

    /// Everything it wrote to stderr so far.
    var stderr: String { log.text }

    /// Waits (at most `timeout` s) until stderr holds `text`, without holding a thread (the
    /// tests' own load tasks need the pool meanwhile).
    func waitForLog(_ text: String, timeout: Double = 30) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            // Checked before the clock: the wait may have been stalled past the deadline.
            if log.text.contains(text) { return true }
            if Date() >= deadline { return false }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// Reads `read()` until `done` holds of the value, giving up only once `timeout` s have passed
    /// and `attempts` readings were made: in a full run other tests' blocking waits can hold the
    /// test process's cooperative pool for minutes, so one reading can outlast the deadline while
    /// the event it waits for has happened meanwhile. Returns the last value read.
    func eventually<T>(timeout: Double, attempts: Int = 10, _ read: () async throws -> T, until done: (T) -> Bool) async rethrows -> T {
        let deadline = Date().addingTimeInterval(timeout)
        var made = 0
        while true {
            let value = try await read()
            made += 1
            if done(value) || (Date() >= deadline && made >= attempts) { return value }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// SIGTERM and wait; SIGKILL after `timeout` s. Returns the exit status (-1 when it had to be killed).
    @discardableResult
    func stop(timeout: Double = 15) -> Int32 {
        guard process.processIdentifier > 0 else { return -1 }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return -1
            }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        init(status: Int, headers: [String: String], body: Data) { self.status = status; self.headers = headers; self.body = body }
        init(_ http: HTTPURLResponse, body: Data) {
            var h: [String: String] = [:]
            for (k, v) in http.allHeaderFields { h["\(k)"] = "\(v)" }
            self.init(status: http.statusCode, headers: h, body: body)
        }
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            guard let o = try JSONSerialization.jsonObject(with: body) as? [String: Any] else { throw ServeTestError("not a JSON object: \(text)") }
            return o
        }
        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
        /// The `error.code` of an error reply.
        var errorCode: String? { ((try? json())?["error"] as? [String: Any])?["code"] as? String }
    }

    func request(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = method
        r.httpBody = body
        r.timeoutInterval = 60
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        if body != nil && headers["Content-Type"] == nil { r.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, response) = try await session.data(for: r)
        return Reply(response as! HTTPURLResponse, body: data)
    }

    /// Sends a POST at once, from URLSession's own threads: unlike a `Task`, it does not wait for
    /// a turn on the test process's cooperative pool, which other tests' blocking waits can hold
    /// for minutes in a full run. `PendingReply.value` waits for the answer.
    func send(_ path: String, _ object: Any) throws -> PendingReply {
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        r.httpMethod = "POST"
        r.httpBody = try JSONSerialization.data(withJSONObject: object)
        r.timeoutInterval = 600
        r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        // Its own session: the shared one gives up on a request after 120 s, and a held request
        // in a stalled full run can take longer than that.
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 600
        configuration.timeoutIntervalForResource = 1200
        let pending = PendingReply(session: URLSession(configuration: configuration))
        pending.session.dataTask(with: r) { data, response, error in
            if let http = response as? HTTPURLResponse, let data {
                pending.finish(.success(Reply(http, body: data)))
            } else {
                pending.finish(.failure(error ?? ServeTestError("no HTTP response")))
            }
        }.resume()
        return pending
    }

    final class PendingReply: @unchecked Sendable {
        let session: URLSession
        init(session: URLSession) { self.session = session }
        deinit { session.finishTasksAndInvalidate() }
        private let lock = NSLock()
        private var result: Result<Reply, any Error>?
        func finish(_ r: Result<Reply, any Error>) { lock.withLock { result = r } }
        var value: Reply {
            get async throws {
                while true {
                    if let r = lock.withLock({ result }) { return try r.get() }
                    try await Task.sleep(nanoseconds: 10_000_000)
                }
            }
        }
    }

    func post(_ path: String, _ object: Any, headers: [String: String] = [:]) async throws -> Reply {
        try await request("POST", path, body: try JSONSerialization.data(withJSONObject: object), headers: headers)
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> Reply {
        try await request("GET", path, headers: headers)
    }

    /// Whether a new connection (not one the shared session keeps alive) gets `/healthz` answered.
    func acceptsConnections() async -> Bool {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 5
        let fresh = URLSession(configuration: configuration)
        defer { fresh.invalidateAndCancel() }
        var r = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/healthz")!)
        r.setValue("close", forHTTPHeaderField: "Connection")
        guard let (_, response) = try? await fresh.data(for: r) else { return false }
        return (response as? HTTPURLResponse)?.statusCode == 200
    }

    /// The value of one series of `/metrics` (exact labels as printed), or nil.
    func metric(_ series: String) async throws -> Double? {
        let text = try await get("/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last!)
        }
        return nil
    }
}

struct ServeTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class LogBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}

/// Two small corpora for the server tests: A about indexes, B (what A is replaced by) about fruit.
enum ServeCorpus {
    static func write(_ dir: TempDir, _ which: String = "a") {
        if which == "a" {
            dir.write("corpus-a/indexes.md", """
            # Vector indexes

            ## IVF

            An inverted file index partitions the vectors into lists with k-means clustering. At query time \
            only nprobe lists are scanned, so more probes mean higher recall and slower queries.

            ## Flat

            A flat index compares the query with every stored vector and is therefore exact.
            """)
            dir.write("corpus-a/compression.md", """
            # Compression

            Text blocks are compressed with zlib in blocks of sixty-four kibibytes, so fetching a hit inflates one block.
            """)
            dir.write("corpus-a/mapping.md", """
            # Memory mapping

            Memory-mapping a file makes its bytes addressable without reading them up front. Opening an index \
            is constant-time: map the file, read a small header, done. Several server processes share one copy \
            of a mapped index in memory.
            """)
            dir.write("corpus-a/tokens.txt", "Tokenizers split words into word pieces.\n\nA budget of tokens bounds each chunk.")
        } else {
            dir.write("corpus-b/fruit.md", """
            # Fruit

            Pineapples grow from a rosette of leaves and take about two years to fruit. Bananas are berries, \
            botanically, and strawberries are not.
            """)
            dir.write("corpus-b/orchards.md", """
            # Orchards

            Apple orchards are pruned in late winter, when the trees are dormant and the cuts heal fastest.
            """)
        }
    }

    /// Builds `name` from corpus `which` with the hash embedder (no model needed, fast in debug).
    static func hashIndex(_ dir: TempDir, _ which: String, _ name: String) throws {
        write(dir, which)
        let r = try shell("chunk --counter upper-bound corpus-\(which) | embed --embedder hash | build-index -o \(name)", in: dir.path)
        guard r.status == 0 else { throw ServeTestError("index build failed: \(r.stderr)") }
    }

    /// Builds `name` from corpus `which` with all-MiniLM-L6-v2.
    static func miniLMIndex(_ dir: TempDir, _ which: String, _ name: String) throws {
        write(dir, which)
        let m = "'\(modelDirectory)'"
        let r = try shell("chunk --model \(m) corpus-\(which) | embed --model \(m) | build-index -o \(name)", in: dir.path)
        guard r.status == 0 else { throw ServeTestError("index build failed: \(r.stderr)") }
    }
}

/// The object `query --json` prints for one question, without `timings_ms` (times differ per run).
func queryJSON(_ index: String, _ question: String, flags: String = "", in dir: String, model: Bool = false) throws -> [String: Any] {
    let r = try shell("query --json \(flags) \(model ? "--model '\(modelDirectory)'" : "") \(index) '\(question)'", in: dir)
    guard r.status == 0 || r.status == 84, var o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] else {
        throw ServeTestError("query failed (\(r.status)): \(r.stderr)")
    }
    o["timings_ms"] = nil
    return o
}

/// JSON objects compared as values: both written again with sorted keys, byte for byte.
func sameJSON(_ a: [String: Any], _ b: [String: Any]) -> Bool {
    let write = { (o: [String: Any]) in try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) }
    guard let x = write(a), let y = write(b) else { return false }
    return x == y
}
