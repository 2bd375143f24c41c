import ArgumentParser
import RagPipePipeline

/// A ragpipe command: `execute()` does the work, and `run()` reports what it throws the way every
/// tool does (`ToolErrors.run`: one line on stderr, `tool: error: …`, and the error's exit
/// status from the README's table), as an `ExitCode` the parser exits with.
///
///     @main struct Chunk: ToolCommand {
///         static let toolName = "chunk"
///         func execute() throws { … }
///     }
public protocol ToolCommand: ParsableCommand {
    /// The name error lines start with: the executable's, subcommands included (`evaluate: error: …`).
    static var toolName: String { get }
    /// The command's body: library calls wired from the parsed options.
    func execute() throws
}

extension ToolCommand {
    public func run() throws {
        let status = ToolErrors.run(Self.toolName) { try execute() }
        if status != 0 { throw ExitCode(status) }
    }
}
