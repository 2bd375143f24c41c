import RagPipeSupport

/// The unit fp32 rows a dense build reads: in memory, or in a `VectorSpool`. Every pass over
/// all of them reads a chunk at a time (`forEachChunk`), single rows are read on their own
/// (`readRow`), and the spool's mapping, used only for re-rank candidates, is given back when
/// tuning ends (`releaseMapping`), so a spooled build's resident memory is its codes and a
/// chunk, not the whole input.
package struct BuildVectors: @unchecked Sendable {
    package let all: UnsafeBufferPointer<Float>
    package let dimension: Int
    let spool: VectorSpool?
    /// Rows per chunk of a pass.
    let chunkRows: Int
    /// Floats per chunk by default: 8,192 rows of 384 floats, 12.6 MB.
    static let chunkFloats = 3_145_728

    /// `chunkRows` other than the default is for tests, which need several chunks of few rows.
    package init(_ all: UnsafeBufferPointer<Float>, dimension: Int, spool: VectorSpool? = nil, chunkRows: Int? = nil) {
        self.all = all; self.dimension = dimension; self.spool = spool
        self.chunkRows = max(1, chunkRows ?? Self.chunkFloats / max(1, dimension))
    }

    package var count: Int { dimension == 0 ? 0 : all.count / dimension }

    /// Consecutive row ranges covering every row.
    package var chunks: [Range<Int>] {
        stride(from: 0, to: count, by: chunkRows).map { $0..<min(count, $0 + chunkRows) }
    }

    /// The floats of rows `rows`.
    package func rows(_ rows: Range<Int>) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: all[(rows.lowerBound * dimension)..<(rows.upperBound * dimension)])
    }

    /// Row `i` copied into `out` (`dimension` floats). A spool's rows are read with pread: a
    /// fault on the mapping would map in the 64 KB around the row too, and a few thousand
    /// random rows would map in the whole file.
    package func readRow(_ i: Int, into out: UnsafeMutablePointer<Float>) throws {
        if let spool {
            try spool.read(floats: (i * dimension)..<((i + 1) * dimension), into: out)
        } else {
            out.update(from: all.baseAddress! + i * dimension, count: dimension)
        }
    }

    /// Row `i` as an array.
    package func row(_ i: Int) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: dimension) { buffer, n in
            try readRow(i, into: buffer.baseAddress!)
            n = dimension
        }
    }

    /// Gives back the pages re-rank candidates touched through the spool's mapping.
    package func releaseMapping() { spool?.releaseMapping() }

    /// `body` on every chunk in order: the rows in memory, or a spool's read into one buffer.
    package func forEachChunk(_ body: (Range<Int>, UnsafeBufferPointer<Float>) throws -> Void) throws {
        guard let spool else {
            for chunk in chunks { try body(chunk, rows(chunk)) }
            return
        }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: min(count, chunkRows) * dimension)
        defer { buffer.deallocate() }
        for chunk in chunks {
            try spool.read(floats: (chunk.lowerBound * dimension)..<(chunk.upperBound * dimension), into: buffer)
            try body(chunk, UnsafeBufferPointer(start: buffer, count: chunk.count * dimension))
        }
    }
}
