import Foundation
import Testing
import ArgumentParser
@testable import RagPipeCommandLine
@testable import RagPipeChunking
@testable import RagPipeEmbedding
@testable import RagPipeRetrieval

/// The option groups and argument conformances every tool parses with (Sources/RagPipeCommandLine).
@Suite struct CommandLineTests {
    @Test func sharedOptionGroupsValidateOnce() throws {
        let model = try ModelOptions.parse(["--model", "m", "--threads", "3"])
        #expect(model.directory == "m" && model.threads == 3)
        #expect(model.native(use: .interactive).modelDirectory == "m" && model.native(use: .interactive).threads == 3)
        #expect(try ModelOptions.parse([]).threads == 2)
        for threads in ["0", "-1", "257"] {
            #expect(throws: (any Error).self, "--threads \(threads)") { try ModelOptions.parse(["--threads", threads]) }
        }
        let http = try HTTPOptions.parse(["--timeout", "5", "--retries", "0", "--api-key-env", "KEY"])
        let endpoint = http.endpoint("http://127.0.0.1:9")
        #expect(endpoint.url == "http://127.0.0.1:9" && endpoint.timeout == 5 && endpoint.retries == 0 && endpoint.apiKeyEnvironment == "KEY")
        for bad in [["--timeout", "0"], ["--timeout", "nan"], ["--timeout", "inf"], ["--retries", "-1"], ["--api-key-env", ""]] {
            #expect(throws: (any Error).self, "\(bad)") { try HTTPOptions.parse(bad) }
        }
    }

    @Test func libraryChoicesParseAsArguments() {
        #expect(RetrievalMode(argument: "bm25") == .bm25 && RetrievalMode(argument: "sparse") == nil)
        #expect(Fusion(argument: "rrf") == .rrf)
        #expect(EncoderPrecision(argument: "int8") == .int8)
        #expect(TokenCounterChoice(argument: "upper-bound") == .upperBound)
        #expect(OverlapSpec(argument: "10%") == .percent(10) && OverlapSpec(argument: "25") == .tokens(25) && OverlapSpec(argument: "x") == nil)
        #expect(OverlapSpec.percent(20).defaultValueDescription == "20%")
    }

    /// The groups are validated inside every tool that uses them: one rule, one message.
    @Test func everyToolRefusesTheSharedOptionsAlike() throws {
        let dir = try TempDir()
        for command in ["embed --embedder hash --threads 0", "query --threads 0 i.ragx zinc",
                        "echo hi | embed --lines --embedder openai --url http://127.0.0.1:9 --timeout 0",
                        "query --llm http://127.0.0.1:9 --timeout nan i.ragx zinc", "query --retries -1 i.ragx zinc"] {
            let r = try shell(command, in: dir.path)
            #expect(r.status == 64, "\(command): \(r.status) \(r.stderr)")
            let option = command.contains("--threads") ? "--threads" : command.contains("--timeout") ? "--timeout" : "--retries"
            #expect(r.stderr.contains(option), "\(command): \(r.stderr)")
        }
    }

    @Test func everyToolHasHelp() throws {
        for tool in ["chunk", "embed", "build-index", "query", "evaluate"] {
            let r = try shell("\(tool) --help")
            #expect(r.status == 0, "\(tool): \(r.stderr)")
            #expect(r.stdout.contains("USAGE: \(tool)") && r.stdout.contains("OVERVIEW:"), "\(tool): \(r.stdout)")
        }
    }
}
