/// Every failure a ragpipe tool reports: one line that names the file, line, record or
/// section at fault, and a distinct exit status so scripts can tell failures apart.
public enum RagPipeError: Error, CustomStringConvertible, Equatable {
    /// A line of an input stream is not a valid record (`where` names file and line).
    case malformedRecord(where: String, reason: String)
    /// An input file is not UTF-8 text.
    case notUTF8(path: String)
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

    /// Exit statuses, stable and documented in the README.
    public var exitStatus: Int32 {
        switch self {
        case .usage: return 64
        case let .remote(_, status): return status
        case .malformedRecord, .notUTF8: return 65
        case .unreadable, .emptyInput: return 66
        case .unavailable: return 69
        case .io: return 74
        case .corruptIndex: return 80
        case .versionTooNew: return 81
        case .modelMismatch: return 82
        case .dimensionMismatch: return 83
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func errnoDescription(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}
