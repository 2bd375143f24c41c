import RagPipeSupport
import RagPipeRecords
import RagPipeAnswering

/// The OpenAI-compatible chat server that generates answers (`query --llm`, `serve --llm`): its
/// settings, and the context budget fitted once to the window the server reports, so a server
/// answering many questions asks for the window once, not per question.
public struct LLMBackend: Sendable {
    public let settings: RemoteChatGenerator.Settings
    /// Tokens of retrieved context packed into a prompt.
    public let contextTokens: Int

    /// Checks the settings and asks the server for its context window (once).
    public init(settings: RemoteChatGenerator.Settings, requestedContextTokens: Int) throws {
        let client = try RemoteChatGenerator(settings: settings)
        self.settings = settings
        contextTokens = Answerer.Generation.contextBudget(requested: requestedContextTokens, serverContext: client.serverContextTokens(),
                                                          maxReplyTokens: settings.maxTokens)
    }

    /// What an `Answerer` generates with; `onText` receives the reply as it streams in.
    public func generation(onText: ((String) -> Void)? = nil) throws -> Answerer.Generation {
        Answerer.Generation(generator: try RemoteChatGenerator(settings: settings), contextTokens: contextTokens, onText: onText)
    }
}
