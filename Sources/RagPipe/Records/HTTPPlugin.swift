import RagPipeSupport

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where and how to reach an OpenAI-compatible server; the fields every plugin request carries.
public struct HTTPEndpoint: Sendable {
    public var url: String
    /// Seconds without progress before a request fails.
    public var timeout = 120.0
    /// Retries on connection errors, 429 and 5xx.
    public var retries = 3
    /// Environment variable holding the API key; only the plugin reads it.
    public var apiKeyEnvironment = "OPENAI_API_KEY"

    public init(url: String, timeout: Double = 120, retries: Int = 3, apiKeyEnvironment: String = "OPENAI_API_KEY") {
        self.url = url; self.timeout = timeout; self.retries = retries; self.apiKeyEnvironment = apiKeyEnvironment
    }

    /// `"url": …, "timeout": …, "retries": …, "api_key_env": …` in a request being written.
    package func writeFields(to o: inout JSONObjectWriter) {
        o.field("url", url)
        o.field("timeout", timeout)
        o.field("retries", retries)
        o.field("api_key_env", apiKeyEnvironment)
    }
}

/// The HTTP client (libRagPipeHTTPPlugin, built from Sources/RagPipeHTTP on Foundation's
/// URLSession), opened with `dlopen` on first use: loading Foundation and FoundationNetworking
/// costs every process ~10 ms at start, and most runs of `query` never talk HTTP. Requests and
/// replies cross as JSON C strings (see PluginEntryPoints.swift).
public enum HTTPPlugin {
    public typealias TextCallback = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer?) -> Void
    package typealias Chat = @convention(c) (UnsafePointer<CChar>, TextCallback?, UnsafeMutableRawPointer?) -> UnsafeMutablePointer<CChar>?
    package typealias Probe = @convention(c) (UnsafePointer<CChar>) -> UnsafeMutablePointer<CChar>?
    package typealias Embed = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<Float>?, Int) -> UnsafeMutablePointer<CChar>?
    package typealias Free = @convention(c) (UnsafeMutablePointer<CChar>?) -> Void

    package struct Functions {
        package let chat: Chat
        package let contextSize: Probe
        package let embed: Embed
        package let free: Free
    }

    #if os(macOS)
    static let fileName = "libRagPipeHTTPPlugin.dylib"
    #else
    static let fileName = "libRagPipeHTTPPlugin.so"
    #endif

    /// Looked up in `$RAGPIPE_HTTP_PLUGIN`, beside the executable, then the loader's path.
    package static let functions: Result<Functions, RagPipeError> = {
        var candidates: [String] = []
        if let path = ProcessEnvironment.value("RAGPIPE_HTTP_PLUGIN") { candidates.append(path) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            let exe = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = exe.lastIndex(of: "/") { candidates.append(String(exe[..<slash]) + "/" + fileName) }
        }
        candidates.append(fileName)
        for path in candidates {
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { continue }
            guard let chat = dlsym(handle, "ragpipe_http_chat"), let context = dlsym(handle, "ragpipe_http_context_size"),
                  let embed = dlsym(handle, "ragpipe_http_embed"), let free = dlsym(handle, "ragpipe_http_free") else { continue }
            return .success(Functions(chat: unsafeBitCast(chat, to: Chat.self), contextSize: unsafeBitCast(context, to: Probe.self),
                                      embed: unsafeBitCast(embed, to: Embed.self), free: unsafeBitCast(free, to: Free.self)))
        }
        let reason = dlerror().map { String(cString: $0) } ?? "not found"
        return .failure(.unavailable("the HTTP client \(fileName) could not be loaded (looked in $RAGPIPE_HTTP_PLUGIN, beside the executable, "
            + "and the library path: \(reason)); it is built with the tools by `swift build`"))
    }()

    /// The `ok` object of a reply as a reader positioned inside it, or the reply's error.
    package static func parse(_ reply: UnsafeMutablePointer<CChar>?, free: Free, _ read: (inout JSONScanner, UnsafeRawBufferPointer) throws -> Void) throws {
        guard let reply else { throw RagPipeError.unavailable("the HTTP client returned nothing") }
        defer { free(reply) }
        let raw = UnsafeRawBufferPointer(start: reply, count: strlen(reply))
        var s = JSONScanner(raw)
        var message: String?, status: Int32 = 1
        do {
            try s.beginObject()
            while let key = try s.nextKey() {
                if key.equals("ok") { try read(&s, raw) }
                else if key.equals("error") { message = try s.readString() }
                else if key.equals("status") { status = Int32(truncatingIfNeeded: try s.readInt()) }
                else { try s.skipValue() }
            }
        } catch let error as JSONScanError {
            throw RagPipeError.unavailable("the HTTP client's reply is not JSON: \(error)")
        }
        if let message { throw RagPipeError.remote(message: message, status: status) }
    }
}
