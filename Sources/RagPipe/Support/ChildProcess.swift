#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs another program to completion and collects what it wrote (how `chunk` runs `pdftotext`,
/// a GPL tool kept in its own process rather than linked).
package enum ChildProcess {
    package struct Output {
        /// The exit status, or 128 + the signal that ended it.
        package var status: Int32
        package var stdout: [UInt8]
        package var stderr: [UInt8]
    }

    /// Runs `program` (looked up on PATH) with `arguments`, standard input closed (`/dev/null`).
    /// Returns nil when the program is not found; other failures to start it are I/O errors.
    package static func run(_ program: String, _ arguments: [String]) throws -> Output? {
        var outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0 else { throw RagPipeError.io(path: program, operation: "pipe", errno: errno) }
        guard pipe(&errPipe) == 0 else {
            let code = errno; close(outPipe[0]); close(outPipe[1])
            throw RagPipeError.io(path: program, operation: "pipe", errno: code)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in [outPipe[0], outPipe[1], errPipe[0], errPipe[1]] { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([program] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid = pid_t()
        let spawned = posix_spawnp(&pid, program, &actions, nil, argv, environ)
        close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(outPipe[0]); close(errPipe[0])
            if spawned == ENOENT || spawned == EACCES || spawned == ENOTDIR { return nil }
            throw RagPipeError.io(path: program, operation: "posix_spawn", errno: spawned)
        }
        var output = Output(status: 0, stdout: [], stderr: [])
        // Both pipes at once, so neither fills up while the other is waited on.
        var fds = [pollfd(fd: outPipe[0], events: Int16(POLLIN), revents: 0),
                   pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)]
        var open = 2
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while open > 0 {
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            for k in fds.indices where fds[k].fd >= 0 && fds[k].revents != 0 {
                let n = buffer.withUnsafeMutableBytes { read(fds[k].fd, $0.baseAddress!, $0.count) }
                if n > 0 {
                    if k == 0 { output.stdout.append(contentsOf: buffer[0..<n]) } else { output.stderr.append(contentsOf: buffer[0..<n]) }
                } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[k].fd); fds[k].fd = -1; open -= 1
                }
            }
        }
        for k in fds.indices where fds[k].fd >= 0 { close(fds[k].fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7F
        output.status = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        return output
    }
}
