import Foundation
import Testing
@testable import RagPipeFuzzing
@testable import RagPipeSupport
@testable import RagPipeIndex

/// The records of the file's frame (header, section table, TXTI and IVFD entries): each type's
/// `serialize` and `parse` mirror each other, reproduce the bytes ragpipe writes, and every
/// field a reader checks is refused, when damaged, with a reason of its own.
@Suite struct IndexFileLayoutTests {
    func random32(_ rng: inout SplitMix) -> UInt32 { UInt32(truncatingIfNeeded: rng.next()) }

    @Test func everyRecordRoundTripsForRandomValues() throws {
        var rng = SplitMix(seed: 15)
        for _ in 0..<2_000 {
            let header = IndexHeader(version: UInt32(1 + rng.next() % UInt64(IndexFormat.version)), fileSize: rng.next(),
                                     tableOffset: rng.next(), sectionCount: random32(&rng), tableCRC: random32(&rng))
            let bytes = header.serialize()
            #expect(bytes.count == IndexHeader.size)
            #expect(try bytes.withUnsafeBytes { try IndexHeader.parse($0) } == header)

            let section = SectionTableEntry(rawKind: random32(&rng), offset: rng.next(), length: rng.next(), crc: random32(&rng))
            var out: [UInt8] = []
            section.serialize(into: &out)
            #expect(out.count == SectionTableEntry.size)
            #expect(out.withUnsafeBytes { SectionTableEntry(parsing: $0, at: 0) } == section)

            let block = TextBlockEntry(offset: rng.next(), compressedLength: random32(&rng), uncompressedLength: random32(&rng),
                                       firstRecord: random32(&rng), recordCount: random32(&rng), crc: random32(&rng))
            out = []
            block.serialize(into: &out)
            #expect(out.count == TextBlockEntry.size)
            #expect(out.withUnsafeBytes { TextBlockEntry(parsing: $0, at: 0) } == block)

            let list = IVFListEntry(offset: rng.next(), count: random32(&rng))
            out = []
            list.serialize(into: &out)
            #expect(out.count == IVFListEntry.size)
            #expect(out.withUnsafeBytes { IVFListEntry(parsing: $0, at: 0) } == list)
        }
        // Tables of several entries, in order.
        let blocks = (0..<5).map { TextBlockEntry(offset: UInt64($0 * 100), compressedLength: 100, uncompressedLength: 300,
                                                  firstRecord: UInt32($0 * 3), recordCount: 3, crc: UInt32($0)) }
        let table = TextBlockEntry.serializeTable(blocks)
        #expect(table.count == TextBlockEntry.tableHeaderSize + 5 * TextBlockEntry.size)
        #expect(try table.withUnsafeBytes { try TextBlockEntry.parseTable($0) } == blocks)
        let sections = (0..<4).map { SectionTableEntry(rawKind: UInt32($0), offset: UInt64($0 * 64), length: 64, crc: 9) }
        #expect(SectionTableEntry.serialize(sections).withUnsafeBytes { SectionTableEntry.parseTable($0) } == sections)
    }

