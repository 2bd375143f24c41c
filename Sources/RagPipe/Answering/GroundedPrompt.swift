import RagPipeRetrieval
import RagPipeChunking

/// The chat prompt for a generated answer, as the design specifies: a system message that
/// restricts the model to the numbered context, and the top hits packed within a token budget,
/// each numbered with its rank and source.
public struct GroundedPrompt: Sendable {
    public static let systemMessage = """
        You answer questions using ONLY the numbered context passages. After each sentence of your \
        answer, cite the passage it comes from as [n]. If the context does not contain the answer, \
        reply exactly: I don't know.
        """

    public struct Message: Sendable, Equatable {
        public var role: String
        public var content: String
        public init(role: String, content: String) { self.role = role; self.content = content }
    }

    public var messages: [Message]
    /// Ranks of the hits packed into the prompt.
    public var shown: [Int]
    public var estimatedTokens: Int

    /// Tokens are estimated at one per 4 UTF-8 bytes (the rule of thumb for English BPE
    /// vocabularies), rounded up: the server's tokenizer is unknown here. Hits are added in rank
    /// order while they fit; the first is always included, cut to the budget if it must be.
    public init(question: String, hits: [QueryHit], tokenBudget: Int) {
        func tokens(_ s: String) -> Int { (s.utf8.count + 3) / 4 }
        let header = "Context:\n\n"
        let footer = "Question: \(question)\nAnswer in at most three sentences, citing [n] after each."
        var used = tokens(Self.systemMessage) + tokens(header) + tokens(footer) + 16
        var context = ""
        var shown: [Int] = []
        for hit in hits {
            let label = hit.record.title.isEmpty ? hit.record.source : "\(hit.record.source), \(hit.record.title)"
            var block = "[\(hit.rank)] (\(label))\n\(hit.record.text)\n\n"
            let cost = tokens(block)
            if used + cost > tokenBudget {
                guard shown.isEmpty else { break }
                let keep = max(0, (tokenBudget - used) * 4)
                block = String(decoding: Array(block.utf8.prefix(keep)), as: UTF8.self) + "\n\n"
            }
            context += block
            used += tokens(block)
            shown.append(hit.rank)
        }
        messages = [Message(role: "system", content: Self.systemMessage),
                    Message(role: "user", content: header + context + footer)]
        self.shown = shown
        estimatedTokens = used
    }
}

/// What generates answers from a prompt: an OpenAI-compatible chat server (`query --llm`).
public protocol AnswerGenerator: AnyObject {
    /// The model's reply; `onText` receives pieces as they stream in, when streaming.
    func generate(_ prompt: GroundedPrompt, onText: ((String) -> Void)?) throws -> GeneratedAnswer
}

public struct GeneratedAnswer: Sendable {
    public var text: String
    public var model: String
    public var finishReason: String?
    public var promptTokens: Int?
    public var completionTokens: Int?
    public init(text: String, model: String, finishReason: String? = nil, promptTokens: Int? = nil, completionTokens: Int? = nil) {
        self.text = text; self.model = model; self.finishReason = finishReason
        self.promptTokens = promptTokens; self.completionTokens = completionTokens
    }
}
