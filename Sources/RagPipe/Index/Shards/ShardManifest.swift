import RagPipeSupport
import RagPipeRecords

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The shard set file (`build-index --manifest`, docs/FORMAT.md "Shard manifest"): a JSON
/// object naming each shard's index file, relative to the manifest's folder, with what
/// identifies it (row count, file size, header CRC), so that a missing, truncated, rebuilt or
/// swapped shard is refused when the set is opened.
public struct ShardManifest: Equatable, Sendable {
    public struct Shard: Equatable, Sendable {
        /// As written: relative to the manifest's folder (or absolute).
        public var path: String
        public var count: Int
        public var fileSize: Int
        /// The index header's CRC-32 (bytes 60–63): it covers the section table's CRC, which
        /// covers every section's, so it identifies the file's content at the cost of one read.
        public var headerCRC: UInt32
    }

    public static let version = 1
    /// A manifest larger than this is not one (a million shards' entries fit).
    static let maxBytes = 64 << 20

    public var modelID: String
    public var dimension: Int
    public var count: Int
    public var quantizer: String?
    public var shards: [Shard]

    public init(modelID: String, dimension: Int, count: Int, quantizer: String?, shards: [Shard]) {
        self.modelID = modelID; self.dimension = dimension; self.count = count; self.quantizer = quantizer; self.shards = shards
    }

    /// The shard paths as the file system finds them: relative ones from `manifestPath`'s folder.
    public func resolvedPaths(manifestPath: String) -> [String] {
        let folder = OutputTarget.directory(of: manifestPath)
        return shards.map { $0.path.hasPrefix("/") ? $0.path : folder + "/" + $0.path }
    }

    func json() -> [UInt8] {
        var out = JSONObjectWriter.bytes { o in
            o.field("ragpipe_shards", Self.version)
            o.field("model", modelID)
            o.field("dim", dimension)
            o.field("count", count)
            if let quantizer { o.field("quantizer", quantizer) }
            o.field("shards", writtenBy: { out in
                JSONArrayWriter.write(to: &out) { a in
                    for shard in shards {
                        a.object { o in
                            o.field("path", shard.path)
                            o.field("count", shard.count)
                            o.field("size", shard.fileSize)
                            o.field("header_crc", String(shard.headerCRC, radix: 16))
                        }
                    }
                }
            })
        }
        out.append(0x0A)
        return out
    }

