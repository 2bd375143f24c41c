#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic wall-clock timing.
public struct Stopwatch {
    private var start: timespec

    public init() {
        start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
    }

    public var seconds: Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec - start.tv_sec) + Double(now.tv_nsec - start.tv_nsec) / 1e9
    }

    public var milliseconds: Double { seconds * 1000 }

    public mutating func restart() { clock_gettime(CLOCK_MONOTONIC, &start) }
}