    /// Parsing a written file and serializing again gives the file's bytes: the types describe
    /// the format ragpipe writes, reserved words and flags included.
    @Test func parsedRecordsSerializeToTheBytesOfRealFiles() throws {
        let dir = try TempDir()
        var options = DenseIndexOptions()
        options.kind = .ivf; options.coding = .sq8; options.nlist = 12
        let (ivfPath, _, _) = try IVFTests().build(dir, n: 1200, options: options)
        let (flatPath, _, _) = try IndexTests().buildIndex(in: dir, n: 300)
        for path in [ivfPath, flatPath] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let reader = try IndexReader(path: path)
            try bytes.withUnsafeBytes { raw in
                let header = try IndexHeader.parse(raw)
                #expect(header.serialize() == Array(bytes[0..<IndexHeader.size]))
                let tableRange = Int(header.tableOffset)..<(Int(header.tableOffset) + Int(header.sectionCount) * SectionTableEntry.size)
                let entries = SectionTableEntry.parseTable(UnsafeRawBufferPointer(rebasing: raw[tableRange]))
                #expect(SectionTableEntry.serialize(entries) == Array(bytes[tableRange]))
                let txti = reader.section(.textIndex)!
                #expect(TextBlockEntry.serializeTable(try TextBlockEntry.parseTable(txti)) == Array(txti))
                if let ivfd = reader.section(.ivfDirectory) {
                    var out: [UInt8] = []
                    for l in 0..<(ivfd.count / IVFListEntry.size) { IVFListEntry(parsing: ivfd, at: l * IVFListEntry.size).serialize(into: &out) }
                    #expect(out == Array(ivfd))
                }
            }
        }
    }

    /// The reason a damaged file is refused with (nil: it opened).
    func refusal(_ bytes: [UInt8], in dir: TempDir) -> String? {
        let path = dir.write("damaged.ragx", bytes: bytes)
        do {
            _ = try IndexReader(path: path)
            return nil
        } catch let error as RagPipeError {
            #expect(error.exitStatus == 80 || error.exitStatus == 81, "\(error)")
            return error.description
        } catch {
            return "unexpected \(error)"
        }
    }

    /// `file` with `record`'s bytes at `offset`, and every checksum recomputed as a writer would.
    func replacing(_ file: [UInt8], at offset: Int, with record: (inout [UInt8]) -> Void) -> [UInt8] {
        var bytes: [UInt8] = []
        record(&bytes)
        var b = file
        b.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        FuzzHarness.mendChecksums(&b, fileSize: false)
        return b
    }

    @Test func eachHeaderFieldIsCheckedWithItsOwnReason() throws {
        let dir = try TempDir()
        let (path, _, _) = try IndexTests().buildIndex(in: dir, n: 60)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let header = try good.withUnsafeBytes { try IndexHeader.parse($0) }
        #expect(refusal(good, in: dir) == nil)
        /// The file with its header's fields edited, the header CRC recomputed.
        func with(_ edit: (inout IndexHeader) -> Void) -> [UInt8] {
            var h = header
            edit(&h)
            var b = good
            b.replaceSubrange(0..<IndexHeader.size, with: h.serialize())
            return b
        }
        /// The file with header bytes patched and the header CRC recomputed, for the fields
        /// `IndexHeader` does not store (magic, header size).
        func patched(_ offset: Int, _ value: UInt32) -> [UInt8] {
            var b = good
            withUnsafeBytes(of: value.littleEndian) { for k in 0..<4 { b[offset + k] = $0[k] } }
            let crc = b.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<60])) }
            withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { b[60 + k] = $0[k] } }
            return b
        }
        var flippedCRC = good
        flippedCRC[61] ^= 0x20
        let size = good.count
        let cases: [(field: String, bytes: [UInt8], reason: String)] = [
            ("length", Array(good[0..<63]), "truncated: 63 bytes, shorter than the 64-byte header"),
            ("magic", patched(0, 0x4741_5189), "not a ragpipe index (bad magic)"),
            ("version 0", with { $0.version = 0 }, "format version 0 is invalid"),
            ("version 4", with { $0.version = 4 }, "index format version 4 is newer than this ragpipe reads (3)"),
            ("header size", patched(12, 128), "header size field is 128, version 1 headers are 64 bytes"),
            ("file size, larger", with { $0.fileSize += 64 }, "truncated: header says \(size + 64) bytes, file has \(size)"),
            ("file size, smaller", with { $0.fileSize -= 64 }, "file is \(size) bytes, header says \(size - 64)"),
            ("table offset", with { $0.tableOffset += 64 }, "section table out of bounds: \(header.sectionCount) entries of 32 bytes at offset \(header.tableOffset + 64)"),
            ("section count", with { $0.sectionCount = 5000 }, "section table: 5000 sections, more than the 1024 a reader accepts"),
            ("table CRC", with { $0.tableCRC ^= 1 }, "section table checksum mismatch"),
            ("header CRC", flippedCRC, "header checksum mismatch"),
        ]
        for c in cases {
            let reason = refusal(c.bytes, in: dir)
            #expect(reason?.contains(c.reason) == true, "\(c.field): \(reason ?? "opened")")
        }
        // The header size is checked after the CRC: only a consistent header reaches it.
        var stale = good
        stale[12] = 65
        #expect(refusal(stale, in: dir)?.contains("header checksum mismatch") == true)
    }

    @Test func eachSectionAndTextBlockFieldIsCheckedWithItsOwnReason() throws {
        let dir = try TempDir()
        let (path, _, _) = try IndexTests().buildIndex(in: dir, n: 300)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try IndexReader(path: path)
        let header = try good.withUnsafeBytes { try IndexHeader.parse($0) }
        let table = Int(header.tableOffset)
        let entries = good.withUnsafeBytes {
            SectionTableEntry.parseTable(UnsafeRawBufferPointer(rebasing: $0[table..<(table + Int(header.sectionCount) * 32)]))
        }
        let metaIndex = entries.firstIndex { $0.kind == .metadata }!
        let txti = reader.sections[.textIndex]!.range.lowerBound
        let blocks = try TextBlockEntry.parseTable(reader.section(.textIndex)!)
        #expect(blocks.count > 3)
        /// The file with entry `i` of the section table replaced, and the table's and header's
        /// checksums recomputed (not the sections': the entry's own CRC is one of the fields).
        func withSection(_ i: Int, _ edit: (inout SectionTableEntry) -> Void) -> [UInt8] {
            var edited = entries
            edit(&edited[i])
            var b = good
            let bytes = SectionTableEntry.serialize(edited)
            b.replaceSubrange(table..<(table + bytes.count), with: bytes)
            var h = header
            h.tableCRC = bytes.withUnsafeBytes { Zlib.crc32($0) }
            b.replaceSubrange(0..<IndexHeader.size, with: h.serialize())
            return b
        }
        /// The file with TXTI entry `i` replaced, checksums recomputed.
        func withBlock(_ i: Int, _ edit: (inout TextBlockEntry) -> Void) -> [UInt8] {
            var e = blocks[i]
            edit(&e)
            return replacing(good, at: txti + TextBlockEntry.tableHeaderSize + i * TextBlockEntry.size) { e.serialize(into: &$0) }
        }
        let txtb = reader.sections[.textBlocks]!.range.count
        let cases: [(field: String, bytes: [UInt8], reason: String)] = [
            ("section kind, repeated", withSection(metaIndex + 1) { $0.rawKind = IndexFormat.SectionKind.metadata.rawValue }, "duplicate META section"),
            ("section kind, unknown", withSection(metaIndex) { $0.rawKind = 0x5858_5858 }, "missing META section"),
            ("section offset", withSection(metaIndex) { $0.offset = UInt64(good.count) }, "section \(metaIndex) (META) out of bounds"),
            ("section length", withSection(metaIndex) { $0.length = UInt64.max }, "section \(metaIndex) (META) out of bounds"),
            ("section CRC", withSection(metaIndex) { $0.crc ^= 1 }, "META section checksum mismatch"),
            ("block offset", withBlock(2) { $0.offset = UInt64(txtb) }, "TXTI block 2 points outside the TXTB section"),
            ("block compressed length", withBlock(2) { $0.compressedLength = UInt32(txtb + 1) }, "TXTI block 2 points outside the TXTB section"),
            ("block uncompressed length, small", withBlock(2) { $0.uncompressedLength = 8 }, "TXTI block 2 is 8 bytes uncompressed, too few"),
            ("block uncompressed length, large", withBlock(2) { $0.uncompressedLength = 0xFFFF_FFFF }, "TXTI block 2 claims 4294967295 bytes"),
            ("block first record", withBlock(2) { $0.firstRecord += 1 }, "TXTI block 2 starts at record \(blocks[2].firstRecord + 1), the blocks before it end at \(blocks[2].firstRecord)"),
            ("block record count", withBlock(2) { $0.recordCount = 0 }, "TXTI block 2 holds 0 records"),
            ("last block record count", withBlock(blocks.count - 1) { $0.recordCount += 1 }, "TXTI block \(blocks.count - 1) holds \(blocks.last!.recordCount + 1) records, \(blocks.last!.recordCount) of the 300 are left"),
        ]
        for c in cases {
            let reason = refusal(c.bytes, in: dir)
            #expect(reason?.contains(c.reason) == true, "\(c.field): \(reason ?? "opened")")
        }
        // The block CRC covers the uncompressed block, so it is checked when the block is read.
        let crcPath = dir.write("crc.ragx", bytes: withBlock(1) { $0.crc ^= 1 })
        let opened = try IndexReader(path: crcPath)
        #expect(throws: RagPipeError.corruptIndex(path: crcPath, reason: "TXTB block 1: checksum mismatch")) {
            try opened.record(Int(blocks[1].firstRecord))
        }
        // A table whose length disagrees with its count.
        var short = good
        withUnsafeBytes(of: UInt32(blocks.count + 1).littleEndian) { for k in 0..<4 { short[txti + k] = $0[k] } }
        FuzzHarness.mendChecksums(&short, fileSize: false)
        #expect(refusal(short, in: dir)?.contains("TXTI section is \(reader.sections[.textIndex]!.range.count) bytes for \(blocks.count + 1) blocks") == true)
    }

    @Test func eachListEntryFieldIsCheckedWithItsOwnReason() throws {
        let dir = try TempDir()
        var options = DenseIndexOptions()
        options.kind = .ivf; options.coding = .sq8; options.nlist = 12
        let (path, _, _) = try IVFTests().build(dir, n: 1200, options: options)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try IndexReader(path: path)
        let ivfd = reader.sections[.ivfDirectory]!.range.lowerBound
        let ivflLength = reader.sections[.ivfLists]!.range.count
        let lists = (0..<12).map { IVFListEntry(parsing: reader.section(.ivfDirectory)!, at: $0 * IVFListEntry.size) }
        func withList(_ l: Int, _ edit: (inout IVFListEntry) -> Void) -> [UInt8] {
            var e = lists[l]
            edit(&e)
            return replacing(good, at: ivfd + l * IVFListEntry.size) { e.serialize(into: &$0) }
        }
        let cases: [(field: String, bytes: [UInt8], reason: String)] = [
            ("offset, misaligned", withList(3) { $0.offset += 4 }, "IVFD: list 3 is at offset \(lists[3].offset + 4), not a multiple of 64"),
            ("offset, beyond", withList(3) { $0.offset = UInt64(ivflLength) }, "IVFD: list 3 points outside the IVFL section"),
            ("count, too many", withList(3) { $0.count = 5000 }, "IVFD: list 3 holds 5000 rows, more than the"),
            ("count, too few", withList(11) { $0.count -= 1 }, "IVFD lists hold 1199 rows, META says 1200"),
        ]
        for c in cases {
            let reason = refusal(c.bytes, in: dir)
            #expect(reason?.contains(c.reason) == true, "\(c.field): \(reason ?? "opened")")
        }
    }

    /// META's JSON text is pinned byte for byte: typing `metric`, `kind` and `codes` changed
    /// none of it, and the writer that replaces `jsonBytes` must not either.
    @Test func metadataJSONIsUnchangedAndRoundTrips() throws {
        let flat = IndexMetadata(modelID: "all-MiniLM-L6-v2", dimension: 384, count: 207, toolVersion: "ragpipe 0.1.0")
        #expect(String(decoding: flat.jsonBytes(), as: UTF8.self) ==
                #"{"format":1,"tool":"ragpipe 0.1.0","model":"all-MiniLM-L6-v2","dim":384,"metric":"cosine","count":207,"kind":"flat","codes":"fp32","block_size":65536}"#)
        var ivf = IndexMetadata(modelID: "m@int8", dimension: 32, count: 3000, kind: .ivf, codes: .sq8, blockSize: 4096, toolVersion: "ragpipe 0.1.0")
        ivf.dense.rerank = true
        ivf.dense.nlist = 40; ivf.dense.nprobe = 7; ivf.dense.trainingPoints = 2560; ivf.dense.trainingIterations = 20
        ivf.dense.trainingSeconds = 0.12345; ivf.dense.listBalance = 1.5; ivf.dense.recallAt10 = 0.95678
        ivf.dense.targetRecall = 0.95; ivf.dense.tuningQueries = 500
        ivf.bm25 = .init(k1: 0.9, b: 0.4, averageLength: 12.5)
        #expect(String(decoding: ivf.jsonBytes(), as: UTF8.self) ==
                #"{"format":2,"tool":"ragpipe 0.1.0","model":"m@int8","dim":32,"metric":"cosine","count":3000,"kind":"ivf","codes":"sq8","block_size":4096,"rerank":true,"nlist":40,"nprobe":7,"train_points":2560,"train_iterations":20,"train_seconds":0.123,"list_balance":1.5,"recall_at_10":0.9568,"target_recall":0.95,"tuning_queries":500,"bm25_k1":0.9,"bm25_b":0.4,"bm25_avgdl":12.5}"#)
        for m in [flat, ivf] {
            var back = try m.jsonBytes().withUnsafeBytes { try IndexMetadata.parse($0) }
            // Seconds and recall are written rounded.
            back.dense.trainingSeconds = m.dense.trainingSeconds; back.dense.recallAt10 = m.dense.recallAt10
            #expect(back == m)
        }
    }

    /// Unknown names cannot be held by the typed fields: `parse` refuses them with the reasons
    /// the reader gave when they were strings, and in the same order among other faults.
    @Test func metadataWithUnknownNamesIsRefusedAsBefore() throws {
        func reason(_ json: String) -> String? {
            do {
                _ = try Array(json.utf8).withUnsafeBytes { try IndexMetadata.parse($0) }
                return nil
            } catch let error as IndexFileError {
                return "\(error)"
            } catch {
                return "scanner: \(error)"
            }
        }
        let base = #""dim":4,"count":3,"metric":"cosine","kind":"flat","codes":"fp32""#
        #expect(reason("{\(base)}") == nil)
        #expect(reason("{\(base.replacingOccurrences(of: "cosine", with: "l2"))}") == "\(IndexFileError.corrupt("META: unknown metric 'l2'"))")
        #expect(reason("{\(base.replacingOccurrences(of: "\"flat\"", with: "\"hnsw\""))}") == "\(IndexFileError.corrupt("META: index kind 'hnsw' with 'fp32' codes is not known"))")
        #expect(reason("{\(base.replacingOccurrences(of: "fp32", with: "pq"))}") == "\(IndexFileError.corrupt("META: index kind 'flat' with 'pq' codes is not known"))")
        #expect(reason(#"{"dim":4,"count":3,"metric":"cosine","codes":"fp32"}"#) == "\(IndexFileError.corrupt("META: index kind '' with 'fp32' codes is not known"))")
        // A dimension out of range is named first, as it was.
        #expect(reason(#"{"dim":0,"count":3,"metric":"l2","kind":"flat","codes":"fp32"}"#) == "\(IndexFileError.corrupt("META: dimension 0 out of range 1...65536"))")
        #expect(reason(#"{"dim":4,"count":3,"kind":7}"#)?.hasPrefix("scanner: ") == true)

        // Through the reader: the corrupt-index message of an index whose META names a metric
        // this build does not know.
        let dir = try TempDir()
        let (path, _, _) = try IndexTests().buildIndex(in: dir, n: 20)
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let meta = try IndexReader(path: path).sections[.metadata]!.range
        var bytes = good
        let text = String(decoding: bytes[meta], as: UTF8.self).replacingOccurrences(of: "\"cosine\"", with: "\"cosinf\"")
        bytes.replaceSubrange(meta, with: Array(text.utf8))
        FuzzHarness.mendChecksums(&bytes, fileSize: false)
        let damaged = dir.write("meta.ragx", bytes: bytes)
        #expect(throws: RagPipeError.corruptIndex(path: damaged, reason: "META: unknown metric 'cosinf'")) { try IndexReader(path: damaged) }
    }
}