    /// Reads a manifest's bytes (untrusted): every field typed and in range, counts summing up.
    package static func parse(_ raw: UnsafeRawBufferPointer) throws(IndexFileError) -> ShardManifest {
        var m = ShardManifest(modelID: "", dimension: 0, count: -1, quantizer: nil, shards: [])
        var version = -1
        do {
            var s = JSONScanner(raw)
            try s.beginObject()
            while let key = try s.nextKey() {
                if key.equals("ragpipe_shards") { version = try s.readInt() }
                else if key.equals("model") { m.modelID = try s.readString() }
                else if key.equals("dim") { m.dimension = try s.readInt() }
                else if key.equals("count") { m.count = try s.readInt() }
                else if key.equals("quantizer") { m.quantizer = try s.readString() }
                else if key.equals("shards") {
                    try s.readArray { s in
                        var shard = Shard(path: "", count: -1, fileSize: -1, headerCRC: 0)
                        var crc = ""
                        try s.beginObject()
                        while let key = try s.nextKey() {
                            if key.equals("path") { shard.path = try s.readString() }
                            else if key.equals("count") { shard.count = try s.readInt() }
                            else if key.equals("size") { shard.fileSize = try s.readInt() }
                            else if key.equals("header_crc") { crc = try s.readString() }
                            else { try s.skipValue() }
                        }
                        guard crc.utf8.count <= 8, let value = UInt32(crc, radix: 16) else {
                            throw ManifestFieldError("shard \(m.shards.count): header_crc '\(crc)' is not 1 to 8 hex digits")
                        }
                        shard.headerCRC = value
                        m.shards.append(shard)
                    }
                }
                else { try s.skipValue() }
            }
            try s.expectEnd()
        } catch let error as ManifestFieldError {
            throw .corrupt("shard manifest: \(error.reason)")
        } catch {
            throw .corrupt("shard manifest: \(error)")
        }
        guard version >= 1 else { throw .corrupt("shard manifest: no \"ragpipe_shards\" version (is this a manifest?)") }
        guard version <= Self.version else { throw .versionTooNew(UInt32(clamping: version)) }
        guard !m.modelID.isEmpty else { throw .corrupt("shard manifest: no model") }
        guard m.dimension >= 1 && m.dimension <= IndexFormat.maxDimension else { throw .corrupt("shard manifest: dim \(m.dimension) out of range") }
        guard !m.shards.isEmpty else { throw .corrupt("shard manifest: no shards") }
        var total = 0
        for (i, shard) in m.shards.enumerated() {
            guard !shard.path.isEmpty, !shard.path.utf8.contains(0) else { throw .corrupt("shard manifest: shard \(i) has no path") }
            guard shard.count >= 1 && shard.count <= Int(UInt32.max) else { throw .corrupt("shard manifest: shard \(i) count \(shard.count) out of range") }
            guard shard.fileSize >= IndexFormat.headerSize else { throw .corrupt("shard manifest: shard \(i) size \(shard.fileSize) out of range") }
            total += shard.count
        }
        guard total == m.count else { throw .corrupt("shard manifest: shards hold \(total) rows, count says \(m.count)") }
        return m
    }

    /// Reads the manifest at `path`.
    public init(path: String) throws {
        let bytes = try readFileBytes(path)
        guard bytes.count <= Self.maxBytes else { throw RagPipeError.corruptIndex(path: path, reason: "shard manifest: \(bytes.count) bytes, more than a manifest holds") }
        let parsed: Result<ShardManifest, IndexFileError> = bytes.withUnsafeBytes { raw in Result { () throws(IndexFileError) in try Self.parse(raw) } }
        switch parsed {
        case .success(let m): self = m
        case .failure(let error): throw error.error(path: path)
        }
    }

    /// Opens `shards` (checking that they form a set), and writes the manifest naming them to
    /// `output` atomically, each path relative to `output`'s folder.
    public static func write(shards paths: [String], to output: String) throws -> IndexShards {
        let set = try IndexShards(paths: paths)
        let folder = absolute(OutputTarget.directory(of: output))
        let manifest = ShardManifest(
            modelID: set.metadata.modelID, dimension: set.dimension, count: set.count, quantizer: set.metadata.quantizer,
            shards: set.shards.map { shard in
                Shard(path: relative(absolute(shard.path), from: folder), count: shard.count, fileSize: shard.file.bytes.count,
                      headerCRC: shard.file.bytes.u32(at: 60))
            })
        let file = try AtomicFile(target: output)
        do {
            try file.write(bytes: manifest.json())
            try file.commit()
        } catch {
            file.abandon()
            throw error
        }
        return set
    }

    /// `path` made absolute against the working directory, with `.` components dropped.
    static func absolute(_ path: String) -> String {
        var full = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil { full = String(cString: buffer) + "/" + path }
        }
        var parts: [Substring] = []
        for part in full.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." { parts.removeLast(); continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// `path` (absolute) relative to `folder` (absolute), with `..` where they part.
    static func relative(_ path: String, from folder: String) -> String {
        let p = path.split(separator: "/"), f = folder.split(separator: "/")
        var common = 0
        while common < p.count - 1 && common < f.count && p[common] == f[common] { common += 1 }
        return (Array(repeating: "..", count: f.count - common) + p[common...].map(String.init)).joined(separator: "/")
    }
}

/// A field of one shard entry out of range, thrown from inside the scanner's array callback.
struct ManifestFieldError: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
