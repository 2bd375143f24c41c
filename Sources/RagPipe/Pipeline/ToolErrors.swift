import RagPipeSupport
import RagPipeRecords

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How every executable reports failure: one line on stderr, `tool: error: …`, and the
/// error's exit status (README, "Exit status").
public enum ToolErrors {
    /// `query --strict` answered "I don't know" in place of an ungrounded answer: a person should look.
    public static let escalationStatus: Int32 = ExitStatus.escalation.rawValue

    public static func run(_ tool: String, _ body: () throws -> Void) -> Int32 {
        do {
            try body()
            return 0
        } catch is EscalationNeeded {
            return escalationStatus
        } catch let error as RagPipeError {
            Log.error(tool, error.description)
            return error.exitStatus
        } catch let error as JSONScanError {
            Log.error(tool, "malformed input: \(error)")
            return ExitStatus.malformedInput.rawValue
        } catch {
            Log.error(tool, "\(error)")
            return 1
        }
    }
}

/// Thrown after all output is written, when some answer needs a person (exit status 84).
public struct EscalationNeeded: Error {
    public init() {}
}
