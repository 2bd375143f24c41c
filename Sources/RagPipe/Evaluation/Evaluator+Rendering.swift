import RagPipeSupport
import RagPipeRecords

/// What `evaluate beir` prints: a table, one row per configuration, or one JSON object per line.
extension Evaluator {
    /// The table's first lines: what was evaluated, then the column names.
    public func tableHeader(queries: Int) -> String {
        "\(retriever.index.path): \(retriever.index.count) chunks, \(retriever.index.metadata.modelID), \(queries) judged queries\n"
            + "configuration          nDCG@10  R@10    R@100   MRR@10  P50 ms  P95 ms  P99 ms\n"
    }
}

extension Evaluator.Report {
    /// One row of the table: the configuration, the mean metrics (4 decimals) and the latency
    /// percentiles in milliseconds (1 decimal).
    public var tableRow: String {
        configuration.label.padded(to: 23) + String(format4: metrics.ndcg10) + "  " + String(format4: metrics.recall10) + "  "
            + String(format4: metrics.recall100) + "  " + String(format4: metrics.mrr10) + "  "
            + String(format1: latencyP50).padded(to: 8) + String(format1: latencyP95).padded(to: 8) + String(format1: latencyP99) + "\n"
    }

    /// One line of JSON: `configuration`, `queries`, `ndcg@10`, `recall@10`, `recall@100`, `mrr@10`
    /// (shortest round-trip form) and `latency_ms` {`p50`, `p95`, `p99`}.
    public func appendJSON(to out: inout [UInt8]) {
        JSONObjectWriter.write(to: &out) { o in
            o.field("configuration", configuration.label)
            o.field("queries", queries)
            o.field("ndcg@10", metrics.ndcg10)
            o.field("recall@10", metrics.recall10)
            o.field("recall@100", metrics.recall100)
            o.field("mrr@10", metrics.mrr10)
            o.object("latency_ms") { o in
                o.field("p50", latencyP50)
                o.field("p95", latencyP95)
                o.field("p99", latencyP99)
            }
        }
        out.append(0x0A)
    }
}
