#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin wrappers over the POSIX calls ragpipe uses; above them only Swift types and
/// `RagPipeError`s that name the file and the call.
package enum Syscall {
    package static func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) throws -> Int32 {
        while true {
            let fd = open(path, flags, mode)
            if fd >= 0 { return fd }
            if errno == EINTR { continue }
            throw RagPipeError.io(path: path, operation: "open", errno: errno)
        }
    }

    /// Opens a file a tool reads: one that does not exist or may not be read is a missing input
    /// (exit 66) in every tool, other failures are I/O errors (74).
    package static func openInput(_ path: String) throws -> Int32 {
        do {
            return try openFile(path, O_RDONLY | O_CLOEXEC)
        } catch RagPipeError.io(_, _, let code) where [ENOENT, EACCES, EPERM, ENOTDIR, ELOOP, ENAMETOOLONG, EISDIR].contains(code) {
            throw RagPipeError.unreadable(path: path, reason: errnoDescription(code))
        }
    }

    /// Reads up to `count` bytes; returns 0 at end of file.
    package static func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        while true {
            let n = read(fd, buffer, count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw RagPipeError.io(path: path, operation: "read", errno: errno)
        }
    }

    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw RagPipeError.io(path: path, operation: "write", errno: errno)
            }
            offset += n
        }
    }

    static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 { throw RagPipeError.io(path: path, operation: "fsync", errno: errno) }
    }

    package static func closeFile(_ fd: Int32) { _ = close(fd) }
}

/// Reads a whole file into memory (corpus documents, small inputs).
public func readFileBytes(_ path: String) throws -> [UInt8] {
    let fd = try Syscall.openInput(path)
    defer { Syscall.closeFile(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw RagPipeError.io(path: path, operation: "fstat", errno: errno) }
    if (st.st_mode & S_IFMT) == S_IFDIR { throw RagPipeError.unreadable(path: path, reason: "is a directory") }
    return try readAllBytes(fd: fd, path: path, sizeHint: Int(st.st_size))
}

/// Reads everything left on `fd`: a file, a pipe, a FIFO or standard input, each opened once.
public func readAllBytes(fd: Int32, path: String, sizeHint: Int = 0) throws -> [UInt8] {
    var bytes = [UInt8]()
    bytes.reserveCapacity(sizeHint + 1)
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try Syscall.readSome(fd, $0.baseAddress!, $0.count, path: path) }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
}

/// Creates or truncates `path` for writing.
public func openForWriting(_ path: String) throws -> Int32 {
    try Syscall.openFile(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
}

/// Whether a file descriptor is a terminal (progress lines are drawn only then).
public func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

/// A buffered writer to a file descriptor (stdout by default). Flushes at 1 MiB.
public final class OutputSink {
    public let fd: Int32
    public let name: String
    private var buffer: [UInt8] = []
    private let limit: Int

    public init(fd: Int32 = 1, name: String = "stdout", bufferSize: Int = 1 << 20) {
        self.fd = fd
        self.name = name
        self.limit = bufferSize
        buffer.reserveCapacity(bufferSize + 4096)
    }

    public func write(_ text: String) throws {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
        if buffer.count >= limit { try flush() }
    }

    /// Lets a serializer append straight into the buffer, avoiding a copy.
    @inline(__always) public func append(_ body: (inout [UInt8]) -> Void) throws {
        body(&buffer)
        if buffer.count >= limit { try flush() }
    }

    public func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Syscall.writeAll(fd, $0, path: name) }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Diagnostics go to stderr only: stdout carries data.
public enum Log {
    public static func line(_ text: String) {
        var text = text + "\n"
        text.withUTF8 { bytes in _ = try? Syscall.writeAll(2, UnsafeRawBufferPointer(bytes), path: "stderr") }
    }

    public static func error(_ tool: String, _ message: String) { line("\(tool): error: \(message)") }
    /// The running tool's name (its executable's), for messages from code that is not told it.
    public static var tool: String { lastComponent(CommandLine.arguments.first ?? "ragpipe") }
    public static func warning(_ tool: String, _ message: String) { line("\(tool): warning: \(message)") }
}

/// The last component of a path, trailing slashes ignored.
package func lastComponent(_ path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    if let slash = trimmed.lastIndex(of: "/") { return String(trimmed[trimmed.index(after: slash)...]) }
    return String(trimmed)
}
