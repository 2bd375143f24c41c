import RagPipeSupport
import RagPipeChunking

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectors already computed, keyed by (model id, exact text embedded), one small file each:
/// `DIR/<model id>/<2 hex>/<32 hex>.vec`. An entry is written to a temporary name and renamed,
/// so a killed process never leaves a partial entry under a real name; each entry also carries
/// its key and a CRC-32, and one that fails either check is treated as a miss and rewritten.
///
/// Entry layout (little-endian): `RPCV` magic, u32 version 1, u32 dimension, 16-byte key,
/// dimension × float32, u32 CRC-32 of all preceding bytes.
public final class EmbeddingCache {
    public let directory: String
    public let modelID: String
    public let dimension: Int
    public private(set) var hits = 0
    public private(set) var misses = 0
    private var createdDirectories = Set<String>()

    static let magic: [UInt8] = Array("RPCV".utf8)
    var entrySize: Int { 4 + 4 + 4 + 16 + dimension * 4 + 4 }

    public init(directory: String, modelID: String, dimension: Int) throws {
        self.directory = directory
        self.modelID = modelID
        self.dimension = dimension
        try makeDirectory(directory)
        try makeDirectory(modelDirectory)
    }

    var modelDirectory: String {
        // Model ids may hold "/" (ragpipe/hash-v1): keep one folder level per model.
        directory + "/" + modelID.replacingSlashes() + "-\(dimension)"
    }

    /// 128 bits: two independent 64-bit hashes of model id and text.
    func key(_ text: String) -> (UInt64, UInt64) {
        var a = StableHash(), b = StableHash()
        b.combine(UInt64(0x5241_4750_4950_4531))         // a different seed for the second half
        a.combine(modelID); a.combine(byte: 0); a.combine(text)
        b.combine(modelID); b.combine(byte: 0); b.combine(text)
        return (a.finalized, b.finalized)
    }

    func path(_ key: (UInt64, UInt64)) -> (dir: String, file: String) {
        let hex = StableHash.hex(key.0) + StableHash.hex(key.1)
        let dir = modelDirectory + "/" + String(hex.prefix(2))
        return (dir, dir + "/" + hex + ".vec")
    }

    /// Fills `vector` (dimension floats) from the cache; false on a miss.
    public func lookup(_ text: String, into vector: UnsafeMutableBufferPointer<Float>) -> Bool {
        let k = key(text)
        let (_, file) = path(k)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { misses += 1; return false }
        defer { close(fd) }
        var entry = [UInt8](repeating: 0, count: entrySize + 1)
        let n = entry.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        guard n == entrySize, valid(entry, key: k) else { misses += 1; return false }
        entry.withUnsafeBytes { raw in
            for j in 0..<dimension {
                vector[j] = Float(bitPattern: raw.u32(at: 28 + 4 * j))
            }
        }
        hits += 1
        return true
    }

    func valid(_ entry: [UInt8], key: (UInt64, UInt64)) -> Bool {
        entry.withUnsafeBytes { raw in
            Array(raw[0..<4]) == Self.magic && raw.u32(at: 4) == 1 && Int(raw.u32(at: 8)) == dimension
                && raw.u64(at: 12) == key.0 && raw.u64(at: 20) == key.1
                && Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[0..<(entrySize - 4)])) == raw.u32(at: entrySize - 4)
        }
    }

    /// Stores a vector: temporary file, then rename. Failures to write only cost a later miss,
    /// so they are reported once and not fatal.
    public func store(_ text: String, vector: UnsafeBufferPointer<Float>) throws {
        let k = key(text)
        let (dir, file) = path(k)
        if !createdDirectories.contains(dir) { try makeDirectory(dir); createdDirectories.insert(dir) }
        var entry = Self.magic
        appendLE(UInt32(1), to: &entry)
        appendLE(UInt32(dimension), to: &entry)
        appendLE(k.0, to: &entry)
        appendLE(k.1, to: &entry)
        for x in vector { appendLE(x.bitPattern, to: &entry) }
        appendLE(entry.withUnsafeBytes { Zlib.crc32($0) }, to: &entry)
        let temporary = file + ".tmp-\(getpid())"
        let fd = try Syscall.openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        do {
            try entry.withUnsafeBytes { try Syscall.writeAll(fd, $0, path: temporary) }
            Syscall.closeFile(fd)
        } catch {
            Syscall.closeFile(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, file) == 0 else {
            let code = errno
            unlink(temporary)
            throw RagPipeError.io(path: file, operation: "rename", errno: code)
        }
    }

    func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            // Create parents, then retry once.
            if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
                try makeDirectory(String(path[..<slash]))
                if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
            }
            throw RagPipeError.io(path: path, operation: "mkdir", errno: errno)
        }
    }
}

extension String {
    func replacingSlashes() -> String { String(map { $0 == "/" ? "_" : $0 }) }
}
