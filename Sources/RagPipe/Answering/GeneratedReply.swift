import RagPipeSupport
import RagPipeRetrieval

/// A chat server's reply read as an answer: the text, whether it declined ("I don't know"), and
/// the hits it cites (only hits that were in its prompt count).
struct GeneratedReply {
    /// Replies that begin so are the model declining, as the system message tells it to.
    static let declinePrefixes = ["i don't know", "i do not know"]

    let answer: Answer

    init(_ generated: GeneratedAnswer, hits: [QueryHit], shown: Set<Int>) {
        let text = generated.text.trimmingWhitespace()
        let lowered = text.lowercased()
        let declined = text.isEmpty || Self.declinePrefixes.contains { lowered.hasPrefix($0) }
        let cited = Set(GroundednessCheck.claims(in: text).flatMap(\.citations))
        var answer = Answer(text: text.isEmpty ? "I don't know." : text,
                            citations: hits.filter { cited.contains($0.rank) && shown.contains($0.rank) }.map(ExtractiveAnswerer.citation),
                            abstained: declined)
        // A declined answer still points at the closest sources, as an extractive abstention does.
        if declined { answer.citations = hits.prefix(2).map(ExtractiveAnswerer.citation) }
        answer.backend = .llm
        answer.generation = generated
        self.answer = answer
    }
}
