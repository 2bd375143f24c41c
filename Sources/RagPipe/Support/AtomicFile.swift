#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file written under a temporary name beside its target and renamed over it only once it
/// is complete and on disk. Until `commit()`, the target keeps whatever it held before.
package final class AtomicFile {
    let target: String
    let temporary: String
    private var fd: Int32
    package private(set) var position = 0
    private var buffer: [UInt8] = []

    package init(target: String) throws {
        try OutputTarget.checkReplaceable(target)
        self.target = target
        temporary = target + ".tmp-\(getpid())"
        Self.removeStaleTemporaries(of: target)
        fd = try Syscall.openFile(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        buffer.reserveCapacity(1 << 20)
    }

    package func write(bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    package func write(_ raw: UnsafeRawBufferPointer) throws {
        if raw.count >= (1 << 20) {
            try flush()
            try Syscall.writeAll(fd, raw, path: temporary)
            position += raw.count
            return
        }
        buffer.append(contentsOf: raw)
        position += raw.count
        if buffer.count >= (1 << 20) { try flush() }
    }

    package func pad(to offset: Int) throws {
        precondition(offset >= position)
        if offset > position { try write(bytes: [UInt8](repeating: 0, count: offset - position)) }
    }

    /// Overwrites bytes already written (the header, once offsets are known).
    package func write(bytes: [UInt8], at offset: Int) throws {
        try flush()
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw RagPipeError.io(path: temporary, operation: "pwrite", errno: errno)
                }
                done += n
            }
        }
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try Syscall.writeAll(fd, $0, path: temporary) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// fsync, close, rename over the target, fsync the directory.
    package func commit() throws {
        try flush()
        try Syscall.sync(fd, path: temporary)
        Syscall.closeFile(fd)
        fd = -1
        guard rename(temporary, target) == 0 else {
            let code = errno
            unlink(temporary)
            throw RagPipeError.io(path: target, operation: "rename", errno: code)
        }
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let dirFD = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFD >= 0 { _ = fsync(dirFD); close(dirFD) }
    }

    /// Deletes `TARGET.tmp-PID` files left by writers that were killed (their PID no longer
    /// runs); a live writer's file is left alone.
    static func removeStaleTemporaries(of target: String) {
        let slash = target.lastIndex(of: "/")
        let dir = slash.map { String(target[..<$0]) } ?? "."
        let prefix = lastComponent(target) + ".tmp-"
        guard let handle = opendir(dir.isEmpty ? "/" : dir) else { return }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard name.hasPrefix(prefix), let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + name) }
        }
    }

    /// Removes the temporary file; the target is untouched.
    package func abandon() {
        if fd >= 0 { Syscall.closeFile(fd); fd = -1 }
        unlink(temporary)
    }
}

/// Checks on a file a tool is about to write, made before any input is read so that a refused
/// target costs nothing and destroys nothing.
public enum OutputTarget {
    /// The file an AtomicFile renames over must be a regular file (or not exist): renaming over a
    /// device node or FIFO would replace it (`-o /dev/full` once replaced /dev/full).
    /// The directory `target` goes in ("." for a bare name): where its temporary files go too.
    public static func directory(of target: String) -> String {
        guard let slash = target.lastIndex(of: "/") else { return "." }
        return slash == target.startIndex ? "/" : String(target[..<slash])
    }

    public static func checkReplaceable(_ target: String) throws {
        var st = stat()
        guard stat(target, &st) == 0 else { return }
        let type = st.st_mode & S_IFMT
        guard type != S_IFREG else { return }
        let what: String
        switch type {
        case S_IFDIR: what = "a directory"
        case S_IFCHR: what = "a character device"
        case S_IFBLK: what = "a block device"
        case S_IFIFO: what = "a FIFO"
        case S_IFSOCK: what = "a socket"
        default: what = "not a regular file"
        }
        throw RagPipeError.usage("\(target): is \(what); the output must be a regular file (it would be replaced)")
    }

    /// Refuses a target that is one of the inputs (same device and inode, whatever the path
    /// spelling or links); `"-"` (or no inputs) is stdin. Writing it would replace the input with
    /// the output.
    public static func checkNotAnInput(_ target: String, inputs: [String]) throws {
        var out = stat()
        guard stat(target, &out) == 0 else { return }
        for input in inputs.isEmpty ? ["-"] : inputs {
            var st = stat()
            let found = input == "-" ? fstat(0, &st) == 0 : stat(input, &st) == 0
            if found && st.st_dev == out.st_dev && st.st_ino == out.st_ino && (st.st_mode & S_IFMT) == S_IFREG {
                throw RagPipeError.usage("\(target): is also an input (\(input == "-" ? "stdin" : input)); writing it would destroy that input")
            }
        }
    }
}

/// Hands non-Sendable storage to `concurrentPerform` when each iteration touches only its own
/// elements.
package struct UncheckedSendable<T>: @unchecked Sendable {
    package let value: T
    package init(_ value: T) { self.value = value }
}
