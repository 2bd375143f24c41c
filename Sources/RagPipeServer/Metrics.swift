import Foundation

/// Counters, gauges and histograms in Prometheus's text exposition format (version 0.0.4), for
/// `GET /metrics`. Written here rather than through a metrics backend: a dozen series with fixed
/// labels, each updated under one lock, and the text is exactly what the README documents.
final class Metrics: @unchecked Sendable {
    /// Latency buckets in seconds: P50/P95/P99 come from `histogram_quantile` over them.
    static let latencyBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    static let shareBuckets: [Double] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]

    struct Histogram {
        let bounds: [Double]
        var counts: [UInt64]
        var sum = 0.0
        var count: UInt64 = 0
        init(bounds: [Double]) { self.bounds = bounds; counts = Array(repeating: 0, count: bounds.count) }
        mutating func observe(_ x: Double) {
            for (i, b) in bounds.enumerated() where x <= b { counts[i] += 1 }
            sum += x
            count += 1
        }
    }

    private struct Family {
        let help: String
        let type: String
        var counters: [String: Double] = [:]        // labels ("a=\"b\",c=\"d\"") → value
        var histograms: [String: Histogram] = [:]
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var order: [String] = []

    func declare(_ name: String, _ type: String, _ help: String) {
        lock.withLock {
            guard families[name] == nil else { return }
            families[name] = Family(help: help, type: type)
            order.append(name)
        }
    }

    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        pairs.map { "\($0.key)=\"\(escaped($0.value))\"" }.joined(separator: ",")
    }

    private static func escaped(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    func increment(_ name: String, _ labels: KeyValuePairs<String, String> = [:], by x: Double = 1) {
        let l = Self.labels(labels)
        lock.withLock { families[name]?.counters[l, default: 0] += x }
    }

    func set(_ name: String, _ x: Double, labels: KeyValuePairs<String, String> = [:]) {
        let l = Self.labels(labels)
        lock.withLock { families[name]?.counters[l] = x }
    }

    func observe(_ name: String, _ x: Double, labels: KeyValuePairs<String, String> = [:], buckets: [Double] = latencyBuckets) {
        let l = Self.labels(labels)
        lock.withLock { families[name]?.histograms[l, default: Histogram(bounds: buckets)].observe(x) }
    }

    /// The exposition text: `# HELP`, `# TYPE`, then each series, labels sorted.
    func render() -> String {
        lock.withLock {
            var out = ""
            for name in order {
                guard let f = families[name] else { continue }
                out += "# HELP \(name) \(f.help)\n# TYPE \(name) \(f.type)\n"
                for (labels, value) in f.counters.sorted(by: { $0.key < $1.key }) {
                    out += "\(name)\(labels.isEmpty ? "" : "{\(labels)}") \(Self.number(value))\n"
                }
                for (labels, h) in f.histograms.sorted(by: { $0.key < $1.key }) {
                    let prefix = labels.isEmpty ? "" : labels + ","
                    for (i, b) in h.bounds.enumerated() {
                        out += "\(name)_bucket{\(prefix)le=\"\(Self.number(b))\"} \(h.counts[i])\n"
                    }
                    out += "\(name)_bucket{\(prefix)le=\"+Inf\"} \(h.count)\n"
                    out += "\(name)_sum\(labels.isEmpty ? "" : "{\(labels)}") \(Self.number(h.sum))\n"
                    out += "\(name)_count\(labels.isEmpty ? "" : "{\(labels)}") \(h.count)\n"
                }
            }
            return out
        }
    }

    static func number(_ x: Double) -> String {
        if x == x.rounded() && abs(x) < 1e15 { return String(Int64(x)) }
        return String(x)
    }
}
