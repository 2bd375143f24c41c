/// The dense-vector sections of an index, built in memory, and the figures measured on them.
public final class DenseLayout: @unchecked Sendable {
    public let kind: IndexKind
    public let coding: VectorCoding
    /// Sections besides `VF32`.
    public let sections: [(IndexFormat.SectionKind, OwnedBytes)]
    /// Whether `VF32` (row-ordered exact vectors) is written.
    public let writesExactVectors: Bool
    public let report: DenseReport

    init(kind: IndexKind, coding: VectorCoding, sections: [(IndexFormat.SectionKind, OwnedBytes)], writesExactVectors: Bool, report: DenseReport) {
        self.kind = kind; self.coding = coding; self.sections = sections; self.writesExactVectors = writesExactVectors; self.report = report
    }
}
