import RagPipeSupport

extension AnswerabilityFeatures {
    /// One question in one condition: its group (BEIR query id, SQuAD article), whether its
    /// relevant documents were present, and its features in `names` order.
    public typealias Row = (group: String, answerable: Bool, features: [Float])

    /// The table `scripts/answerability.py` reads: a header (`group`, `answerable`, then `names`),
    /// then one tab-separated line per row, `answerable` as 1 or 0, features in shortest round-trip form.
    public static func appendTSV(_ rows: [Row], to sink: OutputSink) throws {
        try sink.write((["group", "answerable"] + names).joined(separator: "\t") + "\n")
        for r in rows {
            try sink.write(([r.group, r.answerable ? "1" : "0"] + r.features.map { "\($0)" }).joined(separator: "\t") + "\n")
        }
        try sink.flush()
    }

    /// Writes the table to `path`, which must not be one of `inputs` (it would be destroyed).
    public static func writeTSV(_ rows: [Row], toFile path: String, inputs: [String]) throws {
        try OutputTarget.checkNotAnInput(path, inputs: inputs)
        let fd = try openForWriting(path)
        defer { Syscall.closeFile(fd) }
        try appendTSV(rows, to: OutputSink(fd: fd, name: path))
    }
}
