import RagPipeSupport

/// The entries of a zip file held in memory (how a `.docx` is read): the central directory is
/// found from the end record, each entry's data through its local header, stored or deflated
/// (zlib, raw deflate), every size, offset and CRC-32 checked. No ZIP64, no encryption.
package struct ZipArchive {
    package struct Entry {
        package var name: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeader: Int
    }

    package enum Failure: Error, Equatable, CustomStringConvertible {
        case notZip, damaged(String), tooLarge(String, Int), unsupported(String)
        package var description: String {
            switch self {
            case .notZip: return "not a zip file"
            case .damaged(let what): return "damaged or truncated zip: \(what)"
            case .tooLarge(let name, let size): return "zip entry \(name) inflates to \(size) bytes, more than ragpipe reads"
            case .unsupported(let what): return "zip entry uses \(what), which ragpipe does not read"
            }
        }
    }

    /// Entries larger than this uncompressed are refused (a zip bomb would otherwise fill memory).
    package static let maximumEntrySize = 256 << 20

    package let bytes: [UInt8]
    package private(set) var entries: [Entry] = []

    package init(_ bytes: [UInt8]) throws {
        self.bytes = bytes
        guard bytes.count >= 22, u32(0) == 0x0403_4B50 || u32(0) == 0x0605_4B50 else { throw Failure.notZip }
        // The end of central directory record: 22 bytes plus a comment of at most 65,535.
        var end = -1
        var k = bytes.count - 22
        while k >= max(0, bytes.count - 22 - 65_535) {
            if u32(k) == 0x0605_4B50 { end = k; break }
            k -= 1
        }
        guard end >= 0 else { throw Failure.damaged("no end of central directory (the file was cut short?)") }
        let count = Int(u16(end + 10)), size = Int(u32(end + 12)), offset = Int(u32(end + 16))
        guard offset <= end, size <= end - offset else { throw Failure.damaged("central directory out of bounds") }
        var p = offset
        for _ in 0..<count {
            guard p + 46 <= offset + size, u32(p) == 0x0201_4B50 else { throw Failure.damaged("bad central directory entry") }
            let nameLength = Int(u16(p + 28)), extra = Int(u16(p + 30)), comment = Int(u16(p + 32))
            guard p + 46 + nameLength <= offset + size else { throw Failure.damaged("entry name out of bounds") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            if u16(p + 8) & 1 != 0 { throw Failure.unsupported("encryption (\(name))") }
            entries.append(Entry(name: name, method: u16(p + 10), crc: u32(p + 16), compressedSize: Int(u32(p + 20)),
                                 size: Int(u32(p + 24)), localHeader: Int(u32(p + 42))))
            p += 46 + nameLength + extra + comment
        }
    }

    package func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// An entry's bytes, inflated and checked against its CRC-32.
    package func data(of entry: Entry) throws -> [UInt8] {
        let h = entry.localHeader
        guard h + 30 <= bytes.count, u32(h) == 0x0403_4B50 else { throw Failure.damaged("bad local header for \(entry.name)") }
        let start = h + 30 + Int(u16(h + 26)) + Int(u16(h + 28))
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw Failure.damaged("\(entry.name) runs past the end of the file")
        }
        guard entry.size <= Self.maximumEntrySize else { throw Failure.tooLarge(entry.name, entry.size) }
        let raw = bytes[start..<(start + entry.compressedSize)]
        let out: [UInt8]
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else { throw Failure.damaged("\(entry.name): stored sizes differ") }
            out = Array(raw)
        case 8:
            guard let inflated = Zlib.inflateRaw(Array(raw), size: entry.size) else {
                throw Failure.damaged("\(entry.name) does not inflate to its \(entry.size) bytes")
            }
            out = inflated
        default:
            throw Failure.unsupported("compression method \(entry.method) (\(entry.name))")
        }
        guard out.withUnsafeBytes({ Zlib.crc32($0) }) == entry.crc else { throw Failure.damaged("\(entry.name): CRC-32 mismatch") }
        return out
    }

    func u16(_ i: Int) -> UInt16 { i + 2 <= bytes.count ? UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 : 0 }
    func u32(_ i: Int) -> UInt32 {
        i + 4 <= bytes.count ? UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24 : 0
    }
}
