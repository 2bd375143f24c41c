/// Opening the dense sections of a file (`IndexReader`'s dense step): sizes, alignment and the
/// list directory are checked here, O(nlist), never O(N); row ids inside lists are checked as
/// they are used.
extension DenseIndex {
    /// The dense index `metadata` describes, over the sections of an opened file: the codec
    /// type META names is chosen here, once, and everything below is generic over it.
    static func open(_ file: IndexReader.Sections, metadata: IndexMetadata, name: String, owner: AnyObject) throws(IndexFileError) -> DenseIndex {
        try open(metadata.codes.codec, file, metadata: metadata, name: name, owner: owner)
    }

    private static func open<Codec: VectorCodec>(_: Codec.Type, _ file: IndexReader.Sections, metadata: IndexMetadata, name: String,
                                                 owner: AnyObject) throws(IndexFileError) -> DenseIndex {
        let n = metadata.count, d = metadata.dimension
        let (vectorBytes, overflow) = n.multipliedReportingOverflow(by: d * 4)
        guard !overflow else { throw .corrupt("META: \(n) × \(d) vectors overflow") }
        let exact = try file.aligned(.vectorsF32, bytes: vectorBytes).map {
            UnsafeBufferPointer(start: $0.assumingMemoryBound(to: Float.self), count: n * d)
        }
        let codec = try Codec.open(dimension: d) { kind in file[kind].map { file.bytes(of: $0) } }
        let codes: any DenseCodes
        switch metadata.kind {
        case .flat:
            // Exact codes are the VF32 rows themselves; other codes have a section of their own.
            let start: UnsafeRawPointer?
            if Codec.isExact { start = exact.map { UnsafeRawPointer($0.baseAddress!) } }
            else { start = try file.aligned(Codec.flatSection, bytes: n * codec.codeSize) }
            guard let start else { throw .corrupt("missing \(Codec.flatSection.fourCC) section") }
            codes = FlatCodes(codec: codec, codes: start, count: n)
        case .ivf:
            let lists = try openLists(codec, file, metadata: metadata, hasExact: exact != nil)
            if metadata.codes == .rabitq {
                guard let sq8 = lists as? IVFCodes<SQ8Codec> else { throw .corrupt("META: rabitq codes without sq8 lists") }
                codes = try openRaBitQ(sq8, file, dimension: d)
            } else {
                codes = lists
            }
        }
        return DenseIndex(name: name, count: n, dimension: d, codes: codes, exact: exact, owner: owner)
    }

    /// `IVFC`, `IVFD` (each list inside `IVFL`, the row counts summing to N), `IVFR`.
    private static func openLists<Codec: VectorCodec>(_ codec: Codec, _ file: IndexReader.Sections, metadata: IndexMetadata,
                                                      hasExact: Bool) throws(IndexFileError) -> IVFCodes<Codec> {
        let n = metadata.count, d = metadata.dimension, codeSize = codec.codeSize
        let nlist = metadata.dense.nlist, nprobe = metadata.dense.nprobe
        // `IndexMetadata.problem` checked these; they bound the reads below, so again here.
        guard nlist >= 1 && nlist <= n else { throw .corrupt("META: nlist \(nlist) out of range 1...\(n)") }
        guard nprobe >= 1 && nprobe <= nlist else { throw .corrupt("META: nprobe \(nprobe) out of range 1...\(nlist)") }
        guard let centroids = try file.aligned(.ivfCentroids, bytes: nlist * d * 2) else { throw .corrupt("missing IVFC section") }
        guard let directory = try file.aligned(.ivfDirectory, bytes: nlist * IVFListEntry.size) else { throw .corrupt("missing IVFD section") }
        guard let listSection = file[.ivfLists] else { throw .corrupt("missing IVFL section") }
        guard listSection.range.lowerBound % IndexFormat.alignment == 0 else { throw .corrupt("IVFL section is not 64-byte aligned") }
        let listBase = file.bytes.baseAddress! + listSection.range.lowerBound
        let listBytes = UInt64(listSection.range.count)
        let entries = UnsafeRawBufferPointer(start: directory, count: nlist * IVFListEntry.size)
        var lists: [IVFList] = []
        lists.reserveCapacity(nlist)
        var position = 0, largest = 0
        for l in 0..<nlist {
            let entry = IVFListEntry(parsing: entries, at: l * IVFListEntry.size)
            let offset = entry.offset, size = Int(entry.count)
            guard size <= n - position else { throw .corrupt("IVFD: list \(l) holds \(size) rows, more than the \(n - position) left") }
            let needed = UInt64(IndexFormat.align(4 * size) + size * codeSize)
            guard offset % UInt64(IndexFormat.alignment) == 0 else {
                throw .corrupt("IVFD: list \(l) is at offset \(offset), not a multiple of \(IndexFormat.alignment)")
            }
            guard offset <= listBytes, needed <= listBytes - offset else { throw .corrupt("IVFD: list \(l) points outside the IVFL section") }
            let start = listBase + Int(offset)
            lists.append(.init(ids: start.assumingMemoryBound(to: UInt32.self), codes: UnsafeRawPointer(start + IndexFormat.align(4 * size)),
                               count: size, firstPosition: position))
            position += size
            largest = max(largest, size)
        }
        guard position == n else { throw .corrupt("IVFD lists hold \(position) rows, META says \(n)") }
        let positions = try file.aligned(.ivfRowPositions, bytes: 4 * n)?.assumingMemoryBound(to: UInt32.self)
        guard hasExact || positions != nil else { throw .corrupt("missing IVFR section (needed without VF32)") }
        return IVFCodes(codec: codec, centroids: centroids.assumingMemoryBound(to: UInt16.self), lists: lists, rowPositions: positions,
                        largestList: largest, count: n, defaultNProbe: nprobe)
    }

    /// `RBQP` (checked in full) and `RBQ1`, whose length must be exactly what the lists' row
    /// counts give (O(nlist)); the bits and factors inside are read as they are scanned.
    private static func openRaBitQ(_ lists: IVFCodes<SQ8Codec>, _ file: IndexReader.Sections, dimension d: Int) throws(IndexFileError) -> IVFRaBitQCodes {
        guard let parameters = file[.rabitqParameters] else { throw .corrupt("missing RBQP section") }
        let rotation = try RaBitQRotation.parse(try file.checked(parameters), dimension: d)
        var offsets: [Int] = []
        offsets.reserveCapacity(lists.nlist)
        var total = 0
        for list in lists.lists {
            offsets.append(total)
            total += rotation.listBytes(list.count)
        }
        guard let start = try file.aligned(.rabitqCodes, bytes: total) else { throw .corrupt("missing RBQ1 section") }
        var bits: [UnsafePointer<UInt64>] = [], factors: [UnsafePointer<Float>] = []
        for (l, list) in lists.lists.enumerated() {
            bits.append((start + offsets[l]).assumingMemoryBound(to: UInt64.self))
            factors.append((start + offsets[l] + rotation.factorOffset(list.count)).assumingMemoryBound(to: Float.self))
        }
        return IVFRaBitQCodes(lists: lists, rotation: rotation, bits: bits, factors: factors)
    }
}
