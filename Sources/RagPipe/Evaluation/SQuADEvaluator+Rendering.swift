import RagPipeSupport
import RagPipeRetrieval

/// What `evaluate squad` prints.
extension SQuADEvaluator.Report {
    /// What the default answer is held to, from the answerer's settings: "default (≤ 3 sentences, ≤ 80 words)".
    public var defaultAnswerLabel: String {
        "default (≤ \(maxSentences) sentence\(maxSentences == 1 ? "" : "s"), ≤ \(maxWords) words)"
    }

    /// The abstention measures of the questions, with their gold paragraph present and removed.
    public var abstention: AbstentionReport {
        AbstentionReport(label: "questions", cosine: (cosineAnswerable, cosineRemoved),
                         evidence: (answerEvidenceAnswerable, answerEvidenceRemoved), thresholds: thresholds)
    }

    /// The report: the index, paragraph recall per retrieval mode (a mode the index cannot run is
    /// shown as such, not as a zero), answer quality, then abstention.
    public var text: String {
        func f(_ x: Double) -> String { String(format3: x) }
        var text = "\(index): \(paragraphs) paragraphs, \(modelID), \(questions) questions\n"
        text += "paragraph retrieval    R@1    R@5\n"
        for mode in RetrievalMode.allCases {
            guard let at1 = recallAt1[mode.rawValue], let at5 = recallAt5[mode.rawValue] else {
                text += mode.rawValue.padded(to: 21) + "-      -      (no BM25 sections in the index)\n"
                continue
            }
            text += mode.rawValue.padded(to: 21) + f(at1) + "  " + f(at5) + "\n"
        }
        if let approximateRecall { text += approximateRecall.text }
        text += "answer (\(answerMode.rawValue) hits)".padded(to: 23) + "contains an accepted answer   mean words\n"
        text += defaultAnswerLabel.padded(to: 38) + f(containsDefault) + "   " + String(format1: meanWordsDefault) + "\n"
        text += "one sentence".padded(to: 38) + f(containsOneSentence) + "   " + String(format1: meanWordsOneSentence) + "\n"
        return text + abstention.text
    }
}
