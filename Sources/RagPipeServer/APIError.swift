import RagPipeSupport
import RagPipeRecords

/// An error answered as JSON in OpenAI's shape, on every endpoint:
/// `{"error": {"message": "…", "type": "invalid_request_error", "code": "unknown_field"}}`.
struct APIError: Error, CustomStringConvertible {
    var status: Int
    var message: String
    var type: String
    var code: String?
    /// Sent as `Retry-After` (429, 503).
    var retryAfterSeconds: Int?

    var description: String { message }

    static func badRequest(_ message: String, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", code: code)
    }

    static func notFound(_ message: String, code: String? = nil) -> APIError {
        APIError(status: 404, message: message, type: "invalid_request_error", code: code)
    }

    /// The body is larger than the server takes.
    static func tooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "the request body is larger than \(limit) bytes (--max-body)", type: "invalid_request_error",
                 code: "body_too_large")
    }

    static let unauthorized = APIError(status: 401, message: "missing or wrong bearer token (Authorization: Bearer …)",
                                       type: "authentication_error", code: "invalid_api_key")

    static func saturated(_ busy: Int) -> APIError {
        APIError(status: 429, message: "the server is saturated (\(busy) requests running or queued); retry later",
                 type: "rate_limit_error", code: "saturated", retryAfterSeconds: 1)
    }

    static func timedOut(_ seconds: Double) -> APIError {
        APIError(status: 503, message: "the request took longer than \(seconds) s (--request-timeout)", type: "server_error",
                 code: "timeout", retryAfterSeconds: 1)
    }

    /// A library error: the caller's when it is a usage error, else the server's.
    static func from(_ error: any Error) -> APIError {
        if let api = error as? APIError { return api }
        if case RagPipeError.usage(let message) = error { return .badRequest(message) }
        return APIError(status: 500, message: "\(error)", type: "server_error", code: nil)
    }

    var json: [UInt8] {
        var out = JSONObjectWriter.bytes { o in
            o.object("error") { e in
                e.field("message", message)
                e.field("type", type)
                if let code { e.field("code", code) }
            }
        }
        out.append(0x0A)
        return out
    }
}
