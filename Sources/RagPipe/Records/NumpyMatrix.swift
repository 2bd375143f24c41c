import RagPipeSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A float32 matrix in NumPy's `.npy` format (versions 1–3): `\x93NUMPY`, two version bytes, a
/// little-endian header length (u16 in version 1, u32 after), an ASCII dict header with
/// `'descr': '<f4'`, `'fortran_order': False` and `'shape': (rows, columns)`, then the data.
/// Only C-ordered little-endian float32 matrices are read: what FAISS and numpy users have.
public struct NumpyMatrix {
    public let rows: Int
    public let columns: Int
    public var values: [Float]

    public init(path: String) throws {
        var all: [Float] = []
        var shape = (rows: 0, columns: 0)
        try Self.forEachRowBlock(path: path, rowsPerBlock: Int.max) { r, c in
            shape = (r, c)
            all.reserveCapacity(r * c)
        } body: { block in
            all.append(contentsOf: block)
        }
        (rows, columns, values) = (shape.rows, shape.columns, all)
    }

    /// Reads the matrix at `path` a block of rows at a time: `shape(rows, columns)` once the
    /// header is read, then `body` with up to `rowsPerBlock` rows (row-major) per call, in order.
    /// A regular file's header is checked against its size first and its data read straight
    /// into the block, so memory holds one block; a pipe or device is read whole first.
    public static func forEachRowBlock(path: String, rowsPerBlock: Int, shape: (Int, Int) throws -> Void,
                                       body: (UnsafeBufferPointer<Float>) throws -> Void) throws {
        func bad(_ reason: String) -> RagPipeError { .malformedRecord(where: path, reason: "not a float32 .npy matrix: \(reason)") }
        let fd = try Syscall.openInput(path)
        defer { Syscall.closeFile(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RagPipeError.io(path: path, operation: "fstat", errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw RagPipeError.unreadable(path: path, reason: "is a directory") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            // A pipe or device has no size to check the header against before reading: read it
            // all, from this descriptor (opening a FIFO again would wait for a writer that may be gone).
            let (r, c, values) = try Self.parse(try readAllBytes(fd: fd, path: path), bad: bad)
            try shape(r, c)
            try values.withUnsafeBufferPointer { all in
                for first in stride(from: 0, to: r, by: max(1, min(rowsPerBlock, r))) {
                    let last = min(r, first + max(1, min(rowsPerBlock, r)))
                    try body(UnsafeBufferPointer(rebasing: all[(first * c)..<(last * c)]))
                }
            }
            return
        }
        let fileSize = Int(st.st_size)
        // The header first (magic, version, length, dict), then the data.
        var prefix = [UInt8](repeating: 0, count: 12)
        let got = try prefix.withUnsafeMutableBytes { try Self.readFully(fd, $0.baseAddress!, 12, path: path) }
        prefix.removeSubrange(got...)
        let layout = try Self.headerLayout(prefix, fileSize: fileSize, bad: bad)
        var header = [UInt8](repeating: 0, count: layout.start + layout.length)
        for (i, b) in prefix.prefix(header.count).enumerated() { header[i] = b }
        if header.count > got {
            let wanted = header.count - got
            let more = try header.withUnsafeMutableBytes { try Self.readFully(fd, $0.baseAddress! + got, wanted, path: path) }
            guard more == wanted else { throw bad("truncated header") }
        }
        let (r, c) = try Self.shape(header, layout: layout, available: fileSize - header.count, bad: bad)
        // The prefix may have read past a header shorter than 12 bytes: the data starts right after it.
        guard lseek(fd, off_t(header.count), SEEK_SET) == off_t(header.count) else {
            throw RagPipeError.io(path: path, operation: "seek", errno: errno)
        }
        try shape(r, c)
        let blockRows = max(1, min(rowsPerBlock, r))
        var block = [Float](repeating: 0, count: blockRows * c)
        for first in stride(from: 0, to: r, by: blockRows) {
            let rows = min(blockRows, r - first), need = rows * c * 4
            let n = try block.withUnsafeMutableBytes { try Self.readFully(fd, $0.baseAddress!, need, path: path) }
            // The file shrank while it was read.
            guard n == need else { throw bad("\(r) × \(c) float32 needs \(r * c * 4) bytes of data, the file ended sooner") }
            try block.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[..<(rows * c)])) }
        }
    }

    /// A matrix from a whole `.npy` file already in memory; `name` names it in errors.
    public init(bytes: [UInt8], name: String) throws {
        func bad(_ reason: String) -> RagPipeError { .malformedRecord(where: name, reason: "not a float32 .npy matrix: \(reason)") }
        (rows, columns, values) = try Self.parse(bytes, bad: bad)
    }

    /// Whether `bytes` start with the `.npy` magic.
    public static func hasMagic(_ bytes: [UInt8]) -> Bool { bytes.starts(with: [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]) }

    /// Reads until `count` bytes or the end of the file; returns how many were read.
    private static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, path: String) throws -> Int {
        var done = 0
        while done < count {
            let n = try Syscall.readSome(fd, buffer + done, min(count - done, 1 << 24), path: path)
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Where the header dict starts and how long it is, from the first 10 or 12 bytes.
    private static func headerLayout(_ bytes: [UInt8], fileSize: Int, bad: (String) -> RagPipeError) throws -> (start: Int, length: Int) {
        guard bytes.count >= 10, Array(bytes[0..<6]) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59] else { throw bad("bad magic") }
        let major = bytes[6]
        let headerStart: Int, headerLength: Int
        switch major {
        case 1:
            headerStart = 10
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        case 2, 3:
            guard bytes.count >= 12 else { throw bad("truncated header") }
            headerStart = 12
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        default:
            throw bad("format version \(major)")
        }
        guard headerLength <= fileSize - headerStart else { throw bad("header longer than the file") }
        return (headerStart, headerLength)
    }

    /// Rows and columns from the header dict, checked against the `available` data bytes.
    private static func shape(_ bytes: [UInt8], layout: (start: Int, length: Int), available: Int,
                              bad: (String) -> RagPipeError) throws -> (Int, Int) {
        let header = String(decoding: bytes[layout.start..<(layout.start + layout.length)], as: UTF8.self)
        let compact = header.filter { !$0.isWhitespace }
        guard compact.contains("'descr':'<f4'") else { throw bad("dtype is not little-endian float32 ('<f4'): \(header.trimmingASCIISpace())") }
        guard compact.contains("'fortran_order':False") else { throw bad("Fortran-ordered arrays are not supported") }
        guard let shapeStart = compact.firstRange(of: "'shape':("), let shapeEnd = compact[shapeStart.upperBound...].firstIndex(of: ")") else {
            throw bad("no shape in the header")
        }
        let dims = compact[shapeStart.upperBound..<shapeEnd].split(separator: ",").map { Int($0) }
        guard dims.count == 2, let r = dims[0], let c = dims[1], r > 0, c > 0 else {
            throw bad("shape must be (rows, columns) with both > 0, found (\(compact[shapeStart.upperBound..<shapeEnd]))")
        }
        guard c <= VectorLimits.maxDimension else { throw bad("\(c) columns; an index holds vectors of at most \(VectorLimits.maxDimension) dimensions") }
        let (need, overflow) = r.multipliedReportingOverflow(by: c * 4)
        guard !overflow else { throw bad("shape (\(r), \(c)) is more float32 data than any file holds; the file has \(available) bytes after the header") }
        guard available == need else {
            throw bad("\(r) × \(c) float32 needs \(need) bytes of data, the file has \(available)")
        }
        return (r, c)
    }

    /// The whole file in memory (pipes and devices).
    private static func parse(_ bytes: [UInt8], bad: (String) -> RagPipeError) throws -> (Int, Int, [Float]) {
        let layout = try headerLayout(Array(bytes.prefix(12)), fileSize: bytes.count, bad: bad)
        let dataStart = layout.start + layout.length
        let (r, c) = try shape(bytes, layout: layout, available: bytes.count - dataStart, bad: bad)
        var values = [Float](repeating: 0, count: r * c)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart...])) }
        }
        return (r, c, values)
    }
}
