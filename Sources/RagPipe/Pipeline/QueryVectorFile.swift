import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// Query vectors read from a file: a float32 `.npy` matrix, or an `embed` stream (JSON Lines
/// records with `vector` or `embedding`, ending with its end-of-stream line unless
/// `allowUnterminated`). Rows are checked (finite, non-zero, one dimension, one model) and made
/// unit length. `build-index --tune-queries` reads its questions with it.
public struct QueryVectorFile {
    public let vectors: [Float]
    public let dimension: Int
    public var count: Int { vectors.count / dimension }
    /// The stream's model; nil for `.npy`.
    public let model: String?

    public init(path: String, option: String, allowUnterminated: Bool = false) throws {
        var vectors: [Float] = []
        var dimension = 0
        var model: String?
        if try Self.isNumpy(path) {
            let matrix = try NumpyMatrix(path: path)
            vectors = matrix.values
            dimension = matrix.columns
        } else {
            let reader = try LineReader(path: path)
            defer { reader.close() }
            var segments = StreamSegments(name: reader.name)
            try reader.forEachLine { line, number in
                if line.allSatisfy(isASCIISpace) { return }
                if try segments.marker(line, number: number) != nil { return }
                segments.record()
                let place = "\(option) \(reader.name):\(number)"
                let before = vectors.count
                let info: RecordCodec.VectorInfo
                do { (_, info) = try RecordCodec.parseLine(line, vectors: &vectors) } catch let error as JSONScanError {
                    throw RagPipeError.malformedRecord(where: place, reason: error.description)
                }
                let dim = vectors.count - before
                guard dim > 0 else { throw RagPipeError.malformedRecord(where: place, reason: "no \"vector\" or \"embedding\" (embed the questions first)") }
                if dimension == 0 { dimension = dim; model = info.model }
                guard dim == dimension else { throw RagPipeError.dimensionMismatch("\(place): \(dim) values, earlier lines have \(dimension)") }
                guard info.model == model else {
                    throw RagPipeError.modelMismatch("\(place): model '\(info.model ?? "")', earlier lines have '\(model ?? "")'")
                }
            }
            try segments.finish(allowUnterminated: allowUnterminated)
        }
        guard dimension > 0, !vectors.isEmpty else { throw RagPipeError.emptyInput("\(option) \(path): no query vectors") }
        for row in 0..<(vectors.count / dimension) {
            let start = row * dimension
            var sum: Float = 0
            for j in start..<(start + dimension) { sum += vectors[j] * vectors[j] }
            guard sum.isFinite, sum > 0 else {
                throw RagPipeError.malformedRecord(where: "\(option) \(path): query \(row + 1)", reason: "vector is zero, NaN or infinite")
            }
            let scale = 1 / sum.squareRoot()
            for j in start..<(start + dimension) { vectors[j] *= scale }
        }
        self.vectors = vectors
        self.dimension = dimension
        self.model = model
    }

    /// By the magic bytes, not the name: `embed` streams have no fixed suffix.
    private static func isNumpy(_ path: String) throws -> Bool {
        guard path != "-" else { return false }
        let fd = try Syscall.openInput(path)
        defer { Syscall.closeFile(fd) }
        var head = [UInt8](repeating: 0, count: 6)
        let n = try head.withUnsafeMutableBytes { try Syscall.readSome(fd, $0.baseAddress!, 6, path: path) }
        return n == 6 && head == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
    }
}
