import RagPipeChunking

/// How chunks' tokens are counted (`chunk --counter`): exactly, with a model's own WordPiece
/// vocabulary, or by a bound that needs no model (docs/FORMATS.md, "Token counts").
public enum TokenCounterChoice: String, CaseIterable, Sendable {
    /// wordpiece when the model is found, else upper-bound.
    case auto
    /// The model's own tokenizer: exact counts.
    case wordpiece
    /// No vocabulary needed: never under-counts any BERT uncased tokenizer.
    case upperBound = "upper-bound"

    /// The counter this choice makes with the model folder `modelDirectory` (nil: the default
    /// model, looked up by name). `wordpiece` without a model is an error saying where it looked.
    public func counter(modelDirectory: String?) throws -> any TokenCounter {
        let directory = modelDirectory ?? ModelLocator.find()
        switch self {
        case .upperBound:
            return UpperBoundTokenCounter()
        case .wordpiece:
            guard let directory else { throw ModelLocator.missing() }
            return WordPieceTokenCounter(tokenizer: try WordPieceTokenizer(vocabFile: directory + "/vocab.txt"))
        case .auto:
            guard let directory else { return UpperBoundTokenCounter() }
            return WordPieceTokenCounter(tokenizer: try WordPieceTokenizer(vocabFile: directory + "/vocab.txt"))
        }
    }
}
