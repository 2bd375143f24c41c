import RagPipeSupport

/// Why bytes of an index file were refused. The parsers of the file's records throw it without
/// knowing the file's name; `IndexReader` adds the path (`error(path:)`), so every reason reads
/// `PATH: corrupt index: REASON` as docs/FORMAT.md promises.
package enum IndexFileError: Error, Equatable, Sendable {
    /// Damage, or a file no ragpipe writes: exit status 80.
    case corrupt(String)
    /// A version newer than this build reads: exit status 81, a different remedy (upgrade).
    case versionTooNew(UInt32)

    package func error(path: String) -> RagPipeError {
        switch self {
        case .corrupt(let reason): return .corruptIndex(path: path, reason: reason)
        case .versionTooNew(let found): return .versionTooNew(path: path, found: found, supported: IndexFormat.version)
        }
    }
}
