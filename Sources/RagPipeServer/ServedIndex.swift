import Foundation
import RagPipeSupport
import RagPipeEmbedding
import RagPipeIndex
import RagPipePipeline

/// One mapped index (a file, or the shards a manifest names) and the embedder its vectors were made with (with a `VectorMemo`, kept
/// across reloads of the same model: a text's vector does not depend on the index), as a request sees it: a
/// request holds its `ServedIndex` from start to end, so a reload that maps a new file never
/// unmaps the old one under it (the mapping goes when the last request holding it ends).
final class ServedIndex: Sendable {
    let reader: IndexShards
    let embedder: any Embedder
    /// 1 for the file mapped at start, then one more for each reload.
    let generation: Int
    let identity: FileIdentity

    init(reader: IndexShards, embedder: any Embedder, generation: Int, identity: FileIdentity) {
        self.reader = reader; self.embedder = embedder; self.generation = generation; self.identity = identity
    }

    /// Opens `path` (checking every checksum when `verify`), with `embedder` when it makes the
    /// index's model (kept across reloads: loading the model costs far more than mapping a file),
    /// else the one the index names. The default query options must run on it (model, dimension,
    /// BM25 sections), so a file that opens but cannot answer is refused here, not per request.
    static func open(path: String, verify: Bool, generation: Int, reusing embedder: (any Embedder)?,
                     native: EmbedderRegistry.NativeSettings, memo: Int) throws -> ServedIndex {
        let before = try FileIdentity(path: path)
        // A manifest is replaced whole (build-index --manifest renames it in last), so the
        // manifest's identity stands for the set; its shards are checked against it on open.
        let reader = try IndexShards.open(path)
        // Renamed over between the stat and the open: the next poll sees the newer file.
        guard try FileIdentity(path: path) == before else { throw RagPipeError.unreadable(path: path, reason: "replaced while it was opened") }
        if verify { try reader.verify() }
        let embedder = try embedder.flatMap { $0.modelID == reader.metadata.modelID && $0.dimension == reader.dimension ? $0 : nil }
            ?? VectorMemo(EmbedderRegistry.embedder(modelID: reader.metadata.modelID, dimension: reader.dimension, native: native, source: path),
                          capacity: memo)
        _ = try QueryOptions().engine(shards: reader, embedder: embedder)
        return ServedIndex(reader: reader, embedder: embedder, generation: generation, identity: before)
    }
}

/// What tells a replaced file from the one mapped: device, inode, size and modification time
/// (`build-index` renames a new file over the old, which changes the inode).
struct FileIdentity: Equatable, Sendable, CustomStringConvertible {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modified: Int64

    init(path: String) throws {
        var st = stat()
        // As `IndexReader` reports a file it cannot open: a missing input (exit 66), naming the path.
        guard stat(path, &st) == 0 else { throw RagPipeError.unreadable(path: path, reason: String(cString: strerror(errno))) }
        device = UInt64(st.st_dev); inode = UInt64(st.st_ino); size = Int64(st.st_size)
        modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    var description: String { "inode \(inode), \(size) bytes" }
}

/// The index being served now, swapped whole on reload.
final class IndexSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var served: ServedIndex
    /// The last replacement refused, so a damaged file is reported once, not at every poll.
    private var refused: FileIdentity?
    let path: String
    let verify: Bool
    let native: EmbedderRegistry.NativeSettings
    let memo: Int

    init(path: String, verify: Bool, native: EmbedderRegistry.NativeSettings, memo: Int) throws {
        self.path = path; self.verify = verify; self.native = native; self.memo = memo
        served = try ServedIndex.open(path: path, verify: verify, generation: 1, reusing: nil, native: native, memo: memo)
    }

    var current: ServedIndex { lock.withLock { served } }

    enum Reload: Equatable {
        case unchanged
        case reloaded(generation: Int)
        case refused(String)
    }

    /// Maps the file again when it was replaced; a file that does not open, verify or answer is
    /// refused and the old one keeps serving.
    func reloadIfChanged() -> Reload {
        let (old, skip) = lock.withLock { (served, refused) }
        guard let now = try? FileIdentity(path: path), now != old.identity, now != skip else { return .unchanged }
        do {
            let new = try ServedIndex.open(path: path, verify: verify, generation: old.generation + 1, reusing: old.embedder, native: native, memo: memo)
            lock.withLock { served = new; refused = nil }
            return .reloaded(generation: new.generation)
        } catch {
            lock.withLock { refused = now }
            return .refused("\(error)")
        }
    }
}
