import RagPipeSupport

/// The `[n]`, `[n, m]` citation markers of answer text. A bracket that holds anything but
/// comma-separated integers (`[see above]`, `[]`) is text, not a marker.
enum CitationMarkers {
    enum Piece {
        case character(Character)
        /// A whole marker and the numbers it holds, in order.
        case marker([Int])
    }

    /// Calls `body` with each character outside markers and each marker, in reading order.
    static func scan(_ text: String, _ body: (Piece) -> Void) {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "[", let close = text[i...].firstIndex(of: "]"),
               let numbers = numbers(text[text.index(after: i)..<close]) {
                body(.marker(numbers))
                i = text.index(after: close)
                continue
            }
            body(.character(text[i]))
            i = text.index(after: i)
        }
    }

    static func numbers(_ inner: Substring) -> [Int]? {
        let parts = inner.split(separator: ",").map { $0.trimmingWhitespace() }
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && Int($0) != nil }) else { return nil }
        return parts.map { Int($0)! }
    }
}
