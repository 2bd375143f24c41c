import RagPipeSupport

/// A float32 matrix in NumPy's `.npy` format (versions 1–3): `\x93NUMPY`, two version bytes, a
/// little-endian header length (u16 in version 1, u32 after), an ASCII dict header with
/// `'descr': '<f4'`, `'fortran_order': False` and `'shape': (rows, columns)`, then the data.
/// Only C-ordered little-endian float32 matrices are read: what FAISS and numpy users have.
public struct NumpyMatrix {
    public let rows: Int
    public let columns: Int
    public let values: [Float]

    public init(path: String) throws {
        let bytes = try readFileBytes(path)
        func bad(_ reason: String) -> RagPipeError { .malformedRecord(where: path, reason: "not a float32 .npy matrix: \(reason)") }
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
        guard headerLength <= bytes.count - headerStart else { throw bad("header longer than the file") }
        let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
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
        let dataStart = headerStart + headerLength
        let (need, overflow) = r.multipliedReportingOverflow(by: c * 4)
        guard !overflow else { throw bad("shape (\(r), \(c)) is more float32 data than any file holds; the file has \(bytes.count - dataStart) bytes after the header") }
        guard bytes.count - dataStart == need else {
            throw bad("\(r) × \(c) float32 needs \(need) bytes of data, the file has \(bytes.count - dataStart)")
        }
        var values = [Float](repeating: 0, count: r * c)
        values.withUnsafeMutableBytes { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[dataStart...])) }
        }
        rows = r
        columns = c
        self.values = values
    }
}
