/// Every failure a ragpipe tool reports: one line that names the file, line, record or
/// section at fault, and a distinct exit status so scripts can tell failures apart.
public enum RagPipeError: Error, CustomStringConvertible, Equatable {
    /// A line of an input stream is not a valid record (`where` names file and line).
    case malformedRecord(where: String, reason: String)
    /// An input file is not UTF-8 text.
    case notUTF8(path: String)
    /// A document in a converted format (PDF, HTML) whose text cannot be had: encrypted, no text
    /// layer, truncated, not what its name says. `reason` says which and what to do.
    case unconvertible(path: String, reason: String)
    /// A file or directory named on the command line cannot be read.
    case unreadable(path: String, reason: String)
    /// The input held nothing to work on.
    case emptyInput(String)
    /// Records of one stream disagree with each other or with the index (dimension, model).
    case dimensionMismatch(String)
    case modelMismatch(String)
    /// The index file is damaged: bad magic, checksum, bounds, truncation.
    case corruptIndex(path: String, reason: String)
    /// The index was written by a newer ragpipe.
    case versionTooNew(path: String, found: UInt32, supported: UInt32)
    /// A model or other resource that the command needs is missing.
    case unavailable(String)
    /// A system call failed.
    case io(path: String, operation: String, errno: Int32)
    /// An argument combination that argument parsing cannot catch.
    case usage(String)
    /// An error reported across the HTTP plugin boundary: its message and exit status as is.
    case remote(message: String, status: Int32)

    public var description: String {
        switch self {
        case let .malformedRecord(place, reason): return "\(place): malformed record: \(reason)"
        case let .notUTF8(path): return "\(path): not valid UTF-8 text"
        case let .unconvertible(path, reason): return "\(path): \(reason)"
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .emptyInput(what): return "empty input: \(what)"
        case let .dimensionMismatch(what): return "dimension mismatch: \(what)"
        case let .modelMismatch(what): return "model mismatch: \(what)"
        case let .corruptIndex(path, reason): return "\(path): corrupt index: \(reason)"
        case let .versionTooNew(path, found, supported):
            return "\(path): index format version \(found) is newer than this ragpipe reads (\(supported)); upgrade ragpipe"
        case let .unavailable(what): return what
        case let .io(path, operation, code): return "\(path): \(operation) failed: \(errnoDescription(code))"
        case let .usage(what): return what
        case let .remote(message, _): return message
        }
    }

    /// Exit statuses, from the one table every tool uses (`ExitStatus`, the README's table).
    public var exitStatus: Int32 {
        switch self {
        case .usage: return ExitStatus.usage.rawValue
        case let .remote(_, status): return status
        case .malformedRecord, .notUTF8, .unconvertible: return ExitStatus.malformedInput.rawValue
        case .unreadable, .emptyInput: return ExitStatus.missingInput.rawValue
        case .unavailable: return ExitStatus.unavailable.rawValue
        case .io: return ExitStatus.io.rawValue
        case .corruptIndex: return ExitStatus.corruptIndex.rawValue
        case .versionTooNew: return ExitStatus.versionTooNew.rawValue
        case .modelMismatch: return ExitStatus.modelMismatch.rawValue
        case .dimensionMismatch: return ExitStatus.dimensionMismatch.rawValue
        }
    }
}

/// Every exit status a ragpipe tool returns, with its meaning: the README's "Exit status" table
/// is this table (a test compares them).
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case success = 0
    case usage = 64
    case malformedInput = 65
    case missingInput = 66
    case unavailable = 69
    case io = 74
    case corruptIndex = 80
    case versionTooNew = 81
    case modelMismatch = 82
    case dimensionMismatch = 83
    case escalation = 84

    public var meaning: String {
        switch self {
        case .success: return "success"
        case .usage: return "bad arguments"
        case .malformedInput: return "malformed input: a stream record or JSONL line (named as `file:line`), non-UTF-8 text, NaN/Inf, a stream cut short (no end-of-stream line), an HTML or PDF file whose text cannot be had (encrypted, no text layer, truncated)"
        case .missingInput: return "missing or empty input: no documents, no records, an input file or path that does not exist or cannot be read"
        case .unavailable: return "model not found or not usable (the message says where it looked and how to get it), server unreachable, `pdftotext` not installed (the message gives the install command)"
        case .io: return "I/O error while reading or writing (the message names the file and the call)"
        case .corruptIndex: return "corrupt index (the message names the section or block)"
        case .versionTooNew: return "index format version newer than this ragpipe"
        case .modelMismatch: return "model mismatch (stream records, or query embedder vs index)"
        case .dimensionMismatch: return "dimension mismatch"
        case .escalation: return "`query --strict`: an answer was not grounded and was replaced by \"I don't know\"; escalate to a person"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

package func errnoDescription(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}
