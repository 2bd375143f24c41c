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

/// Environment variables, without Foundation.
public enum ProcessEnvironment {
    public static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}

/// `--overlap`: a share of `--max-tokens` (`20%`) or a token count (`51`).
public enum OverlapSpec: Equatable, Sendable {
    case percent(Double)
    case tokens(Int)

    public init?(parsing text: String) {
        if text.hasSuffix("%") {
            guard let p = Double(text.dropLast()), p >= 0, p < 100 else { return nil }
            self = .percent(p)
        } else {
            guard let t = Int(text), t >= 0 else { return nil }
            self = .tokens(t)
        }
    }

    public func tokens(maxTokens: Int) -> Int {
        switch self {
        case .percent(let p): return Int((Double(maxTokens) * p / 100).rounded())
        case .tokens(let t): return t
        }
    }
}
