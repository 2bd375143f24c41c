import ArgumentParser
import RagPipeRecords

/// How to talk to an OpenAI-compatible server (`embed --embedder openai`, `query --embed-url`
/// and `--llm`): time limit, retries and where the API key is.
public struct HTTPOptions: ParsableArguments {
    @Option(help: "Environment variable that holds the server's API key (sent as a bearer token; never printed or logged).")
    public var apiKeyEnv = "OPENAI_API_KEY"

    @Option(help: "Seconds without progress before a request to the server fails.")
    public var timeout: Double = 120

    @Option(help: "Retries of a server request on connection errors, 429 and 5xx (exponential backoff from 0.5 s).")
    public var retries = 3

    public init() {}

    public func validate() throws {
        // NaN passes no comparison, and an infinite timeout cannot be sent to the plugin as JSON.
        guard timeout > 0 && timeout.isFinite else { throw ValidationError("--timeout must be a number of seconds above 0, not \(timeout)") }
        guard retries >= 0 else { throw ValidationError("--retries must be 0 or more, not \(retries)") }
        guard !apiKeyEnv.isEmpty else { throw ValidationError("--api-key-env must name an environment variable") }
    }

    /// The server at `url`, reached with these options.
    public func endpoint(_ url: String) -> HTTPEndpoint {
        HTTPEndpoint(url: url, timeout: timeout, retries: retries, apiKeyEnvironment: apiKeyEnv)
    }
}
