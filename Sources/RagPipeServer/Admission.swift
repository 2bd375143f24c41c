import Foundation

/// Bounded concurrency: at most `workers` computations run at once (each on its own thread, off
/// the server's event loops), at most `queue` wait for a turn, and a request beyond both is
/// refused at once (429) rather than left to pile up.
final class Admission: @unchecked Sendable {
    let workers: Int
    let queue: Int
    /// Test hook (`serve --hold-while-exists`): an admitted computation starts only once this
    /// file is gone, so a test can keep a worker busy for exactly as long as it needs, where a
    /// "long" request would be a race against the machine's load.
    let holdWhileExists: String?
    private let lock = NSLock()
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(workers: Int, queue: Int, holdWhileExists: String? = nil) {
        self.workers = max(1, workers); self.queue = max(0, queue); self.holdWhileExists = holdWhileExists
    }

    /// Running and waiting computations.
    var busy: Int { lock.withLock { running + waiting.count } }

    private enum Turn { case now, wait, refused(Int) }

    /// Waits for a turn, or throws `saturated` when the queue is full.
    func enter() async throws {
        let turn: Turn = lock.withLock {
            if running < workers { running += 1; return .now }
            if waiting.count < queue { return .wait }
            return .refused(running + waiting.count)
        }
        switch turn {
        case .now: return
        case .refused(let busy): throw APIError.saturated(busy)
        case .wait:
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let admitted: Bool = lock.withLock {
                    // A turn may have come free between the check and now.
                    if running < workers { running += 1; return true }
                    waiting.append(c)
                    return false
                }
                if admitted { c.resume() }
            }
        }
    }

    /// Hands the turn to the longest waiter, or frees it.
    func leave() {
        let next: CheckedContinuation<Void, Never>? = lock.withLock {
            if waiting.isEmpty { running -= 1; return nil }
            return waiting.removeFirst()
        }
        next?.resume()
    }

    /// Runs `body` on a thread of its own once admitted. The caller gets its result, or
    /// `timedOut` after `timeout` seconds; a computation that overruns still finishes (CPU work
    /// is not interrupted) and holds its turn until then, so saturation stays honest.
    func run<T: Sendable>(timeout: Double, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await enter()
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            let once = ResumeOnce(c)
            let hold = holdWhileExists
            DispatchQueue.global().async {
                while let hold, FileManager.default.fileExists(atPath: hold) { usleep(5_000) }
                let result = Result { try body() }
                self.leave()
                once.resume(result)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                once.resume(.failure(APIError.timedOut(timeout)))
            }
        }
    }
}

/// Resumes a continuation the first time only (the result or the deadline, whichever is first).
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    init(_ c: CheckedContinuation<T, any Error>) { continuation = c }
    func resume(_ result: Result<T, any Error>) {
        let c: CheckedContinuation<T, any Error>? = lock.withLock { defer { continuation = nil }; return continuation }
        c?.resume(with: result)
    }
}
