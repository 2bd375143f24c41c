import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RagPipeSupport
import RagPipeChunking
import RagPipeAnswering

/// POSTs JSON to an OpenAI-compatible server with timeouts and retries, synchronously (the
/// tools are synchronous pipelines). Built on URLSession, so https and proxies work as usual.
public final class HTTPTransport: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    public struct Settings: Sendable {
        /// Seconds without progress before a request fails.
        public var timeout: Double = 120
        /// Attempts after the first, on connection errors, 429 and 5xx.
        public var retries = 3
        /// First backoff; doubles per retry (a server's Retry-After wins when longer, up to 30 s).
        public var backoff: Double = 0.5
        /// Sent as `Authorization: Bearer …`; never printed or logged.
        public var apiKey: String?
        public init() {}

        /// The tools' common flags; the key is read from `apiKeyEnvironment` (empty means none).
        public init(timeout: Double, retries: Int, apiKeyEnvironment: String) {
            self.timeout = timeout
            self.retries = retries
            apiKey = ProcessEnvironment.value(apiKeyEnvironment).flatMap { $0.isEmpty ? nil : $0 }
        }
    }

    public let settings: Settings
    /// Told about each retry (one line, without the key).
    public var log: (String) -> Void = { Log.warning(Log.tool, $0) }
    private var session: URLSession!
    private let lock = NSLock()
    private var receivers: [Int: Receiver] = [:]

    final class Receiver {
        var status = 0
        var headers: [AnyHashable: Any] = [:]
        var body = Data()
        var error: Error?
        var onChunk: ((Data) -> Void)?
        var received = false
        let done = DispatchSemaphore(value: 0)
    }

    public init(settings: Settings) {
        self.settings = settings
        super.init()
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.timeout
        configuration.timeoutIntervalForResource = max(settings.timeout, 600)
        session = URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }

    deinit { session?.invalidateAndCancel() }

    public struct Response {
        public var status: Int
        public var body: Data
    }

    /// POSTs `body`; with `onChunk`, the body is handed over as it arrives (a streamed request is
    /// retried only while nothing has arrived). Throws `RagPipeError.unavailable` naming the URL
    /// when the server cannot be reached or keeps failing.
    public func post(_ url: URL, json body: Data, onChunk: ((Data) -> Void)? = nil) throws -> Response {
        var attempt = 0
        while true {
            var request = URLRequest(url: url)
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.setValue(onChunk == nil ? "application/json" : "text/event-stream", forHTTPHeaderField: "Accept")
            if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
            let r = perform(request, onChunk: onChunk)
            let retriable: String?
            if let error = r.error {
                retriable = describe(error)
            } else if r.status == 429 || (500...599).contains(r.status) {
                retriable = "HTTP \(r.status)"
            } else {
                retriable = nil
            }
            guard let reason = retriable else {
                guard (200...299).contains(r.status) else {
                    throw RagPipeError.unavailable("\(url.absoluteString): HTTP \(r.status): \(Self.snippet(r.body))")
                }
                return Response(status: r.status, body: r.body)
            }
            if attempt >= settings.retries || (onChunk != nil && r.received) {
                throw RagPipeError.unavailable("\(url.absoluteString): \(reason)" + (attempt > 0 ? " (after \(attempt + 1) attempts)" : ""))
            }
            var wait = settings.backoff * Double(1 << attempt)
            if let after = (r.headers["Retry-After"] as? String).flatMap(Double.init) { wait = max(wait, min(after, 30)) }
            log("\(url.host ?? "server"): \(reason); retrying in \(String(format: "%.1f", wait)) s (\(attempt + 1) of \(settings.retries))")
            Thread.sleep(forTimeInterval: wait)
            attempt += 1
        }
    }

    /// GET with one attempt (capability probes such as llama.cpp's `/props`).
    public func get(_ url: URL, timeout: Double = 5) -> Data? {
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        if let key = settings.apiKey { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        let r = perform(request, onChunk: nil)
        return r.error == nil && (200...299).contains(r.status) ? r.body : nil
    }

    private func perform(_ request: URLRequest, onChunk: ((Data) -> Void)?) -> Receiver {
        let receiver = Receiver()
        receiver.onChunk = onChunk
        let task = session.dataTask(with: request)
        lock.lock(); receivers[task.taskIdentifier] = receiver; lock.unlock()
        task.resume()
        receiver.done.wait()
        lock.lock(); receivers[task.taskIdentifier] = nil; lock.unlock()
        return receiver
    }

    private func receiver(_ task: URLSessionTask) -> Receiver? {
        lock.lock(); defer { lock.unlock() }
        return receivers[task.taskIdentifier]
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                           completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse, let r = receiver(dataTask) {
            r.status = http.statusCode
            r.headers = http.allHeaderFields
        }
        completionHandler(.allow)
    }

    public func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        guard let r = receiver(dataTask) else { return }
        if let onChunk = r.onChunk, (200...299).contains(r.status) {
            r.received = true
            onChunk(data)
        } else {
            r.body.append(data)
        }
    }

    public func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let r = receiver(task) else { return }
        r.error = error
        r.done.signal()
    }

    func describe(_ error: Error) -> String {
        let e = error as NSError
        switch e.code {
        case NSURLErrorCannotConnectToHost: return "cannot connect (is the server running?)"
        case NSURLErrorTimedOut: return "timed out after \(Int(settings.timeout)) s"
        case NSURLErrorNetworkConnectionLost: return "connection lost"
        case NSURLErrorCannotFindHost: return "unknown host"
        default: return e.localizedDescription
        }
    }

    static func snippet(_ body: Data) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
        return text.isEmpty ? "(empty body)" : text
    }
}

extension URL {
    /// `base` may be `http://host:port`, `…/v1`, or the full endpoint URL.
    static func endpoint(_ base: String, _ path: String) throws -> URL {
        var s = base
        while s.hasSuffix("/") { s.removeLast() }
        if s.hasSuffix(path) { s.removeLast(path.count) }
        if s.hasSuffix("/v1") { s.removeLast(3) }
        guard let url = URL(string: s + path), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
            throw RagPipeError.usage("'\(base)' is not an http(s) URL")
        }
        return url
    }
}
