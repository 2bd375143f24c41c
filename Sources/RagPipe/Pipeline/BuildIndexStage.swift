/// `build-index`: an `embed` stream in, one index file out.
public enum BuildIndexStage {
    public struct Summary: Sendable {
        public var index: IndexBuilder.Summary
        public var ingestSeconds: Double
        public var writeSeconds: Double
        public var inputBytes: Int
        public var renormalized: Int
    }

    public static func run(inputs: [String], output: String, blockSize: Int, compressionLevel: Int32,
                           progress: Progress) throws -> Summary {
        let builder = IndexBuilder(blockSize: blockSize)
        var inputBytes = 0
        for input in inputs.isEmpty ? ["-"] : inputs {
            let reader = try LineReader(path: input)
            defer { reader.close() }
            try reader.forEachLine { line, number in
                inputBytes += line.count + 1
                if line.allSatisfy(isASCIISpace) { return }
                try builder.addLine(line, place: "\(reader.name):\(number)")
                if number & 1023 == 0 {
                    progress.update("\(grouped(builder.count)) records, \(rate(Double(builder.count), progress.elapsed)) records/s")
                }
            }
        }
        let ingestSeconds = progress.elapsed
        guard builder.count > 0 else {
            throw RagPipeError.emptyInput("no records in \(inputs.isEmpty ? "stdin" : inputs.joined(separator: " ")); nothing written to \(output)")
        }
        progress.update("writing \(output)")
        let summary = try builder.write(to: output, compressionLevel: compressionLevel)
        return Summary(index: summary, ingestSeconds: ingestSeconds, writeSeconds: progress.elapsed - ingestSeconds,
                       inputBytes: inputBytes, renormalized: builder.renormalized)
    }
}
