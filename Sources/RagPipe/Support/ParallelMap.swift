import Dispatch

/// Runs `body` for 0..<count on every core, results in index order; the first error wins.
package enum ParallelMap {
    package static func run<T>(count: Int, _ body: @escaping (Int) throws -> T) throws -> [T] {
        let results = UnsafeMutableBufferPointer<Result<T, Error>?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let shared = UncheckedSendable((results, body))
        let workers = min(Cores.available, max(1, count))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let (results, body) = shared.value
            var i = w
            while i < count {
                results[i] = Result { try body(i) }
                i += workers
            }
        }
        return try results.map { try $0!.get() }
    }
}
