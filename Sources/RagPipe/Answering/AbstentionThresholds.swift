import RagPipeRetrieval
import RagPipeSupport
import RagPipeEmbedding

/// When an answer abstains (README, "Abstention"): below `minScore` no hit is evidence enough
/// (the question is off-topic); below `minEvidence` the best sentence does not answer it (the
/// topic is there, the answer is not). Calibrated per model: a threshold measured on one model's
/// cosines means nothing for another's.
public struct AbstentionThresholds: Sendable, Equatable {
    public var minScore: Float
    /// nil: the evidence rule is off.
    public var minEvidence: Float?

    public init(minScore: Float, minEvidence: Float?) { self.minScore = minScore; self.minEvidence = minEvidence }

    /// Calibrated with all-MiniLM-L6-v2 on corpus/ with docs/calibration/: the 20 answerable
    /// questions' best hits score 0.299–0.754, the 10 unanswerable ones' 0.113–0.219. Kept for
    /// every model: a cosine below it is weak evidence for any sentence embedder seen so far.
    public static let defaultMinScore: Float = 0.25

    /// The highest threshold that abstains on at most 5% of answerable SciFact train and SQuAD
    /// questions (README, "Abstention"), by the model it was measured with.
    public static let calibratedMinEvidence: [String: Float] = ["all-MiniLM-L6-v2": 1.13]

    /// The thresholds calibrated for the model `embedder` reproduces; no evidence rule for a
    /// model nobody calibrated.
    public static func calibrated(for embedder: any Embedder) -> AbstentionThresholds {
        AbstentionThresholds(minScore: defaultMinScore,
                             minEvidence: embedder.reproducedModel.flatMap { calibratedMinEvidence[$0] })
    }

    /// These thresholds with the given values in place of the calibrated ones; refuses a value
    /// that is not a finite number (NaN passes no comparison: it would abstain on everything).
    public func overridden(minScore: Float?, minEvidence: Float?) throws -> AbstentionThresholds {
        if let minScore, !minScore.isFinite { throw RagPipeError.usage("minimum score \(minScore) is not a finite number") }
        if let minEvidence, !minEvidence.isFinite { throw RagPipeError.usage("minimum evidence \(minEvidence) is not a finite number") }
        return AbstentionThresholds(minScore: minScore ?? self.minScore, minEvidence: minEvidence ?? self.minEvidence)
    }
}
