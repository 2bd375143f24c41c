import ArgumentParser
import RagPipeChunking
import RagPipeEmbedding
import RagPipeIndex
import RagPipeRetrieval
import RagPipeEvaluation

// Library choices the tools take as option values. CaseIterable ones list their values in
// `--help`; an unknown value is an argument error (exit 64) naming the option.

extension RetrievalMode: ExpressibleByArgument {}
extension Fusion: ExpressibleByArgument {}
extension EncoderPrecision: ExpressibleByArgument {}
extension VectorCoding: ExpressibleByArgument {}
extension CorpusReader.InputFormat: ExpressibleByArgument {}

/// `--overlap 20%` (a share of the chunk budget) or `--overlap 51` (tokens).
extension OverlapSpec: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }

    public var defaultValueDescription: String {
        switch self {
        case .percent(let p): return "\(Int(p))%"
        case .tokens(let t): return "\(t)"
        }
    }
}

extension TokenCounterChoice: ExpressibleByArgument {}

/// `evaluate beir --configurations dense hybrid-weighted`: an unknown name is refused by the parser.
extension Evaluator.ConfigurationName: ExpressibleByArgument {}
