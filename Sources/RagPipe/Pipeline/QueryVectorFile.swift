import RagPipeSupport
import RagPipeRecords
import RagPipeChunking

/// Query vectors read from a file: a float32 `.npy` matrix, or JSON Lines with a `vector` or
/// `embedding` each: an `embed` stream, or `embed --lines` output (questions, one per line, have
/// no end-of-stream line: one is checked when present, not required, since a short list of
/// questions only tunes on fewer). Rows are checked (finite, non-zero, one dimension, one model)
/// and made unit length. `build-index --tune-queries` reads its questions with it.
public struct QueryVectorFile {
    public let vectors: [Float]
    public let dimension: Int
    public var count: Int { vectors.count / dimension }
    /// The stream's model; nil for `.npy`.
    public let model: String?

    public init(path: String, option: String) throws {
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
                let lineModel: String?
                do { lineModel = try RecordCodec.parseVectorLine(line, into: &vectors) } catch let error as JSONScanError {
                    throw RagPipeError.malformedRecord(where: place, reason: error.description)
                }
                let dim = vectors.count - before
                guard dim > 0 else { throw RagPipeError.malformedRecord(where: place, reason: "no \"vector\" or \"embedding\" (embed the questions first)") }
                guard dim <= VectorLimits.maxDimension else {
                    throw RagPipeError.malformedRecord(where: place, reason: "\(dim) values; vectors have at most \(VectorLimits.maxDimension)")
                }
                if dimension == 0 { dimension = dim; model = lineModel }
                guard dim == dimension else { throw RagPipeError.dimensionMismatch("\(place): \(dim) values, earlier lines have \(dimension)") }
                guard lineModel == model else {
                    throw RagPipeError.modelMismatch("\(place): model '\(lineModel ?? "")', earlier lines have '\(model ?? "")'")
                }
            }
            try segments.finish(allowUnterminated: true)
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
