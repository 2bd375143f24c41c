import CKernels
import Dispatch

/// The one way the library runs work on several cores. Bodies run concurrently: each must write
/// only its own part of any shared buffer (its worker's slot, its item's rows), which is why
/// they need not be `@Sendable`; that promise is checked here once instead of at every call site.
package enum Parallel {
    /// Calls `body(worker)` for worker 0..<workers, concurrently; waits for all.
    package static func onWorkers(_ workers: Int, _ body: (Int) -> Void) {
        guard workers > 1 else {
            if workers == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { w in shared.value(w) }
        }
    }

    /// `onWorkers` for bodies that throw: the first error (by worker number) is rethrown after
    /// every worker has finished.
    package static func forEachWorker(_ workers: Int, _ body: (Int) throws -> Void) throws {
        let failures = UnsafeMutableBufferPointer<Error?>.allocate(capacity: max(1, workers))
        failures.initialize(repeating: nil)
        defer { failures.deinitialize(); failures.deallocate() }
        let slots = UncheckedSendable(failures)
        onWorkers(workers) { w in
            do { try body(w) } catch { slots.value[w] = error }
        }
        if let error = failures.lazy.compactMap({ $0 }).first { throw error }
    }

    /// Calls `body(worker, item)` for every item 0..<count on `workers` workers; each worker takes
    /// the next item when it is free (callers order items longest first to balance the load).
    package static func forEachItem(_ count: Int, workers: Int = Cores.available, _ body: (_ worker: Int, _ item: Int) throws -> Void) throws {
        let next = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        next.initialize(to: 0)
        defer { next.deallocate() }
        let cursor = UncheckedSendable(next)
        try forEachWorker(min(workers, count)) { w in
            while true {
                let item = rp_take_next(cursor.value)
                guard item < count else { return }
                try body(w, item)
            }
        }
    }

    /// `body(i)` for 0..<count on every core, results in index order.
    package static func map<T>(count: Int, workers: Int = Cores.available, _ body: (Int) -> T) -> [T] {
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        let slots = UncheckedSendable(results)
        let n = min(workers, max(1, count))
        onWorkers(n) { w in
            var i = w
            while i < count {
                slots.value[i] = body(i)
                i += n
            }
        }
        return results.map { $0! }     // every slot was written: worker w wrote i ≡ w (mod n)
    }

    /// The same for bodies that throw; the first error (by index) is rethrown after all finish.
    package static func map<T>(count: Int, workers: Int = Cores.available, _ body: (Int) throws -> T) throws -> [T] {
        let results: [Result<T, any Error>] = map(count: count, workers: workers) { i in Result { try body(i) } }
        return try results.map { try $0.get() }
    }
}
