import RagPipeSupport
import RagPipeAnswering

/// How often each abstention rule abstains on questions asked with their relevant documents
/// present (answerable) and removed (unanswerable): at the answerer's threshold, and at the
/// threshold that abstains on at most 5% of the answerable ones (README, "Abstention").
public struct AbstentionReport: Sendable {
    /// What was asked, in the plural: "queries" (BEIR) or "questions" (SQuAD).
    public var label: String
    /// The best hit's cosine (the `--min-score` rule), present and removed.
    public var cosine: (present: [Float], removed: [Float])
    /// The answer's evidence (the `--min-evidence` rule), present and removed.
    public var evidence: (present: [Float], removed: [Float])
    /// The answerer's thresholds, reported as the defaults.
    public var thresholds: AbstentionThresholds

    public init(label: String, cosine: (present: [Float], removed: [Float]), evidence: (present: [Float], removed: [Float]),
                thresholds: AbstentionThresholds) {
        self.label = label; self.cosine = cosine; self.evidence = evidence; self.thresholds = thresholds
    }

    public init(label: String, cosine: (present: [Float], removed: [Float]), evidence: (present: [Float], removed: [Float]),
                answerer: ExtractiveAnswerer) {
        self.init(label: label, cosine: cosine, evidence: evidence,
                  thresholds: AbstentionThresholds(minScore: answerer.minScore, minEvidence: answerer.minEvidence))
    }

    /// A heading line, then one line per rule.
    public var text: String {
        func pct(_ x: Double) -> String { String(format1: x * 100) + "%" }
        func rates(_ c: AbstentionCalibration) -> String {
            "abstains on \(pct(c.abstainAnswerable)) of answerable, \(pct(c.abstainUnanswerable)) of unanswerable"
        }
        var text = "abstention (\(cosine.present.count) \(label), each with its relevant documents present and removed):\n"
        for (rule, option, values, current) in [
            ("best hit's cosine", "--min-score", cosine, Optional(thresholds.minScore)),
            ("answer's evidence", "--min-evidence", evidence, thresholds.minEvidence),
        ] {
            let calibrated = AbstentionCalibration(answerable: values.present, unanswerable: values.removed)
            text += "  \(rule) below the threshold: "
            if let current {
                text += "at \(option) \(String(format3: Double(current))) (default) "
                    + rates(AbstentionCalibration(threshold: current, answerable: values.present, unanswerable: values.removed)) + "; "
            }
            text += "at \(String(format3: Double(calibrated.threshold))) (≤ 5% of answerable) " + rates(calibrated) + "\n"
        }
        return text
    }
}

extension Evaluator {
    /// `abstentionEvidence` of the judged queries, as the report `evaluate beir --abstention` prints.
    public func abstentionReport(queries: [(id: String, text: String)], qrels: [String: [String: Int]], k: Int) throws -> AbstentionReport {
        let e = try abstentionEvidence(queries: queries, qrels: qrels, k: k)
        return AbstentionReport(label: "queries", cosine: e.cosine, evidence: e.answer, answerer: answerer)
    }
}
