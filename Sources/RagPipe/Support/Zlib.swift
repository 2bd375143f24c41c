import CZlib

/// System zlib: CRC-32 for checksums, one zlib stream per text block.
package enum Zlib {
    package static func crc32(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return seed }
        var crc = UInt(seed)
        var offset = 0
        // zlib's length argument is 32-bit: feed large sections in pieces.
        while offset < bytes.count {
            let n = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, base.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    package static func compress(_ input: [UInt8], level: Int32 = 6) -> [UInt8] {
        var capacity = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                compress2(dst.baseAddress, &capacity, src.baseAddress, uLong(src.count), level)
            }
        }
        precondition(status == Z_OK, "zlib compress2 failed with \(status) on a bounded buffer")
        // A copy of the right size: trimming in place keeps the bound's capacity, and a build
        // holds every block until it writes them (1,658 blocks of 68 KB held 113 MB for 8.4 MB).
        return Array(out[..<Int(capacity)])
    }

    /// Inflates exactly `expectedSize` bytes, or returns the zlib status that stopped it.
    package static func uncompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) -> Result<[UInt8], ZlibStatus> {
        var out = [UInt8](repeating: 0, count: max(expectedSize, 1))
        var produced = uLong(expectedSize)
        let status = out.withUnsafeMutableBufferPointer { dst in
            CZlib.uncompress(dst.baseAddress, &produced,
                             input.baseAddress?.assumingMemoryBound(to: Bytef.self), uLong(input.count))
        }
        guard status == Z_OK else { return .failure(ZlibStatus(code: status)) }
        guard Int(produced) == expectedSize else { return .failure(ZlibStatus(code: Z_DATA_ERROR)) }
        out.removeSubrange(expectedSize...)
        return .success(out)
    }

    /// Raw deflate (no zlib header: a zip entry's data), exactly `size` bytes out, or nil.
    package static func inflateRaw(_ input: [UInt8], size: Int) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: max(size, 1))
        var stream = z_stream()
        guard ragpipe_inflateInit2(&stream, -15) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var input = input
        let status = input.withUnsafeMutableBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                stream.next_in = src.baseAddress
                stream.avail_in = uInt(src.count)
                stream.next_out = dst.baseAddress
                stream.avail_out = uInt(size)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else { return nil }
        out.removeSubrange(size...)
        return out
    }
}

/// A zlib return code, kept in errors so failures can be diagnosed.
package struct ZlibStatus: Error, CustomStringConvertible {
    let code: Int32
    package var description: String {
        switch code {
        case Z_DATA_ERROR: return "zlib data error (Z_DATA_ERROR)"
        case Z_BUF_ERROR: return "zlib output size mismatch (Z_BUF_ERROR)"
        case Z_MEM_ERROR: return "zlib out of memory (Z_MEM_ERROR)"
        default: return "zlib error \(code)"
        }
    }
}
