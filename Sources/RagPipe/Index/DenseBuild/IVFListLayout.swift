import RagPipeSupport

/// The list sections of an IVF build, from each row's list: `IVFC`, `IVFD`, `IVFL`, and
/// `IVFR` when there are no exact vectors to look rows up in (docs/FORMAT.md, "IVF").
enum IVFListLayout {
    static func build<Codec: VectorCodec>(vectors: BuildVectors, training: IVFTraining.Result, codec: Codec,
                                          defaultNProbe: Int, keepPositions: Bool,
                                          report: inout DenseReport) throws -> (IVFCodes<Codec>, [(IndexFormat.SectionKind, OwnedBytes)]) {
        let d = codec.dimension
        let n = vectors.count
        let nlist = training.halfCentroids.count / d
        var sizes = [Int](repeating: 0, count: nlist)
        for l in training.labels { sizes[Int(l)] += 1 }
        var firstPosition = [Int](repeating: 0, count: nlist + 1)
        for l in 0..<nlist { firstPosition[l + 1] = firstPosition[l] + sizes[l] }
        var order = [Int](repeating: 0, count: n)              // position → row, rows ascending per list
        var fill = firstPosition
        for row in 0..<n { let l = Int(training.labels[row]); order[fill[l]] = row; fill[l] += 1 }
        report.listBalance = Double(sizes.max()!) / (Double(n) / Double(nlist))

        let codeSize = codec.codeSize
        var offsets = [Int](repeating: 0, count: nlist)
        var total = 0
        for l in 0..<nlist {
            offsets[l] = total
            total += IndexFormat.align(4 * sizes[l]) + IndexFormat.align(codeSize * sizes[l])
        }
        let listBytes = OwnedBytes(count: total)
        var directory = [UInt8]()
        directory.reserveCapacity(nlist * IVFListEntry.size)
        var lists: [IVFList] = []
        func ids(_ l: Int) -> UnsafeMutablePointer<UInt32> { (listBytes.base + offsets[l]).assumingMemoryBound(to: UInt32.self) }
        func codes(_ l: Int) -> UnsafeMutableRawPointer { listBytes.base + offsets[l] + IndexFormat.align(4 * sizes[l]) }
        // Rows in their order, each into its slot (a list's rows ascending, as `order` has them):
        // a spooled build reads its vectors once, front to back.
        var slot = [Int](repeating: 0, count: nlist)
        try vectors.forEachChunk { rows, chunk in
            for row in rows {
                let l = Int(training.labels[row]), i = slot[l]
                ids(l)[i] = UInt32(row).littleEndian
                codec.encode(chunk.baseAddress! + (row - rows.lowerBound) * d, count: 1, into: codes(l) + i * codeSize)
                slot[l] += 1
            }
        }
        for l in 0..<nlist {
            IVFListEntry(offset: UInt64(offsets[l]), count: UInt32(sizes[l])).serialize(into: &directory)
            lists.append(.init(ids: UnsafePointer(ids(l)), codes: UnsafeRawPointer(codes(l)), count: sizes[l], firstPosition: firstPosition[l]))
        }
        let centroids = OwnedBytes(count: nlist * d * 2)
        training.halfCentroids.withUnsafeBytes { centroids.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var sections: [(IndexFormat.SectionKind, OwnedBytes)] = [(.ivfCentroids, centroids), (.ivfDirectory, OwnedBytes(directory)), (.ivfLists, listBytes)]
        var positions: UnsafePointer<UInt32>? = nil
        if keepPositions {
            let map = OwnedBytes(count: 4 * n)
            let p = map.base.assumingMemoryBound(to: UInt32.self)
            for position in 0..<n { p[order[position]] = UInt32(position).littleEndian }
            positions = UnsafePointer(p)
            sections.append((.ivfRowPositions, map))
        }
        return (IVFCodes(codec: codec, centroids: UnsafePointer(centroids.base.assumingMemoryBound(to: UInt16.self)), lists: lists,
                         rowPositions: positions, largestList: sizes.max()!, count: n, defaultNProbe: defaultNProbe), sections)
    }
}
