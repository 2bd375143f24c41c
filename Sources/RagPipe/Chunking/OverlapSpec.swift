/// `--overlap`: a share of `--max-tokens` (`20%`) or a token count (`51`).
public enum OverlapSpec: Equatable, Sendable {
    case percent(Double)
    case tokens(Int)

    public init?(parsing text: String) {
        if text.hasSuffix("%") {
            guard let p = Double(text.dropLast()), p >= 0, p < 100 else { return nil }
            self = .percent(p)
        } else {
            guard let t = Int(text), t >= 0 else { return nil }
            self = .tokens(t)
        }
    }

    public func tokens(maxTokens: Int) -> Int {
        switch self {
        case .percent(let p): return Int((Double(maxTokens) * p / 100).rounded())
        case .tokens(let t): return t
        }
    }
}
