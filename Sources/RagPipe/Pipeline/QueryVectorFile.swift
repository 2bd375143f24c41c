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
        // Read once, so a pipe, a FIFO or stdin (`-`) serves as well as a file.
        let name = path == "-" ? "stdin" : path
        let bytes = path == "-" ? try readAllBytes(fd: 0, path: name) : try readFileBytes(path)
        var vectors: [Float] = []
        var dimension = 0
        var model: String?
        if NumpyMatrix.hasMagic(bytes) {
            let matrix = try NumpyMatrix(bytes: bytes, name: "\(option) \(name)")
            vectors = matrix.values
            dimension = matrix.columns
            for row in 0..<matrix.rows {
                try Self.makeUnit(&vectors, row: row, dimension: dimension, place: "\(option) \(name): row \(row)")
            }
        } else {
            var segments = StreamSegments(name: name)
            try Self.forEachLine(bytes) { line, number in
                if line.allSatisfy(isASCIISpace) { return }
                if try segments.marker(line, number: number) != nil { return }
                segments.record()
                let place = "\(option) \(name):\(number)"
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
                try Self.makeUnit(&vectors, row: before / dim, dimension: dim, place: place)
            }
            try segments.finish(allowUnterminated: true)
        }
        guard dimension > 0, !vectors.isEmpty else { throw RagPipeError.emptyInput("\(option) \(name): no query vectors") }
        self.vectors = vectors
        self.dimension = dimension
        self.model = model
    }

    /// Refuses a zero or non-finite row and scales it to unit length. The sum of squares is in
    /// Double: finite floats as large as 1e30 square past Float's range.
    private static func makeUnit(_ vectors: inout [Float], row: Int, dimension: Int, place: String) throws {
        let start = row * dimension
        var sum = 0.0
        for j in start..<(start + dimension) { sum += Double(vectors[j]) * Double(vectors[j]) }
        guard sum.isFinite, sum > 0 else { throw RagPipeError.malformedRecord(where: place, reason: "vector is zero, NaN or infinite") }
        let scale = 1 / sum.squareRoot()
        for j in start..<(start + dimension) { vectors[j] = Float(Double(vectors[j]) * scale) }
    }

    /// Each line of `bytes` (without `\n` and a trailing `\r`) with its 1-based number; a last
    /// line without `\n` counts.
    private static func forEachLine(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        try bytes.withUnsafeBytes { all in
            var start = 0, number = 0
            while start < all.count {
                let end = all[start...].firstIndex(of: 0x0A) ?? all.count
                var stop = end
                if stop > start && all[stop - 1] == 0x0D { stop -= 1 }
                number += 1
                try body(UnsafeRawBufferPointer(rebasing: all[start..<stop]), number)
                start = end + 1
            }
        }
    }
}
