#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads newline-terminated lines from a file descriptor in large blocks and hands each line
/// to a closure as raw bytes (without the `\n` and a trailing `\r`), with its 1-based number.
/// The bytes are valid only during the call: the buffer is reused.
public struct LineReader {
    public let fd: Int32
    public let name: String
    private let ownsDescriptor: Bool

    /// Reads `path`, or standard input when `path` is `-`.
    public init(path: String) throws {
        if path == "-" {
            fd = 0; name = "stdin"; ownsDescriptor = false
        } else {
            fd = try Syscall.openInput(path); name = path; ownsDescriptor = true
        }
    }

    public init(fd: Int32, name: String) {
        self.fd = fd; self.name = name; ownsDescriptor = false
    }

    public func close() { if ownsDescriptor { Syscall.closeFile(fd) } }

    /// Calls `body` for every line; a final line without `\n` counts as a line.
    public func forEachLine(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        var capacity = 1 << 20
        var storage = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
        defer { storage.deallocate() }
        var filled = 0          // bytes held in storage
        var lineNumber = 0
        var atEOF = false
        while !atEOF {
            if filled == capacity {
                // One line is longer than the buffer: grow it.
                let bigger = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 64)
                bigger.copyMemory(from: storage, byteCount: filled)
                storage.deallocate()
                storage = bigger
                capacity *= 2
            }
            let n = try Syscall.readSome(fd, storage + filled, capacity - filled, path: name)
            if n == 0 { atEOF = true } else { filled += n }
            var start = 0
            while start < filled {
                let remaining = filled - start
                guard let hit = memchr(storage + start, 0x0A, remaining) else { break }
                let end = storage.distance(to: hit)
                lineNumber += 1
                try body(Self.trimCR(storage + start, end - start), lineNumber)
                start = end + 1
            }
            if atEOF && start < filled {
                lineNumber += 1
                try body(Self.trimCR(storage + start, filled - start), lineNumber)
                start = filled
            }
            if start > 0 {
                filled -= start
                if filled > 0 { memmove(storage, storage + start, filled) }
            }
        }
    }

    @inline(__always)
    private static func trimCR(_ base: UnsafeMutableRawPointer, _ count: Int) -> UnsafeRawBufferPointer {
        var count = count
        if count > 0 && base.load(fromByteOffset: count - 1, as: UInt8.self) == 0x0D { count -= 1 }
        return UnsafeRawBufferPointer(start: base, count: count)
    }
}
