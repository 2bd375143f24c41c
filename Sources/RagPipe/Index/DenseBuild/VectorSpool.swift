import RagPipeSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fp32 rows of a large build, appended to a temporary file and mapped read-only once
/// complete, so a build keeps in memory the blocks a pass is reading rather than every vector
/// (a million 384-d vectors are 1.5 GB). The file is unlinked as soon as it is created: nothing
/// is left behind when the build ends, however it ends.
package final class VectorSpool: @unchecked Sendable {
    /// Where the spool lives, for errors (the file itself has no name once unlinked).
    package let place: String
    private let fd: Int32
    private var pending: [Float] = []
    private var written = 0
    private var mapping: UnsafeRawBufferPointer?
    static let bufferFloats = 1 << 18

    /// A spool in `directory`, beside the index being written: its disk is the one the user
    /// chose for a file of about that size.
    package init(directory: String) throws {
        var template = Array((directory + "/.ragpipe-vectors-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        place = "\(directory)/.ragpipe-vectors-*"
        guard made >= 0 else { throw RagPipeError.io(path: place, operation: "create a temporary vector file", errno: errno) }
        fd = made
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        pending.reserveCapacity(Self.bufferFloats)
    }

    deinit {
        if let mapping { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress!), mapping.count) }
        close(fd)
    }

    /// Floats appended so far.
    package var count: Int { written + pending.count }

    package func append(_ values: UnsafeBufferPointer<Float>) throws {
        precondition(mapping == nil, "append after finish")
        pending.append(contentsOf: values)
        if pending.count >= Self.bufferFloats { try flush() }
    }

    private func flush() throws {
        try pending.withUnsafeBytes { try Syscall.writeAll(fd, $0, path: place) }
        written += pending.count
        pending.removeAll(keepingCapacity: true)
    }

    /// Every appended float, mapped read-only (valid while the spool lives).
    package func finish() throws -> UnsafeBufferPointer<Float> {
        if let mapping { return mapping.bindMemory(to: Float.self) }
        try flush()
        pending = []
        guard written > 0 else { return UnsafeBufferPointer(start: nil, count: 0) }
        let bytes = written * MemoryLayout<Float>.stride
        let base = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0)
        guard let base, base != MAP_FAILED else { throw RagPipeError.io(path: place, operation: "mmap", errno: errno) }
        mapping = UnsafeRawBufferPointer(start: base, count: bytes)
        return mapping!.bindMemory(to: Float.self)
    }

    /// Copies floats `range` into `out` with pread: a sequential pass reads through one buffer
    /// rather than the mapping, whose pages the kernel may map in well ahead of the reads.
    package func read(floats range: Range<Int>, into out: UnsafeMutablePointer<Float>) throws {
        var done = 0
        let total = range.count * 4
        while done < total {
            let n = pread(fd, UnsafeMutableRawPointer(out) + done, total - done, off_t(range.lowerBound * 4 + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RagPipeError.io(path: place, operation: "read", errno: n < 0 ? errno : EIO) }
            done += n
        }
    }

    /// Gives back every page of the mapping (read again from the page cache, or the disk, if
    /// touched later): random reads of re-rank candidates pull in pages around each row.
    package func releaseMapping() {
        guard let mapping, mapping.count > 0 else { return }
        // The mapping starts on a page; the kernel rounds the length up to its last page.
        _ = madvise(UnsafeMutableRawPointer(mutating: mapping.baseAddress!), mapping.count, Int32(MADV_DONTNEED))
    }
}
