import Foundation

/// The peak resident set of a command, measured from a small process.
///
/// Linux keeps a process's peak RSS across execve, and posix_spawn shares the parent's memory
/// until the exec: a tool spawned straight from the bench reports at least the bench's own peak
/// (3.1 GB with the 1M vectors loaded), whatever the tool used. So the bench runs itself as
/// `ragpipe-bench --peak-rss-of TOOL ARGS…`: that fresh, small process spawns the tool, waits,
/// and writes the tool's ru_maxrss (bytes) to descriptor 3.
enum PeakRSS {
    static let flag = "--peak-rss-of"

    /// Runs the wrapper when the arguments ask for it; returns the exit status to end with.
    static func wrapperStatus(_ arguments: [String]) -> Int32? {
        guard arguments.count >= 3, arguments[1] == flag else { return nil }
        let argv = Array(arguments[2...]).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, arguments[2], nil, nil, argv, environ) == 0 else { return 127 }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let line = "\(Int(usage.ru_maxrss) * 1024)\n"
        _ = line.withCString { write(3, $0, strlen($0)) }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
