#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. Every section view of an open index keeps this
/// object alive; unmapped in `deinit`.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = try Syscall.openInput(path)
        defer { Syscall.closeFile(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RagPipeError.io(path: path, operation: "fstat", errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw RagPipeError.unreadable(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size > 0 else { throw RagPipeError.corruptIndex(path: path, reason: "file is empty") }
        let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let base, base != MAP_FAILED else { throw RagPipeError.io(path: path, operation: "mmap", errno: errno) }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress!), bytes.count) }
}

/// Little-endian integer reads at offsets already checked against the buffer's bounds.
extension UnsafeRawBufferPointer {
    @inline(__always) package func u32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) package func u64(at offset: Int) -> UInt64 {
        UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
