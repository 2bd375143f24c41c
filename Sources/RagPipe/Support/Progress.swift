/// Progress on stderr for long stages: a redrawn line when stderr is a terminal (never in logs
/// or pipes), and a one-line summary at the end in all cases.
public final class Progress {
    let tool: String
    let interactive: Bool
    let clock = Stopwatch()
    var lastDraw = 0.0

    public init(tool: String) {
        self.tool = tool
        interactive = isTerminal(2)
    }

    public var elapsed: Double { clock.seconds }

    /// Redraws at most 10 times a second: for counters that change on every record.
    public func update(_ message: @autoclosure () -> String) {
        guard interactive else { return }
        let now = clock.seconds
        guard now - lastDraw >= 0.1 else { return }
        draw(message(), at: now)
    }

    /// Redraws now, however soon after the last line: a step of a long stage ("assigning 1M
    /// vectors") may last many seconds and must not be hidden behind the line before it.
    public func step(_ message: String) {
        guard interactive else { return }
        draw(message, at: clock.seconds)
    }

    private func draw(_ message: String, at now: Double) {
        lastDraw = now
        var text = "\r\u{1B}[K\(tool): \(message)"
        text.withUTF8 { _ = try? Syscall.writeAll(2, UnsafeRawBufferPointer($0), path: "stderr") }
    }

    public func finish(_ summary: String) {
        if interactive && lastDraw > 0 {
            var clear = "\r\u{1B}[K"
            clear.withUTF8 { _ = try? Syscall.writeAll(2, UnsafeRawBufferPointer($0), path: "stderr") }
        }
        Log.line("\(tool): \(summary)")
    }
}

/// `12,345` — thousands separators for figures people read.
public func grouped(_ n: Int) -> String {
    let digits = String(n.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return n < 0 ? "-" + out : out
}

public func rate(_ count: Double, _ seconds: Double) -> String {
    guard seconds > 0 else { return "∞" }
    return grouped(Int((count / seconds).rounded()))
}
